"""HTML to clean text with a real HTML parser (the standard library's).

Only the page's main content is kept (Sphinx marks it ``role="main"``):
navigation, sidebars, headers, footers, scripts and permalink markers go.
Headings become ``#`` lines, list items ``- `` lines, and code blocks are
fenced with ``` so that later chapters can treat code differently.
"""

import re
import unicodedata
from html.parser import HTMLParser

# Elements that start a new paragraph of text.
BLOCKS = set(
    "p div section dl dt dd ul ol table tr blockquote hr figure figcaption "
    "aside footer header nav".split()
)
# Elements dropped with everything inside them.
DROP = set("script style noscript nav footer header form button".split())
# Elements without an end tag (the HTML standard's "void elements"): one
# never opens anything to skip.
VOID = set(
    "area base br col embed hr img input link meta source track wbr".split()
)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
TITLE_SUFFIX = re.compile(r"\s+[—-]\s+Python [\d.]+ documentation$")


class _MainContent(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title = ""
        self._in_title = False
        self._main_depth = 0  # >0 inside the main content's <div>
        self._skip_depth = 0  # >0 inside something dropped
        self._pre = 0
        self._cell = 0  # >0 inside a table cell, which stays on its row's line

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "title":
            self._in_title = True
        if not self._main_depth:
            if tag == "div" and attrs.get("role") == "main":
                self._main_depth = 1
            return
        if tag == "div":
            self._main_depth += 1
        if self._skip_depth or tag in DROP or "headerlink" in classes:
            if tag not in VOID:
                self._skip_depth += 1
            return
        if tag == "pre":
            self._pre += 1
            self.out.append("\n\n```\n")
        elif tag in HEADINGS:
            self.out.append("\n\n" + "#" * HEADINGS[tag] + " ")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self._cell += 1
            self.out.append(" | ")
        elif tag == "br":
            self.out.append("\n")
        elif tag in BLOCKS:
            self._break()

    def _break(self):
        # A paragraph inside a table cell, or opening a list item,
        # continues its line.
        if self._cell:
            self.out.append(" ")
        elif not (self.out and self.out[-1].endswith(("- ", " | "))):
            self.out.append("\n\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if not self._main_depth:
            return
        if self._skip_depth:
            if tag not in VOID:
                self._skip_depth -= 1
            if tag == "div":
                self._main_depth -= 1
            return
        if tag == "div":
            self._main_depth -= 1
        if tag in ("td", "th"):
            self._cell -= 1
        if tag == "pre":
            self._pre -= 1
            self.out.append("\n```\n\n")
        elif tag in HEADINGS or tag in BLOCKS:
            self._break()

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._main_depth and not self._skip_depth:
            # Whitespace is layout in HTML, except inside <pre>.
            self.out.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of a documentation page."""
    parser = _MainContent()
    parser.feed(html)
    parser.close()
    title = TITLE_SUFFIX.sub("", " ".join(parser.title.split()))
    return normalize(title), normalize("".join(parser.out))


def normalize(text: str) -> str:
    """Unicode NFC; spaces collapsed and lines stripped outside code
    blocks; at most one blank line in a row, none just inside a fence."""
    text = unicodedata.normalize("NFC", text).replace("\u00b6", "")
    lines: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip() == "```":
            if in_code:
                while lines and not lines[-1]:
                    lines.pop()
            in_code = not in_code
            lines.append("```")
        elif in_code:
            if line.strip() or lines[-1] != "```":
                lines.append(line.rstrip())
        else:
            lines.append(re.sub(r"[ \t\u00a0]+", " ", line).strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def code_text(code: str) -> str:
    """Source code as written, less trailing spaces and the blank lines at
    either end: no other normalisation, since a string literal means what
    its characters say (NFC would change the tests of unicodedata)."""
    lines = code.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


_ROLE = re.compile(r":[\w:.+-]+:`[~!]?([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)(?:\s*<[^>]*>)?`__?")
_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::\s*(.*)$")
# How Sphinx renders the directives that carry words of their own.
_DIRECTIVE_TEXT = {
    "versionadded": "New in version {}.",
    "versionchanged": "Changed in version {}:",
    "deprecated": "Deprecated since version {}:",
    "note": "Note",
    "warning": "Warning",
    "seealso": "See also",
    "impl-detail": "CPython implementation detail:",
}
# Directives whose body is not prose: a list of file names, a search index.
_SKIPPED_BLOCKS = {"toctree", "index", "only", "raw"}
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>_:.])\1{2,}\s*$")
# A directive option, not a :role:`...`.
_OPTION = re.compile(r"^\s+:[\w-]+:(\s.*)?$")
# A hyperlink target: ".. _name:".
_TARGET = re.compile(r"^\s*\.\. _")
# Sphinx renders :rfc:`7159` as "RFC 7159".
_RFC_PEP = re.compile(r":(rfc|pep):`(\d+)[^`]*`")
_EMPHASIS = re.compile(r"\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*")


def rst_to_text(text: str) -> str:
    """reStructuredText to plain text, just enough to compare it with the
    HTML built from it: roles and inline markup unwrapped, directives
    reduced to their arguments (or their rendered words), section
    underlines, options, targets and table-of-contents blocks dropped."""
    lines: list[str] = []
    skip_indent = None  # inside a skipped directive's indented body
    for line in text.split("\n"):
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        if _UNDERLINE.match(line) or _OPTION.match(line) or _TARGET.match(line):
            continue
        if m := _DIRECTIVE.match(line):
            lead, name, args = m.groups()
            if name in _SKIPPED_BLOCKS:
                skip_indent = indent
                continue
            words = _DIRECTIVE_TEXT.get(name)
            if words is None:
                line = lead + args
            elif "{}" in words:
                line = lead + words.format(args)
            else:
                line = lead + f"{words} {args}"
        lines.append(line[:-1] if line.rstrip().endswith("::") else line)
    # Inline markup may wrap across lines, so it is unwrapped on the whole text.
    text = "\n".join(lines)
    text = _RFC_PEP.sub(lambda m: f"{m[1].upper()} {m[2]}", text)
    text = re.sub(r"\s?\[#[\w-]*\]_", "", text)  # footnote references
    text = _ROLE.sub(r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(lambda m: m[1] or m[2], text)
    return normalize(text)
