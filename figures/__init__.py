"""Figure helpers for the book: house style, plots and TikZ diagrams."""
