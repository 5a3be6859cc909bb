"""The hostile book (tests/fixtures/hostile): every CommonMark and GFM
construct, every MyST role and directive the compiler supports, LaTeX
specials, Unicode, HTML, and outputs with ANSI codes, progress bars, HTML
reprs and a wide figure.  Built once into a PDF; each construct's marker
word must survive into the PDF's text."""

import re
from pathlib import Path

import pytest
from test_build import build, copy_book, pdf_text

from bookbuild.errors import line_of

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"

pytestmark = pytest.mark.latex

# Marker words, one (or more) per construct, grouped by where they come from.
COMMONMARK = [
    "SETEXTMARK",
    "ATXMARK",
    "STRIKEMARK",
    "C:\\Users\\ada\\notes",
    "\\LaTeX{} written",
    "literal *star*",
    "escaped # hash",
    "NESTMARK",
    "DEEPMARK",
    "TASKOPEN",
    "TASKDONE",
    "QUOTEMARK",
    "NESTQUOTE",
    "a `tick` inside",
    "#$%&~_^\\{}",
    "INDENTMARK",
    "FENCEMARK",
    "TILDEMARK",
    "BREAKONE",
    "BREAKTWO",
    "example.org/autolink",
    "www.example.com",
    "ada@example.org",
    "reference link",
    "ENTITYMARK",
    "☃",
    "PIPEMARK",
    "code|pipe",
    "CAPTMARK",
    "FOOTONE",
    "FOOTNAMED",
    "COMBINEMARK",
    "中文",
    "日本語",
    "한국어",
    "🙂",
    "SUPERCALIFRAGILISTIC",
    "SPECIALS # $ % & ~ _ ^ \\ { } end, 50% of $5 and #1.",
    "Table 1.1: A caption with # $ % & _ and",
    "1.3 Heading with # $ % & ~ _ ^ \\ { } and code_span HEADSPECIAL",
]
HTML = [
    "HTMLBOLD",
    "htmlitalic",
    "BRMARK",
    "HTMLLINK",
    "SPANMARK",
    "HTMLDIVMARK",
    "HTMLHEAD",
    "HTMLCELL",
    "two & more",
]
MYST = [
    "Knuth (1984)",
    "(Lamport 1994)",
    "Section 2.1, Figure 2.1, (2.1), Table 2.2 here, Table 2.1,",
    "Exercise 2.1,",
    "Theorem 2.1.",
    "Chapter 1 and the outputs chapter; data.csv; token and",
    "embeddings",
    "INDEXROLEMARK",
    "H2 O and E = mc2",
    "LLM (large language model)",
    "Ctrl+C",
    "numpy.mean",
    "NOTEMARK",
    "WARNMARK",
    "TITLEMARK",
    "IMPORTANTMARK",
    "TIPMARK",
    "SEEALSOMARK",
    "Figure 2.1: A square FIGCAPMARK with",
    "50% & #.",
    "LEGENDMARK",
    "Figure 2.2: A PDF figure PDFFIGMARK",
    "Figure 2.3: A markdown image MDIMAGEMARK",
    "SVG image, not included:",
    "images/vector.svg",
    "Remote image, not included:",
    "https://example.org/remote-picture.png",
    "Table 2.1: A table directive TABLEDIRMARK",
    "TABLEDIRCELL",
    "Table 2.2: A list table LISTTABLEMARK",
    "LISTCELLMARK",
    "INCLUDEMARK",
    "INCHEADMARK",
    "RAWLATEXMARK",
    "EPIGRAPHMARK",
    "Edsger Dijkstra",
    "GLOSSTOKENMARK",
    "GLOSSEMBMARK",
    "MARGINMARK",
    "Margin title",
    "Exercise 2.1",
    "EXERCISEONEMARK",
    "Solution to Exercise 2.1",
    "SOLUTIONONEMARK",
    "Exercise (A titled one)",
    "EXNONUMBERMARK",
    "Exercise 2.2",
    "GATEDEXMARK",
    "GATEDCODEMARK",
    "Solution to Exercise 2.2",
    "GATEDSOLMARK",
    "Theorem 2.1 (Main result)",
    "THEOREMMARK",
    "Proof",
    "PROOFMARK",
    "Lemma 2.1",
    "LEMMAMARK",
    "Definition 2.1",
    "DEFINITIONMARK",
    "Algorithm 2.1 (Sorting)",
    "ALGORITHMMARK",
    "Example",
    "EXAMPLEMARK",
    "See Lemma 2.1 and Exercise 2.2, and the solution.",
]
OUTPUTS = [
    "ANSIRED and ANSIGREEN",
    "PROGRESS 3/3",
    "OUTSPECIALMARK",
    "PLAINREPRMARK",
    "WIDEFIGMARK",
    "Figure 3.1: A very wide figure WIDECAPMARK.",
    "UNIOUTMARK",
    "REMOVEINPUTOUT",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    book, out = copy_book(tmp_path_factory.mktemp("hostile"), HOSTILE)
    # The corpus types numbers on purpose ("50%" tests the specials), so it
    # builds as an author's machine does, not strictly as CI=true would.
    proc = build("pdf", book, out, CI="")
    assert proc.returncode == 0, proc.stderr
    return book, proc, pdf_text(out / "book.pdf")


def flat(text: str) -> str:
    """The PDF's text with line breaks and runs of spaces as one space."""
    return re.sub(r"\s+", " ", text)


def test_builds_with_no_latex_error_and_no_unresolved_reference(hostile):
    _, proc, text = hostile
    assert "LaTeX error" not in proc.stderr and "undefined:" not in proc.stderr
    assert "??" not in text


@pytest.mark.parametrize(
    "group", [COMMONMARK, HTML, MYST, OUTPUTS], ids=["commonmark", "html", "myst", "outputs"]
)
def test_every_construct_keeps_its_text(hostile, group):
    text = flat(hostile[2])
    missing = [marker for marker in group if flat(marker) not in text]
    assert missing == []


def test_the_index_lists_the_entries_of_roles_and_directives(hostile):
    text = hostile[2]
    index = text[text.rindex("\fIndex\n") :]  # its own page(s), after the bibliography
    for entry in ("INDEXDIRMARK", "other", "INDEXROLEMARK"):
        assert entry in index
    assert re.search(r"^\s*Index\s+\d+\s*$", text, re.M), "the index is in the contents"


def test_what_has_no_print_form_is_left_out(hostile):
    text = hostile[2]
    for gone in (
        "COMMENTMARK",
        "RAWHTMLMARK",
        "\x1b[",
        "PROGRESS 0/3",
        "HIDDENSOURCEMARK",
        "HIDDENOUTPUTMARK",
        "{=latex}",
        "```",
    ):
        assert gone not in text
    assert text.count("PLAINREPRMARK") == 2  # in the code, and as the output
    assert text.count("HTMLREPRMARK") == 1  # only in the code: the HTML repr is not printed


def test_warnings_name_file_and_line(hostile):
    book, proc, _ = hostile
    myst, common = book / "myst.md", book / "commonmark.md"

    def at(path, needle):
        return f"warning: {path}:{line_of(path.read_text(), needle)}: "

    expected = [
        at(common, "<video") + "HTML <video> has no print form and is left out",
        at(myst, "images/vector.svg") + "SVG image images/vector.svg has no .pdf or .png twin",
        at(myst, "https://example.org/remote-picture.png")
        + "remote image https://example.org/remote-picture.png is not fetched",
        at(myst, "{raw} html") + "{raw} html: only latex is printed",
    ]
    for warning in expected:
        assert warning in proc.stderr
