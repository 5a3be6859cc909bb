"""scratchllm.data.clean on real fragments of the Sphinx-built Python docs.

The HTML below is copied from python3-doc's library/json.html (Python
3.11.2, Sphinx 5.3.0), shortened but not rewritten, so the tests see the
markup the pipeline meets: spans in code, entities, <p> inside <li> and
<td>, permalink anchors, navigation before and after the main content.
"""

import unicodedata

import pytest

from scratchllm.data.clean import html_to_text, normalize, rst_to_text

HEAD = """
<!DOCTYPE html>

<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" /><meta name="generator" content="Docutils 0.19: https://docutils.sourceforge.io/" />

    <title>json — JSON encoder and decoder &#8212; Python 3.11.2 documentation</title><meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link rel="stylesheet" type="text/css" href="../_static/pygments.css" />
    <script data-url_root="../" id="documentation_options" src="../_static/documentation_options.js"></script>
    <script src="../_static/jquery.js"></script>
    <style>
      @media only screen {
        table.full-width-table {
            width: 100%;
        }
      }
    </style>
  </head>
<body>
<div class="mobile-nav">
    <input type="checkbox" id="menuToggler" class="toggler__input" aria-controls="navigation"
           aria-pressed="false" aria-expanded="false" role="button" aria-label="Menu" />
    <nav class="nav-content" role="navigation">
         <a href="https://www.python.org/" class="nav-logo">
             <img src="../_static/py.svg" alt="Logo"/>
         </a>
    </nav>
</div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation">
  <div class="sphinxsidebarwrapper">
  <div>
    <h4>Next topic</h4>
    <p class="topless"><a href="mailbox.html"
                          title="next chapter"><code class="xref py py-mod docutils literal notranslate"><span class="pre">mailbox</span></code> — Manipulate mailboxes in various formats</a></p>
  </div>
  <div role="note" aria-label="source link">
    <h3>This Page</h3>
    <ul class="this-page-menu">
      <li><a href="../bugs.html">Report a Bug</a></li>
    </ul>
  </div>
  </div>
</div>
    <div class="related" role="navigation" aria-label="related navigation">
      <h3>Navigation</h3>
      <ul>
        <li class="right" style="margin-right: 10px">
          <a href="../genindex.html" title="General Index"
             accesskey="I">index</a></li>
      </ul>
    </div>

    <div class="document">
      <div class="documentwrapper">
        <div class="bodywrapper">
          <div class="body" role="main">
"""

TAIL = """
          </div>
        </div>
      </div>
    </div>
    <div class="related" role="navigation" aria-label="related navigation">
      <h3>Navigation</h3>
      <ul>
          <li><a href="https://www.python.org/">Python</a> &#187;</li>
        <li class="right">
    <div class="inline-search" role="search">
        <form class="inline-search" action="../search.html" method="get">
          <input placeholder="Quick search" aria-label="Quick search" type="text" name="q" />
          <input type="submit" value="Go" />
        </form>
    </div>
        </li>
      </ul>
    </div>
    <div class="footer">
    &copy; <a href="../copyright.html">Copyright</a> 2001-2026, Python Software Foundation.
    <br />
    Created using <a href="https://www.sphinx-doc.org/">Sphinx</a> 5.3.0.
    </div>
  </body>
</html>
"""

HEADING = """
  <section id="module-json">
<span id="json-json-encoder-and-decoder"></span><h1><a class="reference internal" href="#module-json" title="json: Encode and decode the JSON format."><code class="xref py py-mod docutils literal notranslate"><span class="pre">json</span></code></a> — JSON encoder and decoder<a class="headerlink" href="#module-json" title="Permalink to this heading">¶</a></h1>
"""

PARAGRAPH = """
<p><a class="reference external" href="https://json.org">JSON (JavaScript Object Notation)</a>, specified by
<span class="target" id="index-0"></span><a class="rfc reference external" href="https://datatracker.ietf.org/doc/html/rfc7159.html"><strong>RFC 7159</strong></a> (which obsoletes <span class="target" id="index-1"></span><a class="rfc reference external" href="https://datatracker.ietf.org/doc/html/rfc4627.html"><strong>RFC 4627</strong></a>) and by
<a class="reference external" href="https://www.ecma-international.org/publications-and-standards/standards/ecma-404/">ECMA-404</a>,
is a lightweight data interchange format inspired by
<a class="reference external" href="https://en.wikipedia.org/wiki/JavaScript">JavaScript</a> object literal syntax
(although it is not a strict subset of JavaScript <a class="footnote-reference brackets" href="#rfc-errata" id="id1" role="doc-noteref"><span class="fn-bracket">[</span>1<span class="fn-bracket">]</span></a> ).</p>
"""

CODE = """
<p>Pretty printing:</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="kn">import</span> <span class="nn">json</span>
<span class="gp">&gt;&gt;&gt; </span><span class="nb">print</span><span class="p">(</span><span class="n">json</span><span class="o">.</span><span class="n">dumps</span><span class="p">({</span><span class="s1">&#39;4&#39;</span><span class="p">:</span> <span class="mi">5</span><span class="p">,</span> <span class="s1">&#39;6&#39;</span><span class="p">:</span> <span class="mi">7</span><span class="p">},</span> <span class="n">sort_keys</span><span class="o">=</span><span class="kc">True</span><span class="p">,</span> <span class="n">indent</span><span class="o">=</span><span class="mi">4</span><span class="p">))</span>
<span class="go">{</span>
<span class="go">    &quot;4&quot;: 5,</span>
<span class="go">    &quot;6&quot;: 7</span>
<span class="go">}</span>
</pre></div>
</div>
"""

LIST = """
<p>This module does not comply with the RFC in a strict fashion, implementing some
extensions that are valid JavaScript but not valid JSON.  In particular:</p>
<ul class="simple">
<li><p>Infinite and NaN number values are accepted and output;</p></li>
<li><p>Repeated names within an object are accepted, and only the value of the last
name-value pair is used.</p></li>
</ul>
"""

TABLE = """
<dd><p>Simple JSON decoder.</p>
<p>Performs the following translations in decoding by default:</p>
<table class="docutils align-default" id="json-to-py-table">
<thead>
<tr class="row-odd"><th class="head"><p>JSON</p></th>
<th class="head"><p>Python</p></th>
</tr>
</thead>
<tbody>
<tr class="row-even"><td><p>object</p></td>
<td><p>dict</p></td>
</tr>
<tr class="row-odd"><td><p>array</p></td>
<td><p>list</p></td>
</tr>
</tbody>
</table>
</dd>
"""

SCRIPT_INSIDE = """
<script type="text/javascript">var SCRIPT_INSIDE_MAIN = "should not appear";</script>
<p>Since the RFC permits RFC-compliant parsers to accept input texts that are not
RFC-compliant, this module&#8217;s deserializer is technically RFC-compliant under
default settings.</p>
</section>
"""

BODY = HEADING + PARAGRAPH + CODE + LIST + TABLE + SCRIPT_INSIDE
PAGE = HEAD + BODY + TAIL


def page_text(body: str = BODY) -> str:
    return html_to_text(HEAD + body + TAIL)[1]


def test_title_without_documentation_suffix():
    title, _ = html_to_text(PAGE)
    assert title == "json — JSON encoder and decoder"


def test_navigation_sidebars_footer_and_scripts_are_gone():
    text = page_text()
    navigation = ["Next topic", "This Page", "Report a Bug", "Navigation", "index", "Logo"]
    other = ["Quick search", "Copyright", "Sphinx", "jquery", "full-width-table"]
    for outside in [*navigation, *other, "Manipulate mailboxes"]:
        assert outside not in text
    assert "SCRIPT_INSIDE_MAIN" not in text
    assert "should not appear" not in text


def test_only_main_content_is_kept():
    text = page_text()
    assert text.startswith("# json — JSON encoder and decoder")
    assert text.endswith("default settings.")


def test_heading_becomes_hash_line_without_headerlink():
    lines = page_text(HEADING).split("\n")
    assert lines[0] == "# json — JSON encoder and decoder"
    assert "¶" not in page_text()
    assert "Permalink" not in page_text()


def test_heading_levels():
    body = (
        '<h2>Basic Usage<a class="headerlink" href="#basic-usage" title="Permalink to this '
        'heading">¶</a></h2>\n<h3>Character Encodings<a class="headerlink" '
        'href="#character-encodings" title="Permalink to this heading">¶</a></h3>'
    )
    assert page_text(body).split("\n\n") == ["## Basic Usage", "### Character Encodings"]


def test_paragraph_whitespace_collapsed_on_one_line():
    assert page_text(PARAGRAPH) == (
        "JSON (JavaScript Object Notation), specified by RFC 7159 (which obsoletes RFC 4627) "
        "and by ECMA-404, is a lightweight data interchange format inspired by JavaScript "
        "object literal syntax (although it is not a strict subset of JavaScript [1] )."
    )


def test_list_items_are_dash_lines():
    lines = [line for line in page_text(LIST).split("\n") if line]
    assert lines[0].startswith("This module does not comply")
    assert "valid JavaScript but not valid JSON. In particular:" in lines[0]  # 2 spaces -> 1
    assert lines[1:] == [
        "- Infinite and NaN number values are accepted and output;",
        "- Repeated names within an object are accepted, and only the value of the last "
        "name-value pair is used.",
    ]


def test_code_block_fenced_with_whitespace_and_entities():
    text = page_text(CODE)
    expected = [
        "Pretty printing:",
        "",
        "```",
        ">>> import json",
        ">>> print(json.dumps({'4': 5, '6': 7}, sort_keys=True, indent=4))",
        "{",
        '    "4": 5,',
        '    "6": 7',
        "}",
        "```",
    ]
    assert text == "\n".join(expected)


def test_entities_decoded():
    text = page_text()
    assert "&#" not in text and "&quot;" not in text and "&gt;" not in text
    assert "this module’s deserializer" in text  # &#8217;


# The void elements of the HTML standard (WHATWG, section 13.1.2, "Elements"):
# written without an end tag, so the parser never sees one close.
VOID_ELEMENTS = "area base br col embed hr img input link meta source track wbr".split()


@pytest.mark.parametrize("tag", VOID_ELEMENTS)
def test_void_element_inside_a_dropped_element_ends_with_it(tag):
    # The page's own search box: <input> inside a dropped <form>.
    body = f'<p>Before.</p>\n<form action="search.html"><{tag} name="q"></form>\n<p>After.</p>'
    assert page_text(body) == "Before.\n\nAfter."


@pytest.mark.parametrize("tag", VOID_ELEMENTS)
def test_void_element_marked_as_a_permalink_skips_nothing(tag):
    body = f'<p>Before <{tag} class="headerlink"> after.</p>'
    assert page_text(body) == "Before after."


def test_table_cells_joined_on_one_line():
    # Sphinx wraps every cell's text in <p>: the row must still be one line.
    lines = page_text(TABLE).split("\n")
    rows = [line.strip("| ").split(" | ") for line in lines if "|" in line]
    assert rows == [["JSON", "Python"], ["object", "dict"], ["array", "list"]], lines


def test_table_surrounding_prose_kept():
    text = page_text(TABLE)
    assert "Simple JSON decoder." in text
    assert "Performs the following translations in decoding by default:" in text


def test_nfc_normalisation_of_decomposed_text():
    decomposed = "caf" + "e\u0301"
    assert [unicodedata.name(c) for c in decomposed[3:]] == [
        "LATIN SMALL LETTER E",
        "COMBINING ACUTE ACCENT",
    ]
    text = page_text(f"<p>Un {decomposed} au lait.</p>")
    assert text == "Un caf\u00e9 au lait."
    assert normalize(decomposed) == "caf\u00e9"


def test_normalize_keeps_code_indentation_and_one_blank_line():
    text = "a  \t b\n\n\n\nc\n```\n\n    x = 1\n\n\n    y  =  2\n\n```\n"
    assert normalize(text) == "a b\n\nc\n```\n    x = 1\n\n    y  =  2\n```"


def test_page_without_main_content_is_empty():
    assert html_to_text(HEAD.split('<div class="body"')[0] + TAIL)[1] == ""


# --- reStructuredText ------------------------------------------------------

RST = """\
:mod:`json` --- JSON encoder and decoder
========================================

.. module:: json
   :synopsis: Encode and decode the JSON format.

**Source code:** :source:`Lib/json/__init__.py`

--------------

`JSON (JavaScript Object Notation) <https://json.org>`_, specified by
:rfc:`7159` (which obsoletes :rfc:`4627`) and by
`ECMA-404 <https://www.ecma-international.org/publications-and-standards/standards/ecma-404/>`_,
is a lightweight data interchange format.

Basic Usage
-----------

.. function:: dumps(obj)

   Serialize *obj* to a JSON formatted :class:`str` using this conversion table.

   .. versionchanged:: 3.3
      Uses :func:`json.dumps` and ``sort_keys``.
"""


def test_rst_roles_unwrapped():
    assert rst_to_text(":func:`json.dumps`") == "json.dumps"
    assert rst_to_text(":class:`~a.B`") == "a.B"
    assert rst_to_text(":meth:`JSONEncoder.default`") == "JSONEncoder.default"
    assert (
        rst_to_text("are now :ref:`keyword-only <keyword-only_parameter>`.")
        == "are now keyword-only."
    )
    assert rst_to_text(":rfc:`7159`") == "RFC 7159"  # as Sphinx renders it


def test_rst_hyperlinks_with_targets():
    assert (
        rst_to_text("`JSON (JavaScript Object Notation) <https://json.org>`_, specified")
        == "JSON (JavaScript Object Notation), specified"
    )


def test_rst_anonymous_hyperlink():
    # `text <url>`__ (two underscores: an anonymous link) is used ~100 times
    # in python3-doc's _sources, e.g. library/importlib.rst.txt.
    assert (
        rst_to_text("(e.g. `JSON-RPC <https://www.jsonrpc.org>`__ class hinting)")
        == "(e.g. JSON-RPC class hinting)"
    )


def test_rst_role_with_exclamation_mark():
    # ``:option:`!-n``` is a role whose target is not linked; Sphinx renders
    # "-n" (library/2to3.rst.txt; about 750 uses in python3-doc's _sources).
    assert rst_to_text("unless :option:`!-n` is also given") == "unless -n is also given"


def test_rst_role_across_lines():
    # library/json.rst.txt, dumps(): the role's text wraps onto the next line.
    text = rst_to_text(
        "   Serialize *obj* to a JSON formatted :class:`str` using this :ref:`conversion\n"
        "   table <py-to-json-table>`."
    )
    assert "`" not in text and "py-to-json-table" not in text, text
    assert (
        " ".join(text.split())
        == "Serialize obj to a JSON formatted str using this conversion table."
    )


def test_rst_indented_line_starting_with_a_role_is_kept():
    # library/json.rst.txt, loads(): a body line that begins with a role is
    # prose, not a directive option like "   :synopsis: ...".
    text = rst_to_text(
        ".. function:: loads(s)\n\n"
        "   Deserialize *s* to a Python object using this\n"
        "   :ref:`conversion table <json-to-py-table>`.\n"
    )
    assert text.split("\n") == [
        "loads(s)",
        "",
        "Deserialize s to a Python object using this",
        "conversion table.",
    ]


def test_rst_directive_options_dropped():
    text = rst_to_text(".. module:: json\n   :synopsis: Encode and decode the JSON format.\n")
    assert text == "json"


def test_rst_literals_and_emphasis():
    assert rst_to_text("``sort_keys`` and *obj* and **kw**") == "sort_keys and obj and kw"


def test_rst_directives_reduced():
    assert rst_to_text(".. versionchanged:: 3.3") == "Changed in version 3.3:"
    assert rst_to_text(".. versionadded:: 3.5") == "New in version 3.5."
    assert rst_to_text(".. deprecated:: 3.4") == "Deprecated since version 3.4:"
    assert rst_to_text(".. function:: dumps(obj)") == "dumps(obj)"
    assert rst_to_text(".. note::\n   Text.") == "Note\nText."


def test_rst_document():
    text = rst_to_text(RST)
    lines = text.split("\n")
    assert lines[0] == "json --- JSON encoder and decoder"
    assert not any(set(line) <= set("=-") and line for line in lines)  # underlines dropped
    assert ":synopsis:" not in text
    assert "Source code: Lib/json/__init__.py" in lines
    assert "Basic Usage" in lines
    assert "dumps(obj)" in lines
    assert "Serialize obj to a JSON formatted str using this conversion table." in lines
    assert "Changed in version 3.3:" in lines
    assert "Uses json.dumps and sort_keys." in lines
    assert "JSON (JavaScript Object Notation), specified by" in lines
    assert "RFC 7159 (which obsoletes RFC 4627) and by" in lines
    assert "ECMA-404," in lines
    assert "`" not in text


def test_rst_literal_block_marker():
    assert (
        rst_to_text("Encoding basic Python object hierarchies::\n\n    >>> import json")
        == "Encoding basic Python object hierarchies:\n\n>>> import json"
    )
