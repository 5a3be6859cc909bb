"""The book's roadmap: its parts and chapters as read from ``book.yml``,
with one chapter highlighted.  Every chapter opens with it."""

from pathlib import Path

import yaml

from figures.book import book_dir
from figures.tikz import TikZPicture

# Short names for the boxes; a chapter missing here shows its file's stem.
SHORT = {
    "use-case.md": "use case",
    "data.md": "data",
    "tokenization.md": "tokenization",
    "vectors.md": "vectors",
    "attention.md": "attention",
    "transformer.md": "transformer",
    "pretraining.md": "pretraining",
    "scaling.md": "scaling laws",
    "classification.md": "classification",
    "instruction.md": "instructions",
    "evaluation.md": "evaluation",
}

_STYLES = r"""
  every node/.style={font=\footnotesize, align=center},
  stage/.style={draw=housegray, fill=houselight!50, rounded corners=2pt,
                minimum width=27mm, minimum height=6.2mm, inner sep=1.5pt},
  here/.style={stage, draw=houseblue, fill=houseblue, text=white,
               font=\footnotesize\bfseries},
  part/.style={font=\scriptsize\sffamily\bfseries, text=housegray},
  made/.style={font=\scriptsize, text=housegray},
  flow/.style={->, >={Stealth[length=1.6mm]}, draw=housegray, thick}
"""


def book_parts(book_yml: Path | None = None) -> list[tuple[str, list[dict]]]:
    """(part title, chapter entries) in reading order, appendices left out."""
    meta = yaml.safe_load((book_yml or book_dir() / "book.yml").read_text())
    if "parts" in meta:
        return [(p["title"], p["chapters"]) for p in meta["parts"]]
    return [("", meta.get("chapters", []))]


def _tex(text: str) -> str:
    return text.replace("_", r"\_").replace("&", r"\&")


def roadmap(current: str, book_yml: Path | None = None) -> TikZPicture:
    """The parts as columns of chapter boxes, ``current`` (a chapter's file,
    such as ``"attention.md"``) highlighted; under a box, the artifacts its
    chapter hands on to later ones."""
    parts = book_parts(book_yml)
    files = [entry["file"] for _, chapters in parts for entry in chapters]
    if current not in files:
        raise ValueError(f"{current!r} is not a chapter of book.yml ({', '.join(files)})")
    lines = []
    for column, (title, chapters) in enumerate(parts):
        x = column * 32
        lines.append(rf"\node[part] (part{column}) at ({x}mm, 0) {{{_tex(title)}}};")
        above = f"part{column}"
        for row, entry in enumerate(chapters):
            name = f"c{column}r{row}"
            style = "here" if entry["file"] == current else "stage"
            label = _tex(SHORT.get(entry["file"], Path(entry["file"]).stem))
            lines.append(rf"\node[{style}, below=2.2mm of {above}] ({name}) {{{label}}};")
            above = name
            if made := entry.get("produces"):
                lines.append(
                    rf"\node[made, below=0.3mm of {name}] ({name}m) "
                    rf"{{$\to$ {_tex(', '.join(made))}}};"
                )
                above = f"{name}m"
        if column:
            lines.append(
                rf"\draw[flow] ([yshift=-5.3mm]part{column - 1}.south -| c{column - 1}r0.east)"
                rf" -- ([yshift=-5.3mm]part{column}.south -| c{column}r0.west);"
            )
    return TikZPicture("\n".join(lines), _STYLES)
