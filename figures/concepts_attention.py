"""Conceptual figures for the attention chapter, drawn from the tensors and
the module the chapter computes: in TikZ, one query's row of attention with
the numbers in its cells, the causal mask then the softmax that renormalises
each row, and the split of the channels into heads and their merge, with
the module's real sizes; in matplotlib, an untrained model's weights against
a uniform row.

As in ``figures.concepts_text``, every box sits at a computed position and
a figure wider than the text block raises ValueError instead of being
scaled down below 7 pt.
"""

import numpy as np

from figures.attention import _to_numpy
from figures.concepts_text import CHAR_MM, TEXT_WIDTH_MM, tex_escape, visible
from figures.style import PALETTE, figure
from figures.tikz import TikZPicture, _sizes

ROW_MM = 4.6  # from one row of numbers to the next
CELL_MM = 8.0  # one number's cell in a matrix
BAR_MM = 20.0  # the bar of a weight of one
GAP_MM = 2.0  # between heads, and between a label column and what it labels
# One colour per head, cycled: the same head has the same colour split and merged.
HEAD_FILLS = ("houseblue!45", "houseorange!50", "housegreen!45", "housered!40", "housepurple!45")

_STYLES = r"""
  >={Stealth[length=1.6mm]},
  every node/.style={inner sep=0pt, outer sep=0pt},
  cell/.style={draw=housegray!50, minimum height=4.2mm, font=\scriptsize, anchor=west},
  num/.style={font=\scriptsize, anchor=east},
  key/.style={font=\footnotesize\ttfamily, anchor=east},
  head/.style={font=\footnotesize, anchor=south},
  note/.style={font=\footnotesize, text=housegray},
  sub/.style={font=\scriptsize, text=housegray},
  dims/.style={font=\footnotesize, text=housegray, anchor=north},
  flow/.style={->, draw=housegray!80!black, thick},
  band/.style={fill=houseorange!15, draw=none}
"""


def _label(token: str) -> str:
    return tex_escape(visible(token.encode()))


def _check_width(width: float, what: str, hint: str):
    if width > TEXT_WIDTH_MM:
        raise ValueError(
            f"{what} is {width:.0f} mm wide, more than the text's {TEXT_WIDTH_MM:.0f} mm: {hint}"
        )


def _weight_fill(w: float) -> str:
    """A cell's shade: darker for a larger weight, light enough to read on."""
    return f"houseblue!{5 + round(45 * max(0.0, min(1.0, w)))}"


def _score_format(values):
    """A function writing a score: two decimals for scores of order one, one
    for larger ones; a true minus sign, and none on a score that rounds to
    zero."""
    digits = 1 if max(abs(v) for v in values) >= 10 else 2

    def write(v: float) -> str:
        text = f"{v:.{digits}f}"
        if text.lstrip("-").strip("0.") == "":
            text = text.lstrip("-")
        return text.replace("-", "\N{MINUS SIGN}")

    return write


def query_attention_figure(tokens, query: int, variants) -> TikZPicture:
    """How the token at position ``query`` spreads its attention over every
    key: one row of tokens, and for each variant ``(title, scores, weights)``
    (``title`` in LaTeX, ``scores`` and ``weights`` the query's rows, one
    value per key) the score, the weight in a shaded cell and a bar as long
    as the weight.  The query's own row is banded."""
    T = len(tokens)
    if not 0 <= query < T:
        raise ValueError(f"query must be a position in 0..{T - 1}, got {query}")
    rows = []
    for title, scores, weights in variants:
        scores, weights = [float(s) for s in scores], [float(w) for w in weights]
        if len(scores) != T or len(weights) != T:
            raise ValueError(f"{title}: a score and a weight per token are needed, {T} each")
        rows.append((title, scores, weights))
    key_mm = max(len(visible(t.encode())) for t in tokens) * CHAR_MM
    block_mm = 11 + CELL_MM + 2 + BAR_MM + 4  # score, weight cell, bar, gap
    _check_width(key_mm + GAP_MM + block_mm * len(rows), "the row of attention", "fewer variants")

    body = [
        rf"\fill[band] ({-key_mm - GAP_MM:.2f}mm, {-query * ROW_MM - 2.5:.2f}mm) rectangle "
        rf"({block_mm * len(rows) - 4:.2f}mm, {-query * ROW_MM + 2.5:.2f}mm);"
    ]
    for j, token in enumerate(tokens):
        body.append(rf"\node[key] at ({-GAP_MM:.2f}mm, {-j * ROW_MM:.2f}mm) {{{_label(token)}}};")
    for v, (title, scores, weights) in enumerate(rows):
        x0 = v * block_mm
        form = _score_format(scores)
        body += [
            rf"\node[head] at ({x0 + block_mm / 2 - 2:.2f}mm, 6.5mm) {{{title}}};",
            rf"\node[sub, anchor=south east] at ({x0 + 9.5:.2f}mm, 2.6mm) {{score}};",
            rf"\node[sub, anchor=south] at ({x0 + 11 + CELL_MM / 2:.2f}mm, 2.6mm) {{weight}};",
        ]
        for j, (s, w) in enumerate(zip(scores, weights, strict=True)):
            y = -j * ROW_MM
            body.append(rf"\node[num] at ({x0 + 10:.2f}mm, {y:.2f}mm) {{{form(s)}}};")
            body.append(
                rf"\node[cell, minimum width={CELL_MM}mm, fill={_weight_fill(w)}] "
                rf"at ({x0 + 11:.2f}mm, {y:.2f}mm) {{{w:.2f}}};"
            )
            if w >= 0.005:  # a bar under half a percent would not show
                x1 = x0 + 13 + CELL_MM
                body.append(
                    rf"\fill[houseblue!70] ({x1:.2f}mm, {y - 1.3:.2f}mm) rectangle "
                    rf"({x1 + BAR_MM * w:.2f}mm, {y + 1.3:.2f}mm);"
                )
    body.append(
        rf"\node[note, anchor=north west] at ({-key_mm - GAP_MM:.2f}mm, "
        rf"{-(T - 1) * ROW_MM - 3.5:.2f}mm) {{query \texttt{{{_label(tokens[query])}}}, "
        rf"position {query}; each weight column sums to one}};"
    )
    return TikZPicture("\n".join(body), _STYLES)


def mask_figure(tokens, scores, weights, n: int) -> TikZPicture:
    """The causal mask and the softmax on the first ``n`` tokens: the scaled
    scores with the future set to minus infinity, and the weights the
    softmax makes of each row, future weights exactly zero and every row
    summing to one, its sum in a last column.  ``scores`` and ``weights``
    are the chapter's (T, T) matrices, the weights computed with the mask."""
    T = len(tokens)
    if not 1 <= n <= T:
        raise ValueError(f"n must be in 1..{T}, got {n}")
    S = [[float(v) for v in row[:n]] for row in scores[:n]]
    W = [[float(v) for v in row[:n]] for row in weights[:n]]
    key_mm = max(len(visible(t.encode())) for t in tokens[:n]) * CHAR_MM + 4
    matrix_mm = n * CELL_MM
    arrow_mm = 16.0
    right = matrix_mm + arrow_mm
    _check_width(
        key_mm + GAP_MM + 2 * matrix_mm + arrow_mm + 9, "the masked matrices", "use a smaller n"
    )
    form = _score_format([v for i, row in enumerate(S) for v in row[: i + 1]])

    body = []
    for i in range(n):
        y = -i * ROW_MM
        body.append(
            rf"\node[key] at ({-GAP_MM:.2f}mm, {y:.2f}mm) "
            rf"{{{_label(tokens[i])}\enspace\textrm{{\scriptsize\color{{housegray}} {i}}}}};"
        )
        for j in range(n):
            future = j > i
            left = (
                rf"\node[cell, minimum width={CELL_MM}mm, fill="
                + ("housegray!25" if future else "white")
                + rf"] at ({j * CELL_MM:.2f}mm, {y:.2f}mm) "
                + (r"{$-\infty$};" if future else f"{{{form(S[i][j])}}};")
            )
            w = W[i][j]
            shown = (
                r"{\color{housegray}0}" if future and w == 0 else f"{w:.2f}"
            )  # an exact zero, as the softmax of minus infinity is
            fill = "housegray!25" if future else _weight_fill(w)
            body += [
                left,
                rf"\node[cell, minimum width={CELL_MM}mm, fill={fill}] "
                rf"at ({right + j * CELL_MM:.2f}mm, {y:.2f}mm) {{{shown}}};",
            ]
        body.append(
            rf"\node[num] at ({right + matrix_mm + 8:.2f}mm, {y:.2f}mm) {{{sum(W[i]):.2f}}};"
        )
    for j in range(n):
        for x0 in (0, right):
            body.append(
                rf"\node[note, anchor=south] at ({x0 + (j + 0.5) * CELL_MM:.2f}mm, 2.6mm) {{{j}}};"
            )
    mid = -(n - 1) * ROW_MM / 2
    body += [
        rf"\node[head] at ({matrix_mm / 2:.2f}mm, 6.5mm) {{scores $QK^\top/\sqrt{{d_k}} + M$}};",
        rf"\node[head] at ({right + matrix_mm / 2:.2f}mm, 6.5mm) {{weights}};",
        rf"\node[note, anchor=south east] at ({right + matrix_mm + 8:.2f}mm, 2.6mm) {{$\Sigma$}};",
        rf"\draw[flow] ({matrix_mm + 2:.2f}mm, {mid:.2f}mm) -- ({right - 2:.2f}mm, {mid:.2f}mm)"
        r" node[midway, above=1mm, note] {softmax} node[midway, below=1mm, note] {each row};",
        rf"\node[note, anchor=north west] at ({-key_mm - GAP_MM:.2f}mm, "
        rf"{-(n - 1) * ROW_MM - 3.5:.2f}mm) {{row $i$: query $i$; column $j$: key $j$}};",
    ]
    return TikZPicture("\n".join(body), _STYLES)


def _tensor(x, y, width, height, fills, name):
    """A (T, C) tensor as a rectangle whose columns are cut into slices of
    the given fills, left to right; ``name`` is the whole rectangle's."""
    lines, step = [], width / len(fills)
    for k, fill in enumerate(fills):
        lines.append(
            rf"\fill[{fill}] ({x + k * step:.2f}mm, {y:.2f}mm) rectangle "
            rf"({x + (k + 1) * step:.2f}mm, {y - height:.2f}mm);"
        )
    lines.append(
        rf"\draw[housegray] ({x:.2f}mm, {y:.2f}mm) rectangle ({x + width:.2f}mm, {y - height:.2f}mm);"
    )
    lines.append(rf"\coordinate ({name}) at ({x + width / 2:.2f}mm, {y - height / 2:.2f}mm);")
    return lines


def head_split_figure(module, seq_len: int, tensor_mm: float = 24.0) -> TikZPicture:
    """The queries of ``module`` (a CausalSelfAttention) for ``seq_len``
    tokens: their C channels cut into n_head slices of d_k, each slice a
    head of its own (``split_heads``), each head's output, the outputs glued
    back side by side (``merge_heads``) and mixed by ``c_proj``.  Every size
    is read from the module; the rectangles have the tensors' proportions."""
    T, C, H = seq_len, module.c_attn.in_features, module.n_head
    d = C // H
    height = max(6.0, min(20.0, tensor_mm * T / C))
    fills = [HEAD_FILLS[h % len(HEAD_FILLS)] for h in range(H)]
    gap = 18.0  # the arrows between tensors
    heads_x = 2 * tensor_mm + 2 * gap
    heads_mm = tensor_mm + (H - 1) * GAP_MM
    _check_width(heads_x + heads_mm, "the head split", "use fewer heads")
    slice_mm = tensor_mm / H
    low = -height - 20.0  # the second row: the heads' outputs, merged, projected

    body = _tensor(0, 0, tensor_mm, height, fills, "q")
    for h in range(H):
        x = heads_x + h * (slice_mm + GAP_MM)
        body += _tensor(x, 0, slice_mm, height, [fills[h]], f"h{h}")
        body += _tensor(x, low, slice_mm, height, [fills[h]], f"o{h}")
        body.append(rf"\node[note, anchor=south] at ({x + slice_mm / 2:.2f}mm, 0.8mm) {{{h}}};")
    body += _tensor(tensor_mm + gap, low, tensor_mm, height, fills, "m")
    body += _tensor(0, low, tensor_mm, height, ["housegray!35"], "y")
    mid_heads = heads_x + heads_mm / 2
    cut = r"\draw[white, line width=0.6pt] ({x:.2f}mm, {y0:.2f}mm) -- ({x:.2f}mm, {y1:.2f}mm);"
    body += [cut.format(x=k * slice_mm, y0=0, y1=-height) for k in range(1, H)]
    body += [
        r"\node[head] at ($(q) + (0, {:.2f}mm)$) {{queries $Q$}};".format(height / 2 + 1),
        rf"\node[head] at ({mid_heads:.2f}mm, {5:.2f}mm) {{{H} heads, one slice each}};",
        rf"\node[dims] at ($(q) + (0, {-height / 2 - 1:.2f}mm)$) {{{_sizes(T, C)}}};",
        rf"\node[dims] at ({mid_heads:.2f}mm, {-height - 1:.2f}mm) {{{_sizes(H, T, d)}}};",
        rf"\node[dims] at ({mid_heads:.2f}mm, {low - height - 1:.2f}mm) {{{_sizes(H, T, d)}}};",
        rf"\node[dims] at ($(m) + (0, {-height / 2 - 1:.2f}mm)$) {{{_sizes(T, H * d)}}};",
        rf"\node[dims] at ($(y) + (0, {-height / 2 - 1:.2f}mm)$) {{output $y$, {_sizes(T, module.c_proj.out_features)}}};",
        r"\node[head] at ($(m) + (0, {:.2f}mm)$) {{side by side}};".format(height / 2 + 1),
        r"\node[head] at ($(y) + (0, {:.2f}mm)$) {{heads mixed}};".format(height / 2 + 1),
        rf"\draw[flow] ({tensor_mm + 2:.2f}mm, {-height / 2:.2f}mm) -- "
        rf"({heads_x - 2:.2f}mm, {-height / 2:.2f}mm) node[midway, above=1mm, note]"
        r" {\texttt{split\_heads}};",
        rf"\draw[flow] ({mid_heads:.2f}mm, {-height - 5:.2f}mm) -- ({mid_heads:.2f}mm, {low + 1:.2f}mm)"
        rf" node[midway, left=2mm, note, align=right] {{each head attends on its own:\\"
        rf"$\mathrm{{softmax}}(q_h k_h^\top/\sqrt{{{d}}} + M)\, v_h$}};",
        rf"\draw[flow] ({heads_x - 2:.2f}mm, {low - height / 2:.2f}mm) -- "
        rf"({2 * tensor_mm + gap + 2:.2f}mm, {low - height / 2:.2f}mm) node[midway, above=1mm, note]"
        r" {\texttt{merge\_heads}};",
        rf"\draw[flow] ({tensor_mm + gap - 2:.2f}mm, {low - height / 2:.2f}mm) -- "
        rf"({tensor_mm + 2:.2f}mm, {low - height / 2:.2f}mm) node[midway, above=1mm, note]"
        r" {\texttt{c\_proj}};",
    ]
    return TikZPicture("\n".join(body), _STYLES)


def plot_against_uniform(weights):
    """Every weight a causal (n_head, T, T) attention tensor gives a key,
    against its query's position i, beside 1/(i + 1): the weight of each
    of the i + 1 keys in a row that spreads its attention evenly.  Heads are
    set side by side at each position.  Returns the matplotlib Figure."""
    w = _to_numpy(weights)
    if w.ndim != 3 or w.shape[1] != w.shape[2] or w.shape[0] == 0:
        raise ValueError(f"weights have shape {w.shape}, expected (n_head, T, T)")
    n_head, T, _ = w.shape
    fig, ax = figure(height_ratio=0.4, layout="constrained")
    queries, keys = np.tril_indices(T)
    for h in range(n_head):
        shift = 0.5 * (h + 0.5) / n_head - 0.25  # heads side by side within a position
        ax.scatter(queries + shift, w[h, queries, keys], s=3, color=PALETTE["blue"], linewidths=0)
    ax.scatter([], [], s=6, color=PALETTE["blue"], label=f"a weight ({n_head} heads)")
    i = np.arange(T)
    ax.plot(i, 1 / (i + 1), color=PALETTE["orange"], linewidth=1, label="1/(i + 1), uniform")
    ax.set_xticks(i)
    ax.set_xlabel("query position i")
    ax.set_ylabel("weight")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False)
    return fig
