"""The whole data pipeline, from installed sources to the corpus artifact.

    sources -> clean -> exact dedup -> quality filters -> near dedup -> splits

It streams: one document is in memory at a time, plus a 128-number MinHash
signature per surviving document.  Documents pass to a staging file; near-
duplicates are decided once all signatures are known, and a second pass
writes the splits.  The output folder is replaced only when complete, with
``manifest.json`` (sources, settings, counts at every stage, what each rule
removed, the near-duplicate clusters, and a hash of every split).
"""

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path

from . import clean, dedup, filters, sources

SPLITS = ("train", "val", "test", "heldout")
PREFERENCE = {
    "python-docs": 0,
    "stdlib": 1,
    "stdlib-code": 2,
    "python-docs-source": 3,
}
# Source files are all code; every other source is prose with code in it.
CODE_SOURCES = {"stdlib-code"}
STAGES = (
    "discovered (raw)",
    "cleaned, non-empty",
    "after exact dedup",
    "after quality filters",
    "after near dedup",
)
FORMAT = 1


@dataclass(frozen=True)
class CorpusConfig:
    shingle_size: int = 5
    num_perm: int = 128
    near_duplicate_threshold: float = 0.7
    # Missing a duplicate costs more than checking a candidate pair.
    lsh_false_negative_weight: float = 0.9
    seed: int = 1
    val_fraction: float = 0.04
    test_fraction: float = 0.04
    # Whole modules, kept for the evaluation chapter.
    heldout_fraction: float = 0.06


def _unit_interval(name: str) -> float:
    return int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) / 16**12


def split_of(group: str, config: CorpusConfig) -> str:
    """Split of a document group, by a hash of its name: deterministic, and
    a module's page, docstrings and code always land in the same split."""
    module = group in sys.stdlib_module_names
    if module and _unit_interval(group) < config.heldout_fraction:
        return "heldout"
    u = _unit_interval("split:" + group)
    if u < config.test_fraction:
        return "test"
    if u < config.test_fraction + config.val_fraction:
        return "val"
    return "train"


class _Count:
    """Documents and characters counted at one point of the pipeline."""

    def __init__(self):
        self.documents, self.characters = 0, 0

    def add(self, text: str) -> None:
        self.documents += 1
        self.characters += len(text)

    def as_dict(self) -> dict:
        return {"documents": self.documents, "characters": self.characters}


def _counts(names) -> dict[str, _Count]:
    return {name: _Count() for name in names}


class _Report:
    """What the manifest records, filled in by the stages as documents pass."""

    def __init__(self):
        rules = [rule.name for rule in _all_rules()]
        removals = ["empty", "exact_duplicate", *rules, "near_duplicate"]
        self.stages = _counts(STAGES)
        self.removed = _counts(removals)
        self.splits = _counts(SPLITS)
        self.by_source = _counts(PREFERENCE)
        self.raw_bytes = 0
        self.exact_duplicates: list[dict] = []
        self.clusters: list[dict] = []
        self.heldout_groups: set[str] = set()


def build_corpus(
    out: Path,
    config: CorpusConfig = CorpusConfig(),
    doc_root: Path | None = None,
    stdlib_root: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    """Run the pipeline into ``out`` (replaced atomically); return the
    manifest.  ``progress`` is told when each pass is done."""
    doc_root = doc_root or sources.find_doc_root()
    stdlib_root = stdlib_root or sources.stdlib_root()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    report = _Report()
    docs = _discovered(doc_root, stdlib_root, report)
    docs = _cleaned(docs, report)
    docs = _exact_unique(docs, report)
    docs = _filtered(docs, report)
    staging = tmp / "staging.jsonl"
    signatures, ranks = _stage(docs, staging, config)
    progress(f"first pass: {len(ranks)} documents cleaned and filtered")
    dropped = _near_duplicates(signatures, ranks, config, report)
    progress(f"near-duplicate search: {len(dropped)} documents to drop")
    _write_splits(staging, dropped, tmp, config, report)
    staging.unlink()

    manifest = _manifest(report, config, doc_root, stdlib_root, tmp)
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    )
    _replace_dir(tmp, out)
    return manifest


def _discovered(doc_root: Path, stdlib_root: Path, report: _Report):
    """Every raw document of the sources, in a fixed order."""
    for raw in chain(
        sources.iter_doc_pages(doc_root),
        sources.iter_doc_sources(doc_root),
        sources.iter_stdlib_modules(stdlib_root),
        sources.iter_stdlib_code(stdlib_root),
    ):
        report.stages["discovered (raw)"].add(raw.raw)
        report.raw_bytes += len(raw.raw.encode())
        yield raw


def _cleaned(raws, report: _Report):
    """Each raw document as a record of clean text; empty ones are dropped."""
    for raw in raws:
        title, text = _clean(raw)
        if not text:
            report.removed["empty"].add(raw.raw)
            continue
        report.stages["cleaned, non-empty"].add(text)
        yield {
            "id": raw.id,
            "source": raw.source,
            "group": raw.group,
            "title": title,
            "text": text,
        }


def _clean(raw: sources.RawDocument) -> tuple[str, str]:
    """(title, text) of a raw document, by the cleaner of its format."""
    if raw.source == "python-docs":
        return clean.html_to_text(raw.raw)
    if raw.source in CODE_SOURCES:
        return raw.id.removeprefix("code/"), clean.code_text(raw.raw)
    if raw.source == "python-docs-source":
        text = clean.rst_to_text(raw.raw)
    else:
        text = clean.normalize(raw.raw)
    # The first line is the title, less the # of a heading.
    return text.split("\n", 1)[0].lstrip("# "), text


def _exact_unique(docs, report: _Report):
    """The first of each set of documents with the same text (up to case and
    whitespace); the others are removed, and listed in the report."""
    first: dict[str, str] = {}
    for doc in docs:
        key = dedup.content_hash(doc["text"])
        if key in first:
            report.removed["exact_duplicate"].add(doc["text"])
            report.exact_duplicates.append(
                {"removed": doc["id"], "duplicate_of": first[key]}
            )
            continue
        first[key] = doc["id"]
        report.stages["after exact dedup"].add(doc["text"])
        yield doc


def _filtered(docs, report: _Report):
    """The documents that break no quality rule of their kind."""
    for doc in docs:
        rule = filters.first_broken_rule(doc["text"], _rules(doc["source"]))
        if rule:
            report.removed[rule.name].add(doc["text"])
            continue
        report.stages["after quality filters"].add(doc["text"])
        yield doc


def _rules(source: str) -> tuple[filters.Rule, ...]:
    return filters.CODE_RULES if source in CODE_SOURCES else filters.RULES


def _all_rules() -> list[filters.Rule]:
    return list(dict.fromkeys(filters.RULES + filters.CODE_RULES))


def _stage(docs, path: Path, config: CorpusConfig) -> tuple[dict, dict]:
    """Write the documents to ``path``, one JSON line each; return what near
    dedup needs of them: their MinHash signatures, and their ranks."""
    minhash = dedup.MinHash(config.num_perm, config.seed)
    signatures, ranks = {}, {}
    with open(path, "w") as f:
        for doc in docs:
            shingles = dedup.shingles(doc["text"], config.shingle_size)
            signatures[doc["id"]] = minhash.signature(shingles)
            # A cluster keeps the rendered page over its source, then the
            # longest member.
            ranks[doc["id"]] = (PREFERENCE[doc["source"]], -len(doc["text"]))
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return signatures, ranks


def _near_duplicates(signatures, ranks, config, report: _Report) -> set[str]:
    """Ids to drop: all but the best-ranked document of each cluster."""
    clusters = dedup.near_duplicate_clusters(
        signatures,
        config.near_duplicate_threshold,
        config.num_perm,
        config.lsh_false_negative_weight,
    )
    dropped = set()
    for cluster in clusters:
        kept = min(cluster, key=lambda key: (ranks[key], key))
        removed = [key for key in cluster if key != kept]
        similarity = [
            dedup.estimated_jaccard(signatures[kept], signatures[key])
            for key in removed
        ]
        report.clusters.append(
            {
                "kept": kept,
                "removed": removed,
                "estimated_jaccard": [round(s, 3) for s in similarity],
            }
        )
        dropped.update(removed)
    return dropped


def _write_splits(staging, dropped, folder, config, report: _Report) -> None:
    """Second pass: each staged document not dropped goes, line for line,
    to the split of its group."""
    with ExitStack() as files, open(staging) as lines:
        out = {
            split: files.enter_context(open(folder / f"{split}.jsonl", "w"))
            for split in SPLITS
        }
        for line in lines:
            doc = json.loads(line)
            if doc["id"] in dropped:
                report.removed["near_duplicate"].add(doc["text"])
                continue
            split = split_of(doc["group"], config)
            if split == "heldout":
                report.heldout_groups.add(doc["group"])
            report.stages["after near dedup"].add(doc["text"])
            report.splits[split].add(doc["text"])
            report.by_source[doc["source"]].add(doc["text"])
            out[split].write(line)


def _manifest(report: _Report, config, doc_root, stdlib_root, folder) -> dict:
    version = sources.stdlib_version(stdlib_root)  # Debian's: 3.11.2-6+deb12u9
    return {
        "format": FORMAT,
        "license": "PSF License Agreement (Python documentation and "
        "standard library)",
        "sources": {
            "python-docs": {
                "path": str(doc_root),
                "version": sources.docs_version(doc_root),
                "package": "python3-doc (Debian)",
                "formats": ["HTML", "reST"],
            },
            "stdlib": {
                "path": str(stdlib_root),
                "version": version,
                "python": version.split("-")[0],
                "package": "libpython3.11-stdlib, libpython3.11-testsuite "
                "(Debian)",
                "formats": ["docstrings", "code"],
            },
        },
        "config": asdict(config),
        "raw_bytes": report.raw_bytes,
        "stages": [
            {"stage": name, **count.as_dict()}
            for name, count in report.stages.items()
        ],
        "removed": {
            name: count.as_dict() for name, count in report.removed.items()
        },
        "rules": [
            {
                "name": rule.name,
                "limit": rule.limit,
                "why": rule.why,
                "prose": rule in filters.RULES,
                "code": rule in filters.CODE_RULES,
            }
            for rule in _all_rules()
        ],
        "exact_duplicates": report.exact_duplicates,
        "near_duplicate_clusters": report.clusters,
        "heldout_groups": sorted(report.heldout_groups),
        "final_by_source": {
            name: count.as_dict() for name, count in report.by_source.items()
        },
        "splits": {
            name: {
                **count.as_dict(),
                "sha256": _file_hash(folder / f"{name}.jsonl"),
            }
            for name, count in report.splits.items()
        },
    }


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _replace_dir(new: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def read_split(corpus: Path, split: str):
    """The documents of one split, as dicts (id, source, group, title, text)."""
    with open(Path(corpus) / f"{split}.jsonl") as f:
        for line in f:
            yield json.loads(line)
