"""scratchllm.data.corpus.build_corpus on a small synthetic source tree: a
fake python3-doc root and a fake standard library, written in tmp_path.

The whole pipeline runs in well under a second here; the real sources are
measured by bench/bench_data.py, not tested.
"""

import ast
import json
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from scratchllm.data import filters, sources
from scratchllm.data.corpus import SPLITS, CorpusConfig, build_corpus, read_split, split_of

PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>{title} &#8212; Python 3.11.2 documentation</title>
    <script src="../_static/jquery.js"></script>
  </head>
<body>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation">
  <h3>This Page</h3><ul class="this-page-menu"><li><a href="../bugs.html">Report a Bug</a></li></ul>
</div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
{main}
</div></div></div>
<div class="footer">&copy; <a href="../copyright.html">Copyright</a> 2001-2026, Python Software
Foundation.</div>
</body>
</html>
"""

JSON_PARAS = [
    "JSON (JavaScript Object Notation), specified by RFC 7159 (which obsoletes RFC 4627) and "
    "by ECMA-404, is a lightweight data interchange format inspired by JavaScript object "
    "literal syntax (although it is not a strict subset of JavaScript).",
    "Be cautious when parsing JSON data from untrusted sources. A malicious JSON string may "
    "cause the decoder to consume considerable CPU and memory resources. Limiting the size of "
    "data to be parsed is recommended.",
    "The json module exposes an API familiar to users of the standard library marshal and "
    "pickle modules. Serialize obj as a JSON formatted stream to fp using this conversion "
    "table. If skipkeys is true, then dict keys that are not of a basic type will be skipped "
    "instead of raising a TypeError.",
]
PICKLE_PARAS = [
    "The pickle module implements binary protocols for serializing and de-serializing a "
    "Python object structure. Pickling is the process whereby a Python object hierarchy is "
    "converted into a byte stream, and unpickling is the inverse operation.",
    "The pickle module is not secure. Only unpickle data you trust. It is possible to "
    "construct malicious pickle data which will execute arbitrary code during unpickling. "
    "Never unpickle data that could have come from an untrusted source.",
]
OSPATH_PARAS = [
    "This module implements some useful functions on pathnames. To read or write files see "
    "open(), and for accessing the filesystem see the os module. The path parameters can be "
    "passed as strings, or bytes, or any object implementing the os.PathLike protocol.",
    "Unlike a Unix shell, Python does not do any automatic path expansions. Functions such "
    "as expanduser() and expandvars() can be invoked explicitly when an application desires "
    "shell-like path expansion.",
]
INTRO_PARAS = [
    "In the following examples, input and output are distinguished by the presence or "
    "absence of prompts: to repeat the example, you must type everything after the prompt, "
    "when the prompt appears; lines that do not begin with a prompt are output from the "
    "interpreter.",
    "Many of the examples in this manual, even those entered at the interactive prompt, "
    "include comments. Comments in Python start with the hash character and extend to the "
    "end of the physical line.",
]
INDEX_PARAS = [
    "Symbols, numbers, letters of the alphabet: every entry of the general index links to a "
    "definition somewhere else, so an index page repeats the documentation's vocabulary "
    "without saying anything about it, which is why the pipeline must never read it as a "
    "page of prose, however many words it happens to contain on any given release.",
]
JSON_CODE = """<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="kn">import</span> <span class="nn">json</span>
<span class="gp">&gt;&gt;&gt; </span><span class="n">json</span><span class="o">.</span><span class="n">dumps</span><span class="p">([</span><span class="mi">1</span><span class="p">,</span> <span class="mi">2</span><span class="p">])</span>
<span class="go">&#39;[1, 2]&#39;</span>
</pre></div>
</div>"""

# The rest of the page as Sphinx renders the reST below: an admonition with its
# title, a paragraph and a literal block.
JSON_HTML_REST = f"""<div class="admonition warning">
<p class="admonition-title">Warning</p>
<p>{JSON_PARAS[1]}</p>
</div>
<p>{JSON_PARAS[2]}</p>
<p>Example:</p>
{JSON_CODE}"""

JSON_RST = """\
:mod:`json` --- JSON encoder and decoder
========================================

.. module:: json
   :synopsis: Encode and decode the JSON format.

`JSON (JavaScript Object Notation) <https://json.org>`_, specified by
:rfc:`7159` (which obsoletes :rfc:`4627`) and by
`ECMA-404 <https://www.ecma-international.org/>`_, is a lightweight data interchange
format inspired by JavaScript object literal syntax (although it is not a strict subset
of JavaScript).

.. warning::
   Be cautious when parsing JSON data from untrusted sources. A malicious
   JSON string may cause the decoder to consume considerable CPU and memory
   resources. Limiting the size of data to be parsed is recommended.

The :mod:`json` module exposes an API familiar to users of the standard library
:mod:`marshal` and :mod:`pickle` modules. Serialize *obj* as a JSON formatted stream
to *fp* using this conversion table. If *skipkeys* is true, then dict keys that are
not of a basic type will be skipped instead of raising a :exc:`TypeError`.

Example::

    >>> import json
    >>> json.dumps([1, 2])
    '[1, 2]'
"""

JSON_INIT = '''\
r"""JSON (JavaScript Object Notation) <https://json.org> is a subset of
JavaScript syntax (ECMA-262 3rd edition) used as a lightweight data
interchange format.

:mod:`json` exposes an API familiar to users of the standard library
:mod:`marshal` and :mod:`pickle` modules. It is derived from a
version of the externally maintained simplejson library.
"""

def dumps(obj, *, skipkeys=False, indent=None):
    """Serialize ``obj`` to a JSON formatted ``str``.

    If ``skipkeys`` is true then ``dict`` keys that are not basic types
    will be skipped instead of raising a ``TypeError``. If ``indent`` is a
    non-negative integer, then JSON array elements and object members will
    be pretty-printed with that indent level.
    """


def loads(s, *, cls=None):
    """Deserialize ``s`` (a ``str``, ``bytes`` or ``bytearray`` instance
    containing a JSON document) to a Python object.
    """


def _private(x):
    """Not part of the documented interface, never in the corpus."""
'''

JSON_DECODER = '''\
"""Implementation of JSONDecoder, the scanner that turns the characters of a
JSON document into Python objects: dictionaries for objects, lists for arrays,
strings, integers and floats for numbers, and True, False and None for the
three literal names, with an error that gives the line and column of the first
character it could not parse.
"""


class JSONDecoder:
    """Simple JSON decoder."""

    def decode(self, s):
        """Return the Python representation of ``s``."""
'''

TEST_MODULE = '''\
"""Tests of the json module: round trips of every basic type through dumps and
loads, separators, indentation, sorting of keys, non-ASCII characters, infinite
and NaN values, circular references, object hooks, decoding errors with their
positions, and the command line interface, run by the regression test suite.
"""


def test_dumps():
    """Check that dumps of a list of two integers is the expected string."""
'''


OPTIONS_JS = "var DOCUMENTATION_OPTIONS = {\n    VERSION: '3.11.2',\n    LANGUAGE: 'en',\n};\n"


def html_page(title: str, paragraphs: list[str], extra: str = "", main: bool = True) -> str:
    body = f'<h1>{title}<a class="headerlink" href="#" title="Permalink">¶</a></h1>\n'
    body += "\n".join(f"<p>{p}</p>" for p in paragraphs) + "\n" + extra
    if main:
        body = f'<div class="body" role="main">\n<section>\n{body}\n</section>\n</div>'
    return PAGE.format(title=title, main=body)


@pytest.fixture
def tree(tmp_path) -> tuple[Path, Path]:
    docs, lib = tmp_path / "html", tmp_path / "stdlib"
    files = {
        docs / "library" / "json.html": html_page(
            "json — JSON encoder and decoder", JSON_PARAS[:1], JSON_HTML_REST
        ),
        docs / "library" / "pickle.html": html_page(
            "pickle — Python object serialization", PICKLE_PARAS
        ),
        # Another name, the same content: an exact duplicate of pickle.html.
        docs / "library" / "pickle-copy.html": html_page(
            "pickle — Python object serialization", PICKLE_PARAS
        ),
        docs / "library" / "os.path.html": html_page(
            "os.path — Common pathname manipulations", OSPATH_PARAS
        ),
        docs / "library" / "stub.html": html_page(
            "stub — A page to come", ["This module is documented elsewhere."]
        ),
        docs / "library" / "nomain.html": html_page(
            "nomain", ["No element marks the main content of this page at all."], main=False
        ),
        docs / "tutorial" / "introduction.html": html_page(
            "3. An Informal Introduction to Python", INTRO_PARAS
        ),
        docs / "genindex.html": html_page("Index", INDEX_PARAS),
        docs / "genindex-A.html": html_page("Index – A", INDEX_PARAS[::-1]),
        docs / "_sources" / "library" / "json.rst.txt": JSON_RST,
        docs / "_static" / "documentation_options.js": OPTIONS_JS,
        lib / "json" / "__init__.py": JSON_INIT,
        lib / "json" / "decoder.py": JSON_DECODER,
        lib / "json" / "_private_helpers.py": '"""' + " ".join(["private"] * 80) + '"""\n',
        lib / "test" / "test_json.py": TEST_MODULE,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return docs, lib


def build(tree, out: Path) -> dict:
    docs, lib = tree
    return build_corpus(out, CorpusConfig(), doc_root=docs, stdlib_root=lib)


def all_records(out: Path) -> dict[str, list[dict]]:
    return {split: list(read_split(out, split)) for split in SPLITS}


def surviving_ids(out: Path) -> list[str]:
    return [record["id"] for records in all_records(out).values() for record in records]


def test_sources_found(tree, tmp_path):
    manifest = build(tree, tmp_path / "corpus")
    assert manifest["sources"]["python-docs"]["version"] == "3.11.2"
    assert manifest["sources"]["python-docs"]["path"] == str(tree[0])
    assert manifest["sources"]["stdlib"]["path"] == str(tree[1])
    # 7 pages (genindex*.html skipped), 1 reST source, 2 docstring modules
    # (tests and private modules skipped), 4 code files (all of them).
    assert manifest["stages"][0]["documents"] == 14
    pages = [p for p in tree[0].rglob("*.html") if not p.name.startswith("genindex")]
    rst = tree[0] / "_sources" / "library" / "json.rst.txt"
    code = list(tree[1].rglob("*.py"))
    modules = [d.raw for d in sources.iter_stdlib_modules(tree[1])]
    assert len(pages) == 7 and len(modules) == 2 and len(code) == 4
    files = sum(len(p.read_bytes()) for p in [*pages, rst, *code])
    assert manifest["raw_bytes"] == files + sum(len(m.encode()) for m in modules)


def test_skipped_sources_never_appear(tree, tmp_path):
    out = tmp_path / "corpus"
    manifest = build(tree, out)
    ids = surviving_ids(out)
    text = json.dumps(manifest) + "".join((out / f"{s}.jsonl").read_text() for s in SPLITS)
    assert "genindex" not in text
    # Tests and private helpers are code, but no docstring documents.
    docstrings = [r for rs in all_records(out).values() for r in rs if r["source"] == "stdlib"]
    text = json.dumps(docstrings)
    assert "test_json" not in text and "regression test suite" not in text
    assert "_private" not in text and "_private_helpers" not in text
    assert "stdlib/json/__init__.py" in ids and "stdlib/json/decoder.py" in ids


def test_manifest_stage_counts_consistent(tree, tmp_path):
    manifest = build(tree, tmp_path / "corpus")
    stages = manifest["stages"]
    assert [s["stage"] for s in stages] == [
        "discovered (raw)",
        "cleaned, non-empty",
        "after exact dedup",
        "after quality filters",
        "after near dedup",
    ]
    for before, after in pairwise(stages):
        assert after["documents"] <= before["documents"]
    for before, after in pairwise(stages[1:]):
        assert after["characters"] <= before["characters"]

    raw, cleaned, exact, filtered, near = stages
    removed = manifest["removed"]
    rules = [rule["name"] for rule in manifest["rules"]]
    assert set(rules) == {r.name for r in filters.RULES + filters.CODE_RULES}
    assert raw["documents"] - cleaned["documents"] == removed["empty"]["documents"]
    for (a, b), names in [
        ((cleaned, exact), ["exact_duplicate"]),
        ((exact, filtered), rules),
        ((filtered, near), ["near_duplicate"]),
    ]:
        for unit in ("documents", "characters"):
            assert a[unit] - b[unit] == sum(removed[n][unit] for n in names), (a, b, names)
    for unit in ("documents", "characters"):
        assert sum(s[unit] for s in manifest["splits"].values()) == near[unit]
    assert raw["documents"] == near["documents"] + sum(r["documents"] for r in removed.values())


def test_expected_removals(tree, tmp_path):
    out = tmp_path / "corpus"
    manifest = build(tree, out)
    removed = manifest["removed"]
    assert removed["empty"]["documents"] == 1  # nomain.html
    assert removed["exact_duplicate"]["documents"] == 1
    assert manifest["exact_duplicates"] == [
        {"removed": "docs/library/pickle.html", "duplicate_of": "docs/library/pickle-copy.html"}
    ]
    assert removed["too_short"]["documents"] == 1
    # The reST copy of json.html, and json/__init__.py's code: its docstrings
    # are almost all of it, and the docstring document is preferred.
    assert removed["near_duplicate"]["documents"] == 2
    ids = set(surviving_ids(out))
    assert "docs/library/stub.html" not in ids
    assert "docs/library/nomain.html" not in ids
    assert ids == {
        "docs/library/json.html",
        "docs/library/pickle-copy.html",
        "docs/library/os.path.html",
        "docs/tutorial/introduction.html",
        "stdlib/json/__init__.py",
        "stdlib/json/decoder.py",
        "code/json/decoder.py",
        "code/json/_private_helpers.py",
        "code/test/test_json.py",
    }


def test_rst_copy_removed_as_near_duplicate_html_kept(tree, tmp_path):
    out = tmp_path / "corpus"
    manifest = build(tree, out)
    rst_id = "docs/_sources/library/json.rst.txt"
    clusters = {c["kept"]: c for c in manifest["near_duplicate_clusters"]}
    assert sorted(clusters) == ["docs/library/json.html", "stdlib/json/__init__.py"]
    assert clusters["stdlib/json/__init__.py"]["removed"] == ["code/json/__init__.py"]
    cluster = clusters["docs/library/json.html"]
    assert cluster["removed"] == [rst_id]
    assert cluster["estimated_jaccard"][0] >= CorpusConfig().near_duplicate_threshold
    ids = surviving_ids(out)
    assert rst_id not in ids and "docs/library/json.html" in ids


def test_surviving_documents_cleaned(tree, tmp_path):
    out = tmp_path / "corpus"
    build(tree, out)
    records = {r["id"]: r for rs in all_records(out).values() for r in rs}
    page = records["docs/library/json.html"]
    assert page["title"] == "json — JSON encoder and decoder"
    assert page["source"] == "python-docs" and page["group"] == "json"
    assert page["text"].startswith("# json — JSON encoder and decoder\n\nJSON (JavaScript")
    assert "```\n>>> import json\n>>> json.dumps([1, 2])\n'[1, 2]'\n```" in page["text"]
    assert "Report a Bug" not in page["text"] and "Copyright" not in page["text"]
    module = records["stdlib/json/__init__.py"]
    assert module["source"] == "stdlib" and module["group"] == "json"
    assert module["title"] == "json"
    assert "## json.dumps(obj, *, skipkeys=False, indent=None)" in module["text"]
    assert records["docs/library/os.path.html"]["group"] == "os"
    assert records["docs/tutorial/introduction.html"]["group"] == "tutorial/introduction.html"


def test_splits_disjoint_by_id_and_group(tree, tmp_path):
    out = tmp_path / "corpus"
    manifest = build(tree, out)
    records = all_records(out)
    ids = [r["id"] for rs in records.values() for r in rs]
    assert len(ids) == len(set(ids)) == manifest["stages"][-1]["documents"]
    groups = {split: {r["group"] for r in rs} for split, rs in records.items()}
    for a in SPLITS:
        for b in SPLITS:
            if a < b:
                assert not groups[a] & groups[b], (a, b)
    for split, rs in records.items():
        assert manifest["splits"][split]["documents"] == len(rs)
        for r in rs:
            assert split_of(r["group"], CorpusConfig()) == split
    assert manifest["heldout_groups"] == sorted(groups["heldout"])


def test_split_hashes_match_files(tree, tmp_path):
    import hashlib

    out = tmp_path / "corpus"
    manifest = build(tree, out)
    for split in SPLITS:
        digest = hashlib.sha256((out / f"{split}.jsonl").read_bytes()).hexdigest()
        assert manifest["splits"][split]["sha256"] == digest
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["manifest.json", *(f"{s}.jsonl" for s in SPLITS)])


def test_module_group_goes_wholly_to_one_split(tree, tmp_path):
    out = tmp_path / "corpus"
    build(tree, out)
    where = {r["id"]: split for split, rs in all_records(out).items() for r in rs}
    json_ids = (
        "docs/library/json.html",
        "stdlib/json/__init__.py",
        "stdlib/json/decoder.py",
        "code/json/decoder.py",
        "code/test/test_json.py",
    )
    json_docs = [i for i in where if i in json_ids]
    assert len(json_docs) == 5
    assert len({where[i] for i in json_docs}) == 1


def test_heldout_module_held_out_in_every_source(tree, tmp_path):
    # json is held out under the default split: its page, its docstrings, its
    # code and its tests are all in heldout, and no json document elsewhere.
    out = tmp_path / "corpus"
    manifest = build(tree, out)
    assert split_of("json", CorpusConfig()) == "heldout"
    assert "json" in manifest["heldout_groups"]
    records = all_records(out)
    heldout = {r["id"]: r["source"] for r in records["heldout"]}
    assert set(heldout.values()) == {"python-docs", "stdlib", "stdlib-code"}
    assert "code/test/test_json.py" in heldout
    for split in ("train", "val", "test"):
        assert not [r["id"] for r in records[split] if r["group"] == "json"], split


def test_split_of_module_groups_over_many_names():
    config = CorpusConfig()
    names = sorted(sys.stdlib_module_names)
    counts = {s: sum(split_of(n, config) == s for n in names) for s in SPLITS}
    assert all(counts.values()), counts
    assert 0.02 < counts["heldout"] / len(names) < 0.12
    # Pages and section names that are not modules are never held out.
    assert all(split_of(f"tutorial/page{i}.html", config) != "heldout" for i in range(500))
    assert all(split_of(f"notamodule{i}", config) != "heldout" for i in range(500))


def test_two_runs_are_byte_identical(tree, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    build(tree, first)
    build(tree, second)
    names = ["manifest.json", *(f"{s}.jsonl" for s in SPLITS)]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # And a rebuild over an existing output gives the same bytes again.
    build(tree, first)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_output_replaced_only_when_complete(tree, tmp_path, monkeypatch):
    out = tmp_path / "corpus"
    build(tree, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    real_rule = filters.first_broken_rule
    calls = []

    def failing_rule(text, rules=filters.RULES):
        calls.append(text)
        if len(calls) > 3:
            raise RuntimeError("failure in the middle of the pipeline")
        return real_rule(text, rules)

    monkeypatch.setattr(filters, "first_broken_rule", failing_rule)
    with pytest.raises(RuntimeError, match="middle of the pipeline"):
        build(tree, out)
    assert len(calls) == 4
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    monkeypatch.setattr(filters, "first_broken_rule", real_rule)
    build(tree, out)  # the leftover partial folder does not stand in the way
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_missing_documentation_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "DOC_ROOTS", (tmp_path / "nowhere", tmp_path / "neither"))
    with pytest.raises(sources.SourceMissing, match="apt-get install python3-doc") as info:
        sources.find_doc_root()
    assert str(tmp_path / "nowhere") in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(sources.SourceMissing, match="apt-get install python3-doc"):
        build_corpus(tmp_path / "corpus", stdlib_root=tmp_path)
    assert not (tmp_path / "corpus").exists()


def test_docs_version_unknown_without_options_file(tmp_path):
    assert sources.docs_version(tmp_path) == "unknown"


def test_module_text_puts_each_public_docstring_under_its_signature():
    # Written from the fixture by hand: the module's docstring, then the class,
    # then its method with the arguments as written.
    sections = [
        "# json.decoder",
        JSON_DECODER.split('"""')[1].strip(),
        "## class json.decoder.JSONDecoder",
        "Simple JSON decoder.",
        "## json.decoder.JSONDecoder.decode(self, s)",
        "Return the Python representation of ``s``.",
    ]
    text = sources.module_text("json.decoder", ast.parse(JSON_DECODER))
    assert text == "\n\n".join(sections)
