"""The book's house style for matplotlib figures."""

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler

# The printed text block is 5 inches wide. Figures are drawn at this width and
# placed unscaled, so an 8 pt label in matplotlib is an 8 pt label on paper.
TEXT_WIDTH_IN = 5.0

PALETTE = {
    "blue": "#2F6690",
    "orange": "#D9822B",
    "green": "#3A7D44",
    "red": "#B23A48",
    "purple": "#6C4F8C",
    "gray": "#6B6B6B",
    "light": "#E6E6E6",
}


def use_house_style():
    """Set matplotlib's defaults so every figure in the book looks alike."""
    mpl.rcParams.update(
        {
            # The body's and the TikZ diagrams' font (TeX Live's TeX Gyre
            # Pagella), so a figure's labels read like the text around it.
            "font.family": "serif",
            "font.serif": ["TeX Gyre Pagella", "DejaVu Serif"],
            "mathtext.fontset": "custom",
            "mathtext.rm": "TeX Gyre Pagella",
            "mathtext.it": "TeX Gyre Pagella:italic",
            "mathtext.bf": "TeX Gyre Pagella:bold",
            # Without these, mathtext looks for a 'cursive' family that is
            # not installed and prints a warning into the chapter's output.
            "mathtext.cal": "TeX Gyre Pagella:italic",
            "mathtext.sf": "TeX Gyre Pagella",
            "mathtext.tt": "DejaVu Sans Mono",
            "font.size": 8,
            "axes.titlesize": 9,
            "axes.labelsize": 8,
            "xtick.labelsize": 7.5,
            "ytick.labelsize": 7.5,
            "legend.fontsize": 7.5,
            "axes.linewidth": 0.6,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": cycler(
                color=[
                    PALETTE[name] for name in ("blue", "orange", "green", "red", "purple", "gray")
                ]
            ),
            "xtick.major.width": 0.6,
            "ytick.major.width": 0.6,
            "lines.linewidth": 1.2,
            "figure.figsize": (TEXT_WIDTH_IN, TEXT_WIDTH_IN * 0.62),
            "figure.dpi": 150,
            "savefig.bbox": "tight",
            "savefig.dpi": 300,
            # Type 42 embeds TrueType fonts, so text in PDFs stays selectable.
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
        }
    )


def figure(height_ratio=0.62, **kwargs):
    """A new figure as wide as the text block; returns (fig, ax)."""
    size = (TEXT_WIDTH_IN, TEXT_WIDTH_IN * height_ratio)
    return plt.subplots(figsize=size, **kwargs)
