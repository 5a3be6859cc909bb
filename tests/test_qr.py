"""QR codes as TikZ: the path must draw exactly qrcode's dark modules."""

import re

import pytest
import qrcode

from bookbuild import qr

URLS = [
    "https://github.com/scratchllm/llm-from-scratch/blob/main/book/attention.md",
    "https://example.org/v",
    "https://youtu.be/dQw4w9WgXcQ?t=42&list=x%20y",
]
_RECT = re.compile(r"\((\d+),(\d+)\) rectangle \((\d+),(\d+)\)")


def matrix(url: str) -> list[list[bool]]:
    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def dark_from_tikz(tex: str, n: int) -> set[tuple[int, int]]:
    """(row, col) of every unit square the \\fill path covers."""
    (path,) = re.findall(r"\\fill\[black\] (.*);\\end\{tikzpicture\}", tex)
    rects = _RECT.findall(path)
    assert _RECT.sub("", path).strip() == ""  # nothing but rectangles
    dark = set()
    for x0, y0, x1, y1 in (map(int, r) for r in rects):
        assert y0 - y1 == 1 and x1 > x0  # one module row each, left to right
        row = n - y0
        for col in range(x0, x1):
            assert (row, col) not in dark  # no overlaps
            dark.add((row, col))
    return dark


@pytest.mark.parametrize("url", URLS)
def test_tikz_draws_the_qr_matrix(url):
    m = matrix(url)
    n = len(m)
    expected = {(r, c) for r in range(n) for c in range(n) if m[r][c]}
    assert dark_from_tikz(qr.tikz(url), n) == expected


def test_tikz_scale_gives_requested_size():
    url = URLS[0]
    n = len(matrix(url))
    tex = qr.tikz(url, size_cm=3.0)
    assert tex.startswith(f"\\begin{{tikzpicture}}[x={3.0 / n:.4f}cm,y={3.0 / n:.4f}cm]")
    assert tex.endswith("\\end{tikzpicture}")


def test_runs_are_maximal():
    # one rectangle per run of dark modules: no two rectangles touch in a row
    url = URLS[1]
    n = len(matrix(url))
    rects = [tuple(map(int, r)) for r in _RECT.findall(qr.tikz(url))]
    ends = {(y0, x1) for x0, y0, x1, _ in rects}
    assert not any((y0, x0) in ends for x0, y0, _, _ in rects)
    assert len(rects) == sum(
        1 for row in matrix(url) for c in range(n) if row[c] and (c == 0 or not row[c - 1])
    )


def test_different_urls_different_paths():
    paths = {qr.tikz(u) for u in URLS}
    assert len(paths) == len(URLS)
    assert qr.tikz(URLS[0]) == qr.tikz(URLS[0])  # deterministic
