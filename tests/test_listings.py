"""Listings: excerpts by symbol with exact line numbers, and Pygments LaTeX."""

import pytest

from bookbuild import listings

SOURCE = """\
\"\"\"A module.\"\"\"

import functools


def helper(x):
    return x + 1


@functools.lru_cache
@staticmethod
def decorated(x):
    return helper(x)


class Model:
    \"\"\"A model.\"\"\"

    scale = 2

    def forward(self, x):
        y = x * self.scale
        return y

    @property
    def size(self):
        return 3


async def fetch():
    return None
"""
LINES = SOURCE.splitlines()


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    return path


def lines(first: int, last: int) -> str:
    return "\n".join(LINES[first - 1 : last])


def test_excerpt_class(module):
    ex = listings.excerpt(module, "Model")
    assert (ex.first_line, ex.last_line) == (16, 27)
    assert ex.code == lines(16, 27)
    assert ex.code.startswith("class Model:") and ex.code.endswith("return 3")
    assert ex.path == module


def test_excerpt_function(module):
    ex = listings.excerpt(module, "helper")
    assert (ex.first_line, ex.last_line) == (6, 7)
    assert ex.code == "def helper(x):\n    return x + 1"


def test_excerpt_decorated_function_includes_decorators(module):
    ex = listings.excerpt(module, "decorated")
    assert (ex.first_line, ex.last_line) == (10, 13)
    assert ex.code.splitlines()[0] == "@functools.lru_cache"
    assert ex.code == lines(10, 13)


def test_excerpt_method(module):
    ex = listings.excerpt(module, "Model.forward")
    assert (ex.first_line, ex.last_line) == (21, 23)
    assert ex.code == lines(21, 23)
    assert ex.code.startswith("    def forward(self, x):")


def test_excerpt_decorated_method(module):
    ex = listings.excerpt(module, "Model.size")
    assert (ex.first_line, ex.last_line) == (25, 27)
    assert ex.code.splitlines()[0] == "    @property"


def test_excerpt_async_function(module):
    ex = listings.excerpt(module, "fetch")
    assert (ex.first_line, ex.last_line) == (30, 31)


def test_excerpt_whole_file(module):
    ex = listings.excerpt(module)
    assert (ex.first_line, ex.last_line) == (1, len(LINES))
    assert ex.code == SOURCE


@pytest.mark.parametrize("name", ["missing", "Model.missing", "forward", "helper.x", "scale"])
def test_excerpt_missing_symbol(module, name):
    with pytest.raises(listings.SymbolNotFound, match=repr(name)):
        listings.excerpt(module, name)


def test_highlight_python():
    tex = listings.highlight("def f(x):\n    return {'a': x}\n")
    assert "\\PY{k}{def}" in tex
    assert "\\PY{n+nf}{f}" in tex
    assert "\\PYZob{}" in tex  # braces are escaped for commandchars
    assert "\\begin{Verbatim}" not in tex and "\\end{Verbatim}" not in tex
    assert not tex.endswith("\n")


def test_highlight_other_and_unknown_languages():
    bash = listings.highlight("echo $HOME", "bash")
    assert "\\PY{" in bash and "Verbatim" not in bash
    plain = listings.highlight("a {b} \\c", "no-such-language")
    assert "Verbatim" not in plain
    assert "\\PYZob{}" in plain and "\\PYZbs{}" in plain


def test_code_block_and_listing_block(module):
    block = listings.code_block("x = 1")
    assert block.startswith("\\begin{bookcode}\n") and block.endswith("\n\\end{bookcode}")
    ex = listings.excerpt(module, "Model.forward")
    tex = listings.listing_block(ex, "Forward", "lst-f", "where", "https://u")
    assert tex.startswith("\\begin{booklisting}{Forward\\label{lst-f}}{\\href{https://u}{where}}")
    assert "\\begin{booklistingcode}[firstnumber=21]" in tex
    no_url = listings.listing_block(ex, "Forward", None, "where", "")
    assert no_url.startswith("\\begin{booklisting}{Forward}{where}")


def test_style_definitions_define_py_macros():
    defs = listings.style_definitions()
    assert "\\def\\PY@tok@k" in defs or "\\@namedef{PY@tok@k}" in defs
