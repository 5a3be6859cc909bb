"""Conceptual TikZ figures for the tokenization and vector chapters, drawn
from the real objects: one BPE merge step computed by the book's own BPE
functions, a text as the trained tokenizer's tokens, and a training window
split into its inputs x and targets y.

Every box is placed at a computed position, sized from its text in the
monospaced font, so that a figure's width is known before LaTeX sees it:
the book scales a picture wider than the text block down, and its labels
would then print below 7 pt.  A figure that would not fit raises ValueError.
"""

from figures.tikz import TikZPicture
from scratchllm.tokenizer import BPETokenizer
from scratchllm.tokenizer.base import get_stats, merge
from scratchllm.tokenizer.naive import most_frequent

TEXT_WIDTH_MM = 124.0  # the text block, 5 in = 127 mm, less a margin for rounding
CHAR_MM = 1.43  # one character of \footnotesize\ttfamily (DejaVu Sans Mono at 0.84)
ID_CHAR_MM = 1.25  # one digit of \scriptsize\ttfamily, the ids under the tokens
PAD_MM = 0.8  # inner space on each side of a box's text
GAP_MM = 0.5  # between the boxes of one line
ROW_MM = 8.0  # from one row of boxes to the next
LABEL_MM = 14.0  # the column of row labels, left of the boxes

# Light tints of the house colours, cycled so that neighbouring tokens differ.
TINTS = ("houseblue!18", "houseorange!22", "housegreen!18", "housered!16", "housepurple!18")

_STYLES = r"""
  >={Stealth[length=1.6mm]},
  every node/.style={inner sep=0pt, outer sep=0pt},
  tok/.style={draw=housegray!70, rounded corners=1pt, minimum height=4.6mm,
              font=\footnotesize\ttfamily, anchor=west},
  tokid/.style={font=\scriptsize\ttfamily, text=housegray, anchor=north},
  toknote/.style={font=\footnotesize, text=housegray, anchor=west},
  rowlabel/.style={font=\footnotesize, anchor=east},
  flow/.style={->, draw=housegray!80!black, thick},
  sametok/.style={draw=housegray!60, dashed}
"""

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}


def tex_escape(text: str) -> str:
    """Text typeset as itself: LaTeX's special characters escaped."""
    return "".join(_TEX_ESCAPES.get(c, c) for c in text)


def visible(token: bytes) -> str:
    """A token as text with its spaces and newlines made visible (``·``,
    ``↵``) and bytes that are not UTF-8 on their own as escapes (``\\xe6``)."""
    text = token.decode("utf-8", errors="backslashreplace")
    text = text.replace(" ", "·").replace("\n", "↵").replace("\t", "→")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def box_width(label: str, id_label: str = "") -> float:
    """Width in mm of a token box holding ``label`` (and ``id_label`` under it)."""
    return max(len(label) * CHAR_MM, len(id_label) * ID_CHAR_MM, CHAR_MM) + 2 * PAD_MM


def _box(x, y, label, fill, name="", draw=None, id_label=None):
    """One token box with its west side at (x, y) mm, and its id below."""
    width = box_width(label, id_label or "")
    style = f"tok, minimum width={width:.2f}mm, fill={fill}"
    if draw:
        style += f", draw={draw}, very thick"
    name = f" ({name})" if name else ""
    lines = [rf"\node[{style}]{name} at ({x:.2f}mm, {y:.2f}mm) {{{tex_escape(label)}}};"]
    if id_label is not None:
        lines.append(
            rf"\node[tokid] at ({x + width / 2:.2f}mm, {y - 2.9:.2f}mm) {{{tex_escape(id_label)}}};"
        )
    return lines, width


def _check_width(width, what, labels=LABEL_MM):
    """Fail if boxes ``width`` mm wide, after a column of row labels, would
    not fit the text block."""
    if labels + width > TEXT_WIDTH_MM:
        raise ValueError(
            f"{what} is {labels + width:.0f} mm wide, more than the text's "
            f"{TEXT_WIDTH_MM:.0f} mm: use a shorter text"
        )


def ranked_pairs(stats: dict, k: int) -> list:
    """The k pairs BPE would merge first, in its order: most_frequent, asked
    again with each winner taken out."""
    stats, ranked = dict(stats), []
    while stats and len(ranked) < k:
        pair = most_frequent(stats)
        ranked.append(pair)
        del stats[pair]
    return ranked


def merge_step(text: str, new_id: int = 256):
    """One BPE training step on ``text``, as the book's trainer takes it:
    the pre-tokens (lists of bytes), the pair counts from ``get_stats``, the
    pair ``most_frequent`` picks, and the pre-tokens after ``merge``.

    Returns (chunks, stats, pair, merged), chunks and merged as lists of
    lists of ids."""
    chunks = [list(chunk) for chunk in BPETokenizer().pretokenize(text)]
    stats = {}
    for ids in chunks:
        get_stats(ids, stats)
    if not stats:
        raise ValueError(f"{text!r} has no pair of adjacent bytes to merge")
    pair = most_frequent(stats)
    merged = [merge(ids, pair, new_id) for ids in chunks]
    return chunks, stats, pair, merged


def _merged_positions(after, new_id):
    """The positions, in the sequence before the merge, of the ids that went
    into a new token of ``after``: merge replaced two ids by one wherever it
    wrote new_id."""
    used, i = set(), 0
    for token in after:
        if token == new_id:
            used |= {i, i + 1}
            i += 2
        else:
            i += 1
    return used


def bpe_merge_figure(text: str, new_id: int = 256, shown_pairs: int = 5) -> TikZPicture:
    """The bytes of ``text`` cut into pre-tokens, the most frequent adjacent
    pairs with their counts, and the sequence after the most frequent one is
    merged into the token ``new_id``."""
    chunks, stats, pair, merged = merge_step(text, new_id)
    vocab = {i: bytes([i]) for i in range(256)}
    vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
    chunk_gap = 2.5  # wider between pre-tokens than between tokens of one

    def row(sequences, y, highlight):
        lines, x = [], 0.0
        for c, ids in enumerate(sequences):
            for i, token in enumerate(ids):
                hot = (c, i) in highlight
                fill = "houseorange!30" if hot else "houselight!60"
                box, width = _box(
                    x, y, visible(vocab[token]), fill, draw="houseorange" if hot else None
                )
                lines += box
                x += width + GAP_MM
            x += chunk_gap - GAP_MM
        return lines, x - chunk_gap

    in_pair = {(c, i) for c, out in enumerate(merged) for i in _merged_positions(out, new_id)}
    is_new = {(c, i) for c, out in enumerate(merged) for i, t in enumerate(out) if t == new_id}
    before, width_before = row(chunks, 0, in_pair)
    after, _ = row(merged, -3 * ROW_MM, is_new)
    _check_width(width_before, "the row of bytes")

    # The pair counts, most frequent first, as BPE ranks them.
    count_lines, x = [], 0.0
    shown = ranked_pairs(stats, shown_pairs + 1)
    for p in shown[:shown_pairs]:
        label = f"{visible(vocab[p[0]])} {visible(vocab[p[1]])}"
        fill = "houseorange!30" if p == pair else "white"
        box, width = _box(x, -1.5 * ROW_MM, label, fill, draw="houseorange" if p == pair else None)
        count_lines += box
        count_lines.append(
            rf"\node[tokid] at ({x + width / 2:.2f}mm, {-1.5 * ROW_MM - 2.9:.2f}mm) "
            rf"{{{stats[p]}$\times$}};"
        )
        x += width + 2 * GAP_MM
    if len(shown) > shown_pairs:  # the next pair is the most frequent of the rest
        count_lines.append(
            rf"\node[toknote] at ({x:.2f}mm, {-1.5 * ROW_MM:.2f}mm) "
            rf"{{and {len(stats) - shown_pairs} more pairs, "
            rf"each at most {stats[shown[-1]]}$\times$}};"
        )

    n_before, n_after = sum(map(len, chunks)), sum(map(len, merged))
    pair_tex = tex_escape(f"({visible(vocab[pair[0]])}, {visible(vocab[pair[1]])})")
    label = r"\node[rowlabel, align=right] at (-2mm, {:.2f}mm) {{{}}};"
    body = [
        *before,
        *count_lines,
        *after,
        label.format(0, rf"before\\[-0.5ex]\scriptsize {n_before} tokens"),
        label.format(-1.5 * ROW_MM, "pairs"),
        label.format(-3 * ROW_MM, rf"after\\[-0.5ex]\scriptsize {n_after} tokens"),
        rf"\node[toknote] at (0mm, {-3 * ROW_MM - 6:.2f}mm) "
        rf"{{merge \texttt{{{pair_tex}}} $\to$ token {new_id}, {stats[pair]} times}};",
    ]
    return TikZPicture("\n".join(body), _STYLES)


def _lines_of(widths, width_limit):
    """Split items of the given widths into lines no wider than width_limit."""
    lines, x = [[]], 0.0
    for i, width in enumerate(widths):
        if lines[-1] and x + width > width_limit:
            lines.append([])
            x = 0.0
        lines[-1].append(i)
        x += width + GAP_MM
    return lines


def token_boxes_figure(tokenizer, text: str) -> TikZPicture:
    """``text`` encoded by ``tokenizer``: each token a coloured box with its
    text (spaces as ``·``) and its id below, wrapped into lines that fit the
    text block."""
    ids = tokenizer.encode(text)
    labels = [visible(tokenizer.vocab[i]) for i in ids]
    widths = [box_width(label, str(i)) for label, i in zip(labels, ids, strict=True)]
    _check_width(max(widths), "a token", labels=0)
    lines = _lines_of(widths, TEXT_WIDTH_MM)
    body = []
    for line_no, line in enumerate(lines):
        x, y = 0.0, -line_no * 1.3 * ROW_MM
        for k in line:
            box, width = _box(x, y, labels[k], TINTS[k % len(TINTS)], id_label=str(ids[k]))
            body += box
            x += width + GAP_MM
    body.append(
        rf"\node[toknote] at (0mm, {-(len(lines) - 1) * 1.3 * ROW_MM - 7:.2f}mm) "
        rf"{{{len(text)} characters, {len(ids)} tokens}};"
    )
    return TikZPicture("\n".join(body), _STYLES)


def window_figure(tokenizer, window) -> TikZPicture:
    """A window of T + 1 token ids from the corpus as one training example:
    the inputs x (its first T ids) above the targets y (its last T), column
    t holding x[t] and the y[t] it must predict.  A token has the same
    colour in both rows, and a dashed line joins y[t] to the same token as
    x[t + 1], so the shift by one shows as a diagonal."""
    window = [int(i) for i in window]
    if len(window) < 2:
        raise ValueError("a window needs at least two ids: one input and its target")
    x_ids, y_ids = window[:-1], window[1:]
    labels = [visible(tokenizer.vocab[i]) for i in window]
    columns = [
        max(box_width(labels[t], str(x_ids[t])), box_width(labels[t + 1], str(y_ids[t])))
        for t in range(len(x_ids))
    ]
    gap = 2.5  # between columns, room for the dashed diagonals
    _check_width(sum(columns) + gap * (len(columns) - 1), "the window")

    y_row = -2.2 * ROW_MM
    body, x = [], 0.0
    for t, width in enumerate(columns):
        centre = x + width / 2
        for row_y, k, name in ((0, t, f"x{t}"), (y_row, t + 1, f"y{t}")):
            left = centre - box_width(labels[k], str(window[k])) / 2
            box, _ = _box(
                left, row_y, labels[k], TINTS[k % len(TINTS)], name, id_label=str(window[k])
            )
            body += box
        body.append(rf"\node[tokid, anchor=center] at ({centre:.2f}mm, 5.5mm) {{{t}}};")
        body.append(rf"\draw[flow] ([yshift=-3.6mm]x{t}.south) -- (y{t}.north);")
        if t:
            body.append(
                rf"\draw[sametok] (y{t - 1}.north east) -- ([yshift=-3.4mm]x{t}.south west);"
            )
        x += width + gap
    body += [
        r"\node[rowlabel, align=right] at (-2mm, 0mm) {input $x$};",
        rf"\node[rowlabel, align=right] at (-2mm, {y_row:.2f}mm) {{target $y$}};",
        r"\node[rowlabel, align=right, text=housegray] at (-2mm, 5.5mm) {position $t$};",
        rf"\node[toknote] at (0mm, {y_row - 7:.2f}mm) "
        rf"{{$T = {len(x_ids)}$: one window of {len(window)} ids gives {len(x_ids)} predictions,"
        rf" $x[t] \to y[t] = x[t + 1]$}};",
    ]
    return TikZPicture("\n".join(body), _STYLES)
