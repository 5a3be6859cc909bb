"""What the tests of the book's TikZ figures share: the natural width of
pictures as LuaLaTeX sets them, in the book's fonts, and the text block's
width they must fit so that the book never scales one down."""

import re
import subprocess

from figures.tikz import TIKZ_LIBRARIES

TEXT_WIDTH_PT = 127 / 25.4 * 72.27  # the 5 in text block


def natural_widths(pictures, folder) -> list[float]:
    """Each picture's width in points, typeset in one LuaLaTeX run in
    ``folder``; fails the test with LaTeX's log if it does not compile."""
    measure = "\n".join(rf"\sbox0{{{p.environment()}}}\typeout{{WIDTH \the\wd0}}" for p in pictures)
    colours = "\n".join(p.colour_definitions() for p in pictures)
    (folder / "f.tex").write_text(
        "\\documentclass[10pt]{article}\\usepackage{fontspec}\\usepackage{xcolor,tikz}\n"
        "\\setmainfont{TeX Gyre Pagella}\\setmonofont{DejaVu Sans Mono}[Scale=0.84]\n"
        f"\\usetikzlibrary{{{','.join(TIKZ_LIBRARIES)}}}\n{colours}\n"
        f"\\begin{{document}}\n{measure}\n\\end{{document}}\n"
    )
    run = subprocess.run(
        ["lualatex", "-interaction=nonstopmode", "-halt-on-error", "f.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    widths = [float(w) for w in re.findall(r"WIDTH ([\d.]+)pt", run.stdout)]
    assert len(widths) == len(pictures)
    return widths
