"""The book's chapter graph as TikZ, drawn from ``book.yml`` as the builder
reads it (``bookbuild.config.load``): the chapters as boxes in reading
order, and per artifact a vertical lane from the chapter that produces it
to every chapter that uses it.

Positions and widths are computed here, from the labels' lengths in the
monospaced font, so the figure's width is known before LaTeX sees it and a
book whose graph would not fit the text block raises ValueError instead of
being scaled down below a readable size.
"""

from bookbuild.config import Book
from figures.concepts_text import CHAR_MM, TEXT_WIDTH_MM, tex_escape
from figures.tikz import TikZPicture

ROW_MM = 5.2  # from one chapter's box to the next
BOX_MM = 4.2  # a box's height
NUMBER_MM = 5.0  # the column of chapter numbers, left of the boxes
LANE_GAP_MM = 8.0  # from the boxes to the first lane
LANE_MM = 13.0  # from one lane to the next
WIRE_MM = 0.9  # an input enters above a box's middle, an output leaves below it
PAD_MM = 1.5  # inner space on each side of a file name

# One colour per lane, so a lane is followed by its colour where lines cross.
LANE_COLOURS = ("houseblue", "houseorange", "housegreen", "housered", "housepurple", "housegray")

_STYLES = r"""
  >={Stealth[length=1.4mm]},
  every node/.style={inner sep=0pt, outer sep=0pt},
  chapter/.style={draw=housegray!70, fill=houselight!60, rounded corners=1pt,
                  font=\footnotesize\ttfamily, anchor=west},
  number/.style={font=\footnotesize, text=housegray, anchor=east},
  artifact/.style={font=\scriptsize\ttfamily, rotate=90, anchor=west},
  wire/.style={thick, preaction={draw=white, line width=2.4pt}}
"""


def artifact_lanes(book: Book) -> list[tuple[str, str, list[str]]]:
    """(artifact, producing chapter id, using chapter ids in book order) for
    every artifact, ordered by where its lane starts, then by its producer."""
    order = {ch.id: i for i, ch in enumerate(book.chapters)}
    lanes = []
    for producer in book.chapters:
        for name in producer.produces:
            users = [ch.id for ch in book.chapters if name in ch.uses]
            lanes.append((name, producer.id, users))
    return sorted(
        lanes, key=lambda lane: (min(order[c] for c in [lane[1], *lane[2]]), order[lane[1]])
    )


def _label(chapter) -> str:
    return chapter.path.name


def _box_mm(book: Book) -> float:
    """The boxes' width: the longest file name and its padding."""
    return max(len(_label(ch)) for ch in book.chapters) * CHAR_MM + 2 * PAD_MM


def dag_width_mm(book: Book) -> float:
    """The figure's width: numbers, boxes, lanes and the lane labels' height."""
    box = _box_mm(book)
    lanes = len(artifact_lanes(book))
    return NUMBER_MM + box + (LANE_GAP_MM + (lanes - 1) * LANE_MM + 2 if lanes else 0)


def chapter_dag(book: Book) -> TikZPicture:
    """The chapters of ``book`` and the artifacts they hand each other."""
    width = dag_width_mm(book)
    if width > TEXT_WIDTH_MM:
        raise ValueError(
            f"the chapter graph is {width:.0f} mm wide, more than the text's "
            f"{TEXT_WIDTH_MM:.0f} mm: fewer artifacts or shorter file names"
        )
    box = _box_mm(book)
    row = {ch.id: -i * ROW_MM for i, ch in enumerate(book.chapters)}
    body = []
    for ch in book.chapters:
        y = row[ch.id]
        size = f"minimum width={box:.2f}mm, minimum height={BOX_MM}mm"
        body.append(
            rf"\node[chapter, {size}] ({ch.id}) at ({NUMBER_MM:.2f}mm, {y:.2f}mm) "
            rf"{{{tex_escape(_label(ch))}}};"
        )
        if ch.number:
            body.append(rf"\node[number] at ({NUMBER_MM - 1.2:.2f}mm, {y:.2f}mm) {{{ch.number}}};")

    east = NUMBER_MM + box
    wires, dots = [], []
    for k, (name, producer, users) in enumerate(artifact_lanes(book)):
        x, colour = east + LANE_GAP_MM + k * LANE_MM, LANE_COLOURS[k % len(LANE_COLOURS)]
        ends = [(producer, -WIRE_MM)] + [(user, WIRE_MM) for user in users]
        ys = [row[c] + dy for c, dy in ends]
        top, bottom = max(ys), min(ys)
        body.append(
            rf"\draw[{colour}, thick] ({x:.2f}mm, {top:.2f}mm) -- ({x:.2f}mm, {bottom:.2f}mm);"
        )
        body.append(
            rf"\node[artifact, text={colour}] at ({x:.2f}mm, {top + 1.2:.2f}mm) "
            rf"{{{tex_escape(name)}}};"
        )
        y = row[producer] - WIRE_MM
        wires.append(
            (x, rf"\draw[wire, {colour}] ({east:.2f}mm, {y:.2f}mm) -- ({x:.2f}mm, {y:.2f}mm);")
        )
        dots.append(rf"\fill[{colour}] ({x:.2f}mm, {y:.2f}mm) circle (0.75mm);")
        for user in users:
            y = row[user] + WIRE_MM
            wires.append(
                (
                    x,
                    rf"\draw[wire, ->, {colour}] ({x:.2f}mm, {y:.2f}mm) -- ({east:.2f}mm, {y:.2f}mm);",
                )
            )
            dots.append(rf"\fill[{colour}] ({x:.2f}mm, {y:.2f}mm) circle (0.45mm);")
    # The longest wires first: each shorter one, drawn over them, cuts a white
    # gap only into the lanes it really crosses; the dots mend the junctions.
    body += [line for _, line in sorted(wires, key=lambda w: -w[0])] + dots
    return TikZPicture("\n".join(body), _STYLES)
