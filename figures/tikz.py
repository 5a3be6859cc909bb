"""TikZ diagrams drawn from real modules, so their numbers cannot go stale."""

import re

from figures.style import PALETTE
from scratchllm.model import SwiGLU

TIKZ_LIBRARIES = ("positioning", "arrows.meta", "fit", "calc", "shapes.misc", "backgrounds")


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
        # Each line ends in %: a bare line end inside the template's
        # adjustbox is a space, which widens the figure by a few points.
        return "\n".join(
            rf"\definecolor{{house{name}}}{{HTML}}{{{PALETTE[name][1:]}}}%"
            for name in used
            if name in PALETTE
        )

    def environment(self):
        options = f"[\n{self.options}\n]" if self.options else ""
        return rf"\begin{{tikzpicture}}{options}" + "\n" + self.body + "\n" + r"\end{tikzpicture}"

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
# blue, parameter-free arithmetic in orange, dashed grey groups around what
# repeats or runs in parallel, small circles for residual sums.
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
  wide/.style={minimum width=64mm},
  group/.style={draw=housegray, dashed, rounded corners=4pt, fill=houselight!40,
                inner sep=3mm},
  sum/.style={draw=housegray!80!black, circle, fill=white, inner sep=0pt,
              minimum size=4.5mm, font=\footnotesize},
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
  \node[group, fit=(q) (v) (vshape) (perhead)] {{}};
\end{{scope}}
"""
    return TikZPicture(body, _STYLES)


def _mlp_label(mlp):
    """The MLP's kind and widths, read from its Linear layers."""
    if isinstance(mlp, SwiGLU):
        up, down = mlp.gate_proj, mlp.down_proj
        kind, note = "SwiGLU", r"SiLU(gate) $\odot$ up, "
    else:
        up, down = mlp.c_fc, mlp.c_proj
        kind, note = f"{type(mlp.gelu).__name__} MLP", ""
    widths = rf"${up.in_features} \to {up.out_features} \to {down.out_features}$"
    return f"{kind} {widths}", note


def gpt_architecture_diagram(model, seq_len=None):
    """Draw a GPT from embeddings to logits with its real sizes for seq_len
    tokens (default: the model's block_size).

    Every number and every kind of part (LayerNorm or RMSNorm, GELU or
    SwiGLU, learned or rotary positions, tied or separate output layer) is
    read from the model's modules; the batch dimension is left out.
    """
    wte, blocks = model.transformer.wte, model.transformer.h
    block = blocks[0]
    V, C = wte.num_embeddings, wte.embedding_dim
    max_len = model.config.block_size
    T = max_len if seq_len is None else seq_len
    if not 0 < T <= max_len:
        raise ValueError(f"seq_len must be in 1..{max_len}, got {T}")
    H = block.attn.n_head
    d = block.attn.n_embd // H
    tied = model.lm_head.weight is wte.weight
    head = model.lm_head
    mlp_kind, mlp_note = _mlp_label(block.mlp)
    rope = block.attn.rotary is not None

    def norm(name, module):
        return (
            rf"\texttt{{{name}}}: {type(module).__name__} \quad "
            rf"{{\footnotesize {_count(_params(module))} parameters}}"
        )

    ln_1, ln_2 = norm(r"ln\_1", block.ln_1), norm(r"ln\_2", block.ln_2)
    ln_f = norm(r"ln\_f", model.transformer.ln_f)
    shape = _sizes(T, C)
    p = model.transformer.drop.p
    if "wpe" in model.transformer:
        wpe = model.transformer.wpe
        embed = rf"""
\node[tensor] (ids) at (-28mm, 0)
  {{token ids \quad {{\footnotesize $T = {T}$}}}};
\node[tensor] (pos) at (28mm, 0)
  {{positions \quad {{\footnotesize $0, \dots, {T - 1}$}}}};
\node[layer, below=of ids] (wte)
  {{\texttt{{wte}}: Embedding {_sizes(V, C)}\\
   {{\footnotesize {_count(_params(wte))} parameters}}}};
\node[layer, below=of pos] (wpe)
  {{\texttt{{wpe}}: Embedding {_sizes(wpe.num_embeddings, wpe.embedding_dim)}\\
   {{\footnotesize {_count(_params(wpe))} parameters}}}};
\node[sum] (add0) at ($(wte.south)!0.5!(wpe.south) + (0, -6mm)$) {{$+$}};
\draw[flow] (ids) -- (wte);
\draw[flow] (pos) -- (wpe);
\draw[flow] (wte) |- node[dims, pos=0.25, left] {{{shape}}} (add0);
\draw[flow] (wpe) |- node[dims, pos=0.25, right] {{{shape}}} (add0);
\node[op, wide, below=of add0] (drop)
  {{\texttt{{drop}}: dropout, $p = {p:g}$}};
\draw[flow] (add0) -- (drop);"""
    else:
        embed = rf"""
\node[tensor] (ids) {{token ids \quad {{\footnotesize $T = {T}$}}}};
\node[layer, below=of ids] (wte)
  {{\texttt{{wte}}: Embedding {_sizes(V, C)}\\
   {{\footnotesize {_count(_params(wte))} parameters}}}};
\node[dims, right=4mm of wte, align=left]
  {{no position table:\\RoPE rotates $q, k$\\in attention}};
\node[op, wide, below=6mm of wte] (drop)
  {{\texttt{{drop}}: dropout, $p = {p:g}$}};
\draw[flow] (ids) -- (wte);
\draw[flow] (wte) -- node[dims, right] {{{shape}}} (drop);"""

    rope_note = ", RoPE" if rope else ""
    attn_note = (
        rf"{H} heads $\times$ {d}{rope_note}, "
        f"{_count(_params(block.attn))} parameters"
    )
    head_params = (
        r"tied to \texttt{wte}: no parameters of its own"
        if tied
        else f"{_count(_params(head))} parameters"
    )
    per_block = _count(_params(block))
    body = (
        embed
        + rf"""
\node[layer, wide, below=11mm of drop] (ln1) {{{ln_1}}};
\node[layer, wide, below=of ln1] (attn)
  {{\texttt{{attn}}: causal self-attention\\
   {{\footnotesize {attn_note}}}}};
\node[sum, below=of attn] (add1) {{$+$}};
\node[layer, wide, below=of add1] (ln2) {{{ln_2}}};
\node[layer, wide, below=of ln2] (mlp)
  {{\texttt{{mlp}}: {mlp_kind}\\
   {{\footnotesize {mlp_note}{_count(_params(block.mlp))} parameters}}}};
\node[sum, below=of mlp] (add2) {{$+$}};
\node[layer, wide, below=9mm of add2] (lnf) {{{ln_f}}};
\node[layer, wide, below=of lnf] (head)
  {{\texttt{{lm\_head}}: Linear ${head.in_features} \to {head.out_features}$\\
   {{\footnotesize {head_params}}}}};
\node[tensor, below=of head] (logits)
  {{logits \quad {{\footnotesize $T \times V = {T} \times {head.out_features}$}}}};

\coordinate (res1) at ($(ln1.north) + (0, 3.5mm)$);
\coordinate (res2) at ($(add1.south)!0.5!(ln2.north)$);
\coordinate (rail) at ($(attn.west) + (-6mm, 0)$);
\node[dims, anchor=north west, align=left] (repeat)
  at ($(ln1.north east) + (4mm, 0)$)
  {{$n_{{\mathrm{{layer}}}} = {len(blocks)}$ blocks\\of {per_block}\\parameters each}};

\draw[flow] (drop) -- node[dims, pos=0.2, right] {{{shape}}} (ln1);
\draw[flow] (ln1) -- (attn);
\draw[flow] (attn) -- (add1);
\draw[flow] (add1) -- (ln2);
\draw[flow] (ln2) -- (mlp);
\draw[flow] (mlp) -- (add2);
\draw[flow] (res1) -- (res1 -| rail) -- (add1 -| rail) -- (add1);
\draw[flow] (res2) -- (res2 -| rail) -- (add2 -| rail) -- (add2);
\draw[flow] (add2) -- node[dims, pos=0.6, right] {{{shape}}} (lnf);
\draw[flow] (lnf) -- (head);
\draw[flow] (head) -- (logits);
\node[dims, rotate=90, anchor=north] at ($(res1 -| rail)!0.5!(add1 -| rail)$)
  {{residual stream}};
\node[dims, anchor=west] at ($(logits.east) + (4mm, 0)$)
  {{{_count(_params(model))} parameters in all}};

\begin{{scope}}[on background layer]
  \node[group, fit=(res1) (rail) (ln1) (attn) (mlp) (add2) (repeat)] {{}};
\end{{scope}}
"""
    )
    return TikZPicture(body, _STYLES)
