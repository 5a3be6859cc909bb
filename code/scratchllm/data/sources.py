"""Where the raw text comes from: Debian's python3-doc HTML pages and the
docstrings of the standard library that the running interpreter ships.

Nothing is downloaded: a missing source is an error that names the
package to install.
"""

import ast
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

DOC_ROOTS = (
    Path("/usr/share/doc/python3/html"),
    Path(f"/usr/share/doc/python3.{sys.version_info.minor}/html"),
)
# Generated navigation (indexes, search, the table of contents) is not prose.
SKIP_PAGES = re.compile(
    r"^(genindex.*|py-modindex|search|contents|index|download)\.html$"
)
# Tests and demos are code about code; private helpers have no user-facing docs.
SKIP_DIRS = set(
    "test tests idle_test site-packages __pycache__ lib2to3 idlelib "
    "turtledemo ensurepip pydoc_data".split()
)
# What a module documents besides classes: its functions, def or async def.
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class SourceMissing(FileNotFoundError):
    """A source of the corpus is not installed on this machine."""


@dataclass
class RawDocument:
    # Stable and unique: "docs/library/json.html", "stdlib/json/decoder.py".
    id: str
    source: str  # "python-docs", "python-docs-source" (reST) or "stdlib"
    # The unit kept together when splitting: a module, or the page itself.
    group: str
    raw: str  # HTML for a page, already-plain text for docstrings


def find_doc_root() -> Path:
    for root in DOC_ROOTS:
        if (root / "library").is_dir():
            return root.resolve()
    raise SourceMissing(
        "the Python documentation is not installed: run "
        "`sudo apt-get install python3-doc` "
        f"(looked in {', '.join(str(r) for r in DOC_ROOTS)})"
    )


def docs_version(root: Path) -> str:
    options = root / "_static" / "documentation_options.js"
    if not options.exists():
        return "unknown"
    found = re.search(r"VERSION:\s*'([^']+)'", options.read_text())
    return found.group(1) if found else "unknown"


def iter_doc_pages(root: Path):
    """The HTML pages of the documentation, in a fixed order."""
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("_") or SKIP_PAGES.match(rel):
            continue
        yield RawDocument(
            f"docs/{rel}",
            "python-docs",
            _group(rel, path.stem),
            path.read_text(errors="replace"),
        )


def iter_doc_sources(root: Path):
    """The reStructuredText each page was built from, which python3-doc
    installs beside it (``_sources/``): the same text a second time, as a
    crawler of the documentation folder would find it."""
    folder = root / "_sources"
    for path in sorted(folder.rglob("*.rst.txt")):
        name = path.relative_to(folder).as_posix().removesuffix(".rst.txt")
        rel = name + ".html"
        if SKIP_PAGES.match(rel):
            continue
        yield RawDocument(
            f"docs/_sources/{name}.rst.txt",
            "python-docs-source",
            _group(rel, Path(rel).stem),
            path.read_text(errors="replace"),
        )


def _group(rel: str, stem: str) -> str:
    """A library page documents a module (``library/os.path.html``): its
    top-level package is the split group; any other page is its own group."""
    return stem.split(".")[0] if rel.startswith("library/") else rel


def stdlib_root() -> Path:
    root = Path(sysconfig.get_paths()["stdlib"])
    if not (root / "json" / "__init__.py").exists():
        raise SourceMissing(f"the standard library's sources are not in {root}")
    return root


def iter_stdlib_modules(root: Path):
    """One document per module: its docstring and those of its public
    classes and functions, each under its signature."""
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        private = path.name.startswith("_") and path.name != "__init__.py"
        if private or SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        parts = rel.with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError:
            # A few files are deliberately invalid (e.g. bad_coding).
            continue
        text = module_text(module, tree)
        if text:
            yield RawDocument(
                f"stdlib/{rel.as_posix()}", "stdlib", module.split(".")[0], text
            )


def module_text(module: str, tree: ast.Module) -> str:
    """The module's docstring, then those of its public classes, methods and
    functions, each under a heading with its signature."""
    sections = []
    doc = ast.get_docstring(tree)
    if doc:
        sections.append(f"# {module}\n\n{doc}")
    for node in tree.body:
        if _public(node, ast.ClassDef):
            sections.append(_entry(f"class {module}.{node.name}", node))
            for item in node.body:
                if _public(item, FUNCTIONS):
                    heading = f"{module}.{node.name}.{_signature(item)}"
                    sections.append(_entry(heading, item))
        elif _public(node, FUNCTIONS):
            sections.append(_entry(f"{module}.{_signature(node)}", node))
    return "\n\n".join(s for s in sections if s)


def _public(node: ast.stmt, kinds) -> bool:
    return isinstance(node, kinds) and not node.name.startswith("_")


def _signature(node) -> str:
    return f"{node.name}({ast.unparse(node.args)})"


def _entry(heading: str, node) -> str:
    doc = ast.get_docstring(node)
    return f"## {heading}\n\n{doc}" if doc else ""
