"""Instruction/response pairs generated from the standard library, for
instruction tuning: none is typed by hand, every one is derived from what a
module's source says (signatures, docstrings, their doctest examples).

    stdlib sources -> documented functions, classes and methods
        -> examples of eight kinds -> checked doctests -> capped -> splits

Open-book kinds put the answer in the prompt: a small model succeeds by
reading.  Closed-book kinds ask what pretraining had to store; on the
modules that pretraining never saw (the test split) a model cannot know.

The sources are read with ``ast`` from Debian's tree, as the corpus reads
them; only the doctest check runs code, in a subprocess.
"""

import ast
import builtins
import copy
import doctest
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..io import atomic_write
from . import sources
from .corpus import CorpusConfig, _unit_interval, split_of

KINDS = (
    # Open book: the answer is in the prompt.
    "first_sentence",  # a docstring -> its first sentence
    "parameters",  # a signature -> its parameter names, in order
    "returns",  # a docstring -> its sentence that says what it returns
    "name",  # signature and summary -> which of four names it is
    "doctest",  # a doctest session -> what its last line prints
    # Closed book: the answer is what pretraining stored.
    "summary",  # "What does json.dumps do?" -> the first sentence
    "signature",  # "What is the signature of json.dumps?"
    "module",  # "Which module provides dumps?" -> json
)

# Doctests not run, by group: running them touches files, the network,
# other processes or the screen, or their output depends on the clock,
# chance or the machine.
UNRUN = {
    "files": "os shutil tempfile glob pathlib zipfile tarfile filecmp "
    "fileinput",
    "network": "socket ssl http urllib ftplib smtplib poplib imaplib xmlrpc "
    "asyncio webbrowser antigravity",
    "processes": "subprocess multiprocessing concurrent threading signal pty",
    "clock or chance": "time datetime random secrets uuid timeit",
    "the machine": "platform sysconfig importlib site",
    "the screen": "turtle tkinter curses",
}
UNRUN_GROUPS = frozenset(" ".join(UNRUN.values()).split())


@dataclass(frozen=True)
class InstructionConfig:
    doc_chars: int = 400  # of a docstring shown in a prompt, at a line end
    max_response: int = 200  # characters
    # Prompt plus response: the CPU model reads 256 tokens of about 3-4
    # characters.
    max_example: int = 1000
    max_output: int = 80  # a doctest's expected output, characters...
    max_output_lines: int = 2  # ...and lines
    candidates: int = 4  # names offered by the "name" kind, the true one too
    per_group_kind: int = 6  # so that big modules do not dominate
    val_fraction: float = 0.1  # of the groups not held out
    timeout: float = 5.0  # seconds per doctest example


# --- what the standard library documents --------------------------------------


@dataclass(frozen=True)
class Documented:
    """A public function, class or method with a docstring."""

    group: str  # the split group: json
    module: str  # as imported: json (JSONDecoder is defined in json.decoder)
    defined_in: str  # the file's module: json.decoder
    name: str  # qualified: json.dumps, json.JSONDecoder.decode
    kind: str  # "function", "class" or "method"
    # "dumps(obj, *, skipkeys=False)"; a class's is its __init__'s, without
    # self.  None for a property, or a class that defines no __init__.
    signature: str | None
    parameters: tuple[str, ...]  # obj, skipkeys, ..., *args, **kwargs
    doc: str  # ast.get_docstring's: dedented, stripped
    # Its short name is bound by no other module read, nor a builtin, so
    # "which module provides it?" has one answer.
    unique: bool
    # The other functions of the same module (methods of the same class)
    # that have a signature: the "name" kind's wrong candidates.
    siblings: tuple[str, ...]


def documented(stdlib_root: Path) -> list[Documented]:
    """Every public function, class and method with a docstring, of the
    public modules and packages' public submodules, in file and source
    order; the name is the public one a package re-exports."""
    trees = list(_module_trees(stdlib_root))
    exported = {module: _exported(tree) for module, _, tree in trees}
    aliases, bound = {}, defaultdict(set)
    for module, _, tree in trees:
        aliases.update(_reexports(module, tree, exported))
        for name in _bound_names(tree):
            bound[name].add(module)
    found, seen = [], set()
    for module, group, tree in trees:
        for node, parent in _public_nodes(tree):
            doc = ast.get_docstring(node)
            top = parent or node
            public = aliases.get((module, top.name), module)
            qualified = ".".join(
                [public] + ([parent.name] if parent else []) + [node.name]
            )
            if not doc or qualified in seen:
                continue
            seen.add(qualified)
            signature, parameters = _signature(node, method=bool(parent))
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            unique = len(bound[node.name]) == 1
            found.append(
                Documented(
                    group=group,
                    module=public,
                    defined_in=module,
                    name=qualified,
                    kind="method" if parent else kind,
                    signature=signature,
                    parameters=parameters,
                    doc=doc,
                    unique=unique and not hasattr(builtins, node.name),
                    siblings=(),
                )
            )
    return _with_siblings(found)


def _module_trees(root: Path):
    """(dotted module, split group, ast) of each public module file, walked
    as sources.iter_stdlib_modules walks: no tests, no private files, and
    here no private packages either (__phello__)."""
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if sources.SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        parts = rel.with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or any(part.startswith("_") for part in parts):
            continue
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError:  # broken on purpose
            continue
        yield ".".join(parts), sources.module_group(parts[0]), tree


def _public_nodes(tree: ast.Module):
    """(node, its class or None): the top-level public functions and
    classes, and the public methods of those classes."""
    for node in tree.body:
        if sources._public(node, ast.ClassDef):
            yield node, None
            for item in node.body:
                if sources._public(item, sources.FUNCTIONS):
                    yield item, node
        elif sources._public(node, sources.FUNCTIONS):
            yield node, None


def _reexports(package: str, tree: ast.Module, exported: dict) -> dict:
    """{(submodule, name): package} for what a package's __init__ imports
    from its own submodules: json imports JSONDecoder from json.decoder,
    asyncio imports * from asyncio.tasks (its literal __all__, in
    ``exported``)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            relative = node.level == 1
            sub = f"{package}.{node.module}" if relative else node.module
            if relative or sub.startswith(package + "."):
                for alias in node.names:
                    star = alias.name == "*"
                    for name in exported.get(sub, ()) if star else [alias.name]:
                        found[sub, name] = package
    return found


def _exported(tree: ast.Module) -> tuple[str, ...]:
    """A module's __all__, if it is a literal list of names."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(target, "id", "") == "__all__" for target in node.targets
        ):
            try:
                return tuple(ast.literal_eval(node.value))
            except ValueError:
                return ()
    return ()


def _bound_names(tree: ast.Module) -> set[str]:
    """The public names a module binds at its top level, inside if and try
    blocks too (pickle binds dumps by ``dumps = _dumps``, or imports it from
    _pickle); names imported from public modules are theirs, not its."""
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.If, ast.Try)):
            todo += node.body + node.orelse + getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                todo += handler.body
        elif isinstance(node, (ast.ClassDef, *sources.FUNCTIONS)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = getattr(node, "targets", [getattr(node, "target", None)])
            for target in targets:
                names.update(
                    n.id for n in ast.walk(target) if isinstance(n, ast.Name)
                )
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module.startswith("_"):  # a C accelerator: _pickle
                names.update(a.asname or a.name for a in node.names)
    return {name for name in names if not name.startswith("_")}


def _signature(node, method: bool) -> tuple[str | None, tuple[str, ...]]:
    """(signature text, parameter names) of a function or method, or of a
    class's __init__; a method's self or cls is left out."""
    if isinstance(node, ast.ClassDef):
        init = [n for n in node.body if getattr(n, "name", "") == "__init__"]
        if not init or not isinstance(init[0], sources.FUNCTIONS):
            return None, ()
        args = _without_first(init[0].args)
    else:
        decorators = {ast.unparse(d) for d in node.decorator_list}
        if any(
            d.endswith(("property", ".setter", ".deleter")) for d in decorators
        ):
            return None, ()
        static = "staticmethod" in decorators
        args = _without_first(node.args) if method and not static else node.args
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return f"{node.name}({ast.unparse(args)})", tuple(names)


def _without_first(args: ast.arguments) -> ast.arguments:
    """The arguments less the first positional one (self, cls).  Defaults
    belong to the last positional arguments, so they stay as they are."""
    args = copy.copy(args)
    if args.posonlyargs:
        args.posonlyargs = args.posonlyargs[1:]
    elif args.args:
        args.args = args.args[1:]
    return args


def _with_siblings(found: list[Documented]) -> list[Documented]:
    """Each record with the short names of the other functions that share
    its module (methods that share its class)."""
    by_parent = defaultdict(set)
    for d in found:
        if d.kind != "class" and d.signature:
            by_parent[_parent(d.name)].add(_short(d.name))
    return [
        replace(
            d,
            siblings=tuple(
                sorted(by_parent[_parent(d.name)] - {_short(d.name)})
            ),
        )
        for d in found
    ]


def _parent(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# --- sentences and excerpts ---------------------------------------------------

# A period that ends a sentence: followed by a space, a line end or the end,
# and not that of "e.g." or "i.e.".
SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.(?=\s|$)")


def sentences(text: str) -> list[str]:
    """The sentences of a text, each on one line: a paragraph (blank-line
    separated) is cut after each SENTENCE_END, and its end ends one too."""
    found = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        flat = " ".join(paragraph.split())
        start = 0
        for end in SENTENCE_END.finditer(flat):
            found.append(flat[start : end.end()].strip())
            start = end.end()
        if flat[start:].strip():
            found.append(flat[start:].strip())
    return found


def excerpt(text: str, budget: int) -> str:
    """The text, or as many of its first lines as fit in ``budget``
    characters (the first line cut at ``budget`` if it alone is longer)."""
    if len(text) <= budget:
        return text
    cut = text.rfind("\n", 0, budget + 1)
    return text[:cut].rstrip() if cut > 0 else text[:budget]


def _summary(d: Documented) -> str | None:
    """The first sentence of the docstring; None where that is a signature
    (``makedirs(name [, mode=0o777])``), which says nothing of what it
    does."""
    first = sentences(d.doc)[0]
    return None if first.startswith(_short(d.name) + "(") else first


def _shows(text: str, sentence: str) -> bool:
    """Whether the sentence is in the text, up to line breaks."""
    return sentence in " ".join(text.split())


# --- the examples -------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    kind: str  # one of KINDS
    group: str
    name: str  # qualified: json.dumps
    instruction: str
    response: str
    # What check_doctest needs (doctest examples only): the module whose
    # namespace the session runs in, the examples shown before the asked
    # one (with their outputs), and the asked one's source.
    module: str = ""
    setup: str = ""
    source: str = ""


def _example(kind, d: Documented, instruction, response, config, **check):
    """The example, or None if it is longer than the config allows."""
    too_long = len(response) > config.max_response
    if too_long or len(instruction) + len(response) > config.max_example:
        return None
    return Example(kind, d.group, d.name, instruction, response, **check)


def ask_first_sentence(d: Documented, config) -> Example | None:
    """Only where the docstring says more than its first sentence."""
    shown = excerpt(d.doc, config.doc_chars)
    first = _summary(d)
    if not first or len(sentences(d.doc)) < 2 or not _shows(shown, first):
        return None
    prompt = f"Docstring:\n{shown}\n\nWhat is its first sentence?"
    return _example("first_sentence", d, prompt, first, config)


def ask_parameters(d: Documented, config) -> Example | None:
    if not d.parameters:
        return None
    prompt = (
        f"Signature: {d.signature}\n\n"
        "List its parameters, in order, separated by commas."
    )
    return _example("parameters", d, prompt, ", ".join(d.parameters), config)


def ask_returns(d: Documented, config) -> Example | None:
    """Only where a sentence other than the first starts with Return(s):
    finding it is a real search."""
    shown = excerpt(d.doc, config.doc_chars)
    found = [s for s in sentences(d.doc)[1:] if re.match(r"Returns?\b", s)]
    if not found or not _shows(shown, found[0]):
        return None
    prompt = (
        f"Docstring of `{d.name}`:\n{shown}\n\n"
        "What does it return? Answer with the sentence that says so."
    )
    return _example("returns", d, prompt, found[0], config)


def ask_name(d: Documented, config) -> Example | None:
    """Four names of the same module (class), the true one among them, in
    an order fixed by a hash; only if the summary does not give it away."""
    others = config.candidates - 1
    if d.kind == "class" or not d.signature or len(d.siblings) < others:
        return None
    short, summary = _short(d.name), _summary(d)
    if not summary or re.search(rf"\b{re.escape(short)}\b", summary, re.I):
        return None
    wrong = sorted(d.siblings, key=lambda s: _unit_interval(f"{d.name}:{s}"))
    names = sorted(
        [short, *wrong[:others]],
        key=lambda s: _unit_interval(f"order:{d.name}:{s}"),
    )
    prompt = (
        f"def ?{d.signature[len(short) :]}\n{summary}\n\n"
        f"Which function is it: {', '.join(names)}?"
    )
    return _example("name", d, prompt, short, config)


def ask_doctest(d: Documented, config) -> Example | None:
    """The last example of the docstring with a short output and no
    directive (an ELLIPSIS would accept wrong answers) whose session fits;
    those before it are shown with their outputs.  Unchecked: build_examples
    keeps it only if check_doctest reproduces the output."""
    if d.group in UNRUN_GROUPS:
        return None
    try:
        examples = doctest.DocTestParser().get_examples(d.doc)
    except ValueError:  # a malformed session
        return None
    for i in reversed(range(len(examples))):
        want = examples[i].want.strip()
        lines = want.count("\n") + 1
        short = (
            len(want) <= config.max_output and lines <= config.max_output_lines
        )
        if not want or not short or examples[i].options:
            continue
        # The asked line without its output: that is the answer.
        setup = _session(examples[:i])
        asked = _session(examples[i : i + 1], outputs=False)
        session = "\n".join(filter(None, [setup, asked]))
        prompt = (
            f"In the module `{d.defined_in}`:\n{session}\n\n"
            "What does the last line print?"
        )
        found = _example(
            "doctest",
            d,
            prompt,
            want,
            config,
            module=d.defined_in,
            setup=setup,
            source=examples[i].source,
        )
        if found:
            return found
    return None


def _session(examples, outputs=True) -> str:
    """Doctest examples as an interactive session, with their outputs
    unless outputs=False."""
    lines = []
    for example in examples:
        first, *more = example.source.rstrip("\n").split("\n")
        lines.append(">>> " + first)
        lines += [f"... {line}".rstrip() for line in more]
        if outputs and example.want:
            lines.append(example.want.rstrip("\n"))
    return "\n".join(lines)


def ask_summary(d: Documented, config) -> Example | None:
    question = "What is" if d.kind == "class" else "What does"
    verb = "?" if d.kind == "class" else " do?"
    prompt = f"{question} `{d.name}`{verb}"
    first = _summary(d)
    return _example("summary", d, prompt, first, config) if first else None


def ask_signature(d: Documented, config) -> Example | None:
    if not d.signature:
        return None
    prompt = f"What is the signature of `{d.name}`?"
    response = _parent(d.name) + "." + d.signature
    return _example("signature", d, prompt, response, config)


def ask_module(d: Documented, config) -> Example | None:
    if d.kind == "method" or not d.unique:
        return None
    prompt = f"Which module provides `{_short(d.name)}`?"
    return _example("module", d, prompt, d.module, config)


ASK = {kind: globals()[f"ask_{kind}"] for kind in KINDS}


# --- the doctest check --------------------------------------------------------

# Run in a fresh interpreter: reads [{module, setup, source, answer}, ...]
# on stdin, prints one JSON list of booleans as its last line.  Each session
# runs in a copy of its module's namespace, as DocTestFinder's tests do;
# SIGALRM ends an example that runs too long (doctest reports it failed).
_RUNNER = r"""
import doctest, importlib, json, signal, sys

def too_long(signum, frame):
    raise TimeoutError("the example ran too long")

def passes(item, seconds):
    parser = doctest.DocTestParser()
    examples = parser.get_examples(item["setup"])
    examples.append(doctest.Example(item["source"], item["answer"]))
    module = importlib.import_module(item["module"])
    test = doctest.DocTest(examples, dict(vars(module)), "check", None, 0, None)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return runner.run(test, out=lambda report: None).failed == 0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

signal.signal(signal.SIGALRM, too_long)
seconds, path, items = json.load(sys.stdin)
sys.path += path
results = []
for item in items:
    try:
        results.append(passes(item, seconds))
    except BaseException:
        results.append(False)
print("\n" + json.dumps(results), file=sys.__stdout__)
"""


def check_doctest(example: Example, answer: str, timeout=5.0, path=()) -> bool:
    """Whether ``answer`` is what the example's last line prints, by
    doctest: the setup and the asked line run in a fresh interpreter, in a
    copy of the module's namespace, with the answer as expected output.
    Whitespace is normalized (NORMALIZE_WHITESPACE); there is no ELLIPSIS,
    so "..." is no answer to everything.  A crash, an exception that was
    not the answer, or more than ``timeout`` seconds: False.  ``path``:
    folders the interpreter searches after its own (a test's fake tree)."""
    return check_doctests([(example, answer)], timeout, path)[0]


def check_doctests(pairs, timeout=5.0, path=()) -> list[bool]:
    """check_doctest for many (example, answer) pairs: one interpreter per
    module, which its sessions share, as one doctest run of a module does;
    if it crashes, each of them runs again alone."""
    results = [False] * len(pairs)
    by_module = defaultdict(list)
    for i, (example, _) in enumerate(pairs):
        by_module[example.module].append(i)
    for indices in by_module.values():
        found = _run_checks([pairs[i] for i in indices], timeout, path)
        if found is None and len(indices) > 1:
            found = [
                (_run_checks([pairs[i]], timeout, path) or [False])[0]
                for i in indices
            ]
        for i, result in zip(
            indices, found or [False] * len(indices), strict=True
        ):
            results[i] = result
    return results


def _run_checks(pairs, timeout, path) -> list[bool] | None:
    """The runner's results for the pairs, or None if it did not finish."""
    items = [
        {
            "module": example.module,
            "setup": example.setup,
            "source": example.source,
            "answer": answer.strip() + "\n",
        }
        for example, answer in pairs
    ]
    payload = json.dumps([timeout, [str(p) for p in path], items])
    with tempfile.TemporaryDirectory() as cwd:
        # A fixed hash seed: a set prints in the same order every run.  No
        # PYTHONPATH, no user site (-s), a scratch folder as cwd and HOME.
        env = {
            "PATH": os.defpath,
            "HOME": cwd,
            "PYTHONHASHSEED": "0",
            "PYTHONUTF8": "1",
            "TZ": "UTC",
        }
        try:
            done = subprocess.run(
                [sys.executable, "-s", "-c", _RUNNER],
                input=payload,
                capture_output=True,
                text=True,
                cwd=cwd,
                env=env,
                timeout=timeout * len(items) + 10,
            )
        except subprocess.TimeoutExpired:
            return None
    lines = done.stdout.strip().split("\n")
    if done.returncode != 0 or not lines[-1].startswith("["):
        return None
    return json.loads(lines[-1])


# --- the dataset --------------------------------------------------------------


def build_examples(
    stdlib_root=None, heldout_groups=None, config=InstructionConfig()
) -> dict[str, list[Example]]:
    """{"train", "val", "test"}: lists of Examples.  Test holds only the
    groups pretraining held out (by default those corpus.split_of holds out,
    which the corpus manifest lists); train and val split the others by
    group, val_fraction of them to val by a hash of the name.  Each group
    gives at most per_group_kind examples of each kind, chosen by a hash."""
    root = Path(stdlib_root or sources.stdlib_root())
    found = documented(root)
    if heldout_groups is None:
        groups = {d.group for d in found}
        heldout_groups = {g for g in groups if _held_out(g)}
    candidates = [
        example
        for d in found
        for kind in KINDS
        if (example := ASK[kind](d, config))
    ]
    # The self-consistency filter: a doctest stays if its true output is
    # reproduced by the interpreter that runs the build.
    doctests = [e for e in candidates if e.kind == "doctest"]
    # The tree's folder comes after the interpreter's own on its path: a
    # module is imported from it only where the interpreter has none of
    # that name (a test's fake standard library).
    passed = check_doctests(
        [(e, e.response) for e in doctests], config.timeout, [root]
    )
    failed = {id(e) for e, ok in zip(doctests, passed, strict=True) if not ok}
    kept = _capped([e for e in candidates if id(e) not in failed], config)
    splits = {"train": [], "val": [], "test": []}
    for example in kept:
        splits[_split(example.group, heldout_groups, config)].append(example)
    return splits


def _held_out(group: str) -> bool:
    return split_of(group, CorpusConfig()) == "heldout"


def _split(group: str, heldout_groups, config) -> str:
    if group in heldout_groups:
        return "test"
    if _unit_interval(f"instructions:{group}") < config.val_fraction:
        return "val"
    return "train"


def _capped(examples: list[Example], config) -> list[Example]:
    """At most per_group_kind examples of each (group, kind), those first
    in a hash order of their names; sorted by group, kind, name."""
    by_key = defaultdict(list)
    for example in examples:
        by_key[example.group, example.kind].append(example)
    kept = []
    for found in by_key.values():
        found.sort(key=lambda e: _unit_interval(f"{e.kind}:{e.name}"))
        kept += found[: config.per_group_kind]
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(kept, key=lambda e: (e.group, order[e.kind], e.name))


def counts(splits: dict[str, list[Example]]) -> dict[str, dict[str, int]]:
    """{split: {kind: examples, ..., "all": examples}}, every kind listed."""
    table = {}
    for split, examples in splits.items():
        row = dict.fromkeys(KINDS, 0)
        for example in examples:
            row[example.kind] += 1
        table[split] = {**row, "all": len(examples)}
    return table


def digest(splits: dict[str, list[Example]]) -> str:
    """A hash of every example of every split: what a GPU run's file
    records, for the chapter to check it answered the same questions."""
    rows = [asdict(ex) for name in sorted(splits) for ex in splits[name]]
    text = json.dumps(rows, sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()


def save_examples(path, splits: dict[str, list[Example]]) -> None:
    """JSON lines, one example each with its split; same splits, same
    bytes.  Written atomically."""
    lines = [
        json.dumps({"split": split, **asdict(example)}, ensure_ascii=False)
        for split, examples in splits.items()
        for example in examples
    ]
    text = "".join(line + "\n" for line in lines).encode()
    atomic_write(path, lambda f: f.write(text))


def load_examples(path) -> dict[str, list[Example]]:
    """save_examples's splits; a ValueError names the file and line of a
    line that is not an example."""
    splits = {"train": [], "val": [], "test": []}
    names = {f.name for f in fields(Example)}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
                split = record.pop("split")
                if split not in splits or not names.issuperset(record):
                    raise ValueError("not an example")
                splits[split].append(Example(**record))
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(
                    f"{path}:{number}: not an example of save_examples ({e})"
                ) from None
    return splits
