"""TikZ diagrams drawn from real modules, so their numbers cannot go stale."""

import re

from figures.style import PALETTE

TIKZ_LIBRARIES = ("positioning", "arrows.meta", "fit", "calc", "shapes.misc",
                  "backgrounds")


class TikZPicture:
    """TikZ source that notebooks and the book compiler both understand.

    The LaTeX form defines every house colour it uses, so it can be pasted
    into any document that loads TikZ and the libraries in TIKZ_LIBRARIES.
    """

    def __init__(self, body, options=""):
        self.body = body.strip("\n")
        self.options = options.strip("\n")

    def colour_definitions(self):
        used = sorted(set(re.findall(r"house([a-z]+)", self.environment())))
        return "\n".join(
            rf"\definecolor{{house{name}}}{{HTML}}{{{PALETTE[name][1:]}}}"
            for name in used if name in PALETTE
        )

    def environment(self):
        options = f"[\n{self.options}\n]" if self.options else ""
        return (rf"\begin{{tikzpicture}}{options}" + "\n" + self.body
                + "\n" + r"\end{tikzpicture}")

    def _repr_latex_(self):
        return self.colour_definitions() + "\n" + self.environment()

    def __str__(self):
        return self._repr_latex_()

    def __repr__(self):
        return f"<TikZPicture: {len(self.body.splitlines())} lines>"


def _count(n):
    """Thousands separated with thin spaces, the typographic convention."""
    return f"{n:,}".replace(",", r"\,")


def _sizes(*sizes):
    return "$" + r"\times".join(str(s) for s in sizes) + "$"


def _params(module):
    return sum(p.numel() for p in module.parameters())


# Styles shared by the block diagrams: data in plain boxes, learned layers in
# blue, parameter-free attention arithmetic in orange.
_STYLES = r"""
  node distance=4.5mm and 6mm,
  >={Stealth[length=2mm]},
  every node/.style={font=\small, align=center},
  tensor/.style={draw=housegray, rounded rectangle, fill=white,
                 inner xsep=6pt, inner ysep=3pt, minimum height=7mm},
  layer/.style={draw=houseblue, fill=houseblue!12, rounded corners=2pt,
                minimum width=46mm, minimum height=8mm},
  op/.style={draw=houseorange, fill=houseorange!14, rounded corners=2pt,
             minimum width=46mm, minimum height=8mm},
  dims/.style={font=\footnotesize, text=housegray},
  flow/.style={->, draw=housegray!80!black, thick}
"""


def attention_block_diagram(module, seq_len):
    """Draw a CausalSelfAttention block with its real sizes for seq_len tokens.

    Every number comes from the module: the Linear layers' features, the
    head count and the parameter counts.
    """
    max_len = module.mask.size(-1)
    if not 0 < seq_len <= max_len:
        raise ValueError(f"seq_len must be in 1..{max_len}, got {seq_len}")
    T, C = seq_len, module.c_attn.in_features
    H = module.n_head
    d = C // H
    qkv_out = module.c_attn.out_features
    proj_in, proj_out = module.c_proj.in_features, module.c_proj.out_features


    body = rf"""
\node[tensor] (x)
  {{input $x$ \quad {{\footnotesize $T \times C = {T} \times {C}$}}}};
\node[layer, below=of x] (attn)
  {{\texttt{{c\_attn}}: Linear ${C} \to {qkv_out}$\\
   {{\footnotesize {_count(_params(module.c_attn))} parameters}}}};
\node[tensor, below=8mm of attn] (k) {{$K$}};
\node[tensor, left=24mm of k] (q) {{$Q$}};
\node[tensor, right=24mm of k] (v) {{$V$}};
\node[dims, below=0.5mm of q] (qshape) {{{_sizes(H, T, d)}}};
\node[dims, below=0.5mm of k] (kshape) {{{_sizes(H, T, d)}}};
\node[dims, below=0.5mm of v] (vshape) {{{_sizes(H, T, d)}}};
\node[op, below=9mm of k] (scores)
  {{scores $QK^{{\top}}/\sqrt{{d_k}} + M$\\
   {{\footnotesize causal mask $M$; {_sizes(H, T, T)}}}}};
\node[op, below=of scores] (softmax)
  {{softmax over keys\\{{\footnotesize weights, {_sizes(H, T, T)}}}}};
\node[op, below=of softmax] (mix)
  {{weights $\cdot\, V$\\{{\footnotesize {_sizes(H, T, d)}}}}};
\node[dims, anchor=north west, align=left] (perhead)
  at ($(q.west |- mix.south) + (0, -1mm)$)
  {{$n_{{\mathrm{{head}}}} = {H}$ heads\\in parallel}};
\node[tensor, below=15mm of mix] (merge)
  {{merge heads \quad {{\footnotesize {_sizes(T, H * d)}}}}};
\node[layer, below=of merge] (proj)
  {{\texttt{{c\_proj}}: Linear ${proj_in} \to {proj_out}$\\
   {{\footnotesize {_count(_params(module.c_proj))} parameters}}}};
\node[tensor, below=of proj] (y)
  {{output $y$ \quad {{\footnotesize {_sizes(T, proj_out)}}}}};

\draw[flow] (x) -- (attn);
\draw[flow] (attn.south) -- ++(0,-2.5mm) -| (q);
\draw[flow] (attn) -- (k);
\draw[flow] (attn.south) -- ++(0,-2.5mm) -| (v);
\draw[flow] (qshape) |- (scores.west);
\draw[flow] (kshape) -- (scores);
\draw[flow] (vshape) |- (mix.east);
\draw[flow] (scores) -- (softmax);
\draw[flow] (softmax) -- (mix);
\draw[flow] (mix) -- (merge);
\draw[flow] (merge) -- (proj);
\draw[flow] (proj) -- (y);

\begin{{scope}}[on background layer]
  \node[draw=housegray, dashed, rounded corners=4pt, fill=houselight!40,
        inner sep=3mm, fit=(q) (v) (vshape) (perhead)] {{}};
\end{{scope}}
"""
    return TikZPicture(body, _STYLES)
