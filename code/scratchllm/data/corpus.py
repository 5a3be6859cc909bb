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
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path

from . import clean, dedup, filters, sources

SPLITS = ("train", "val", "test", "heldout")
PREFERENCE = {"python-docs": 0, "stdlib": 1, "python-docs-source": 2}
FORMAT = 1


@dataclass(frozen=True)
class CorpusConfig:
    shingle_size: int = 5
    num_perm: int = 128
    near_duplicate_threshold: float = 0.7
    lsh_false_negative_weight: float = (
        0.9  # missing a duplicate costs more than a check
    )
    seed: int = 1
    val_fraction: float = 0.04
    test_fraction: float = 0.04
    heldout_fraction: float = (
        0.06  # whole modules, kept for the evaluation chapter
    )


def _unit_interval(name: str) -> float:
    return int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) / 16**12


def split_of(group: str, config: CorpusConfig) -> str:
    """Split of a document group, by a hash of its name: deterministic, and
    a module's page and its docstrings always land in the same split."""
    if (
        group in sys.stdlib_module_names
        and _unit_interval(group) < config.heldout_fraction
    ):
        return "heldout"
    u = _unit_interval("split:" + group)
    if u < config.test_fraction:
        return "test"
    if u < config.test_fraction + config.val_fraction:
        return "val"
    return "train"


class _Stage:
    """Documents and characters counted at one point of the pipeline."""

    def __init__(self, name: str):
        self.name, self.documents, self.characters = name, 0, 0

    def add(self, text: str) -> None:
        self.documents += 1
        self.characters += len(text)

    def as_dict(self) -> dict:
        return {
            "stage": self.name,
            "documents": self.documents,
            "characters": self.characters,
        }


def _documents(doc_root: Path, stdlib_root: Path):
    for raw in chain(
        sources.iter_doc_pages(doc_root),
        sources.iter_doc_sources(doc_root),
        sources.iter_stdlib_modules(stdlib_root),
    ):
        if raw.source == "python-docs":
            title, text = clean.html_to_text(raw.raw)
        else:
            text = (
                clean.rst_to_text
                if raw.source == "python-docs-source"
                else clean.normalize
            )(raw.raw)
            title = text.split("\n", 1)[0].lstrip("# ")
        yield raw, title, text


def build_corpus(
    out: Path,
    config: CorpusConfig = CorpusConfig(),
    doc_root: Path | None = None,
    stdlib_root: Path | None = None,
) -> dict:
    """Run the pipeline into ``out`` (replaced atomically); return the
    manifest."""
    doc_root = doc_root or sources.find_doc_root()
    stdlib_root = stdlib_root or sources.stdlib_root()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    raw_stage, cleaned = (
        _Stage("discovered (raw)"),
        _Stage("cleaned, non-empty"),
    )
    exact_stage, filtered = (
        _Stage("after exact dedup"),
        _Stage("after quality filters"),
    )
    removed = {
        name: _Stage(name)
        for name in [
            "empty",
            "exact_duplicate",
            *(r.name for r in filters.RULES),
            "near_duplicate",
        ]
    }
    seen: dict[str, str] = {}
    exact_examples: list[dict] = []
    minhash = dedup.MinHash(config.num_perm, config.seed)
    signatures, lengths, origin = {}, {}, {}
    raw_bytes = 0

    staging = tmp / "staging.jsonl"
    with open(staging, "w") as stage_file:
        for raw, title, text in _documents(doc_root, stdlib_root):
            raw_stage.add(raw.raw)
            raw_bytes += len(raw.raw.encode())
            if not text:
                removed["empty"].add(raw.raw)
                continue
            cleaned.add(text)
            key = dedup.content_hash(text)
            if key in seen:
                removed["exact_duplicate"].add(text)
                exact_examples.append(
                    {"removed": raw.id, "duplicate_of": seen[key]}
                )
                continue
            seen[key] = raw.id
            exact_stage.add(text)
            rule = filters.first_broken_rule(text)
            if rule:
                removed[rule.name].add(text)
                continue
            filtered.add(text)
            signatures[raw.id] = minhash.signature(
                dedup.shingles(text, config.shingle_size)
            )
            lengths[raw.id] = len(text)
            origin[raw.id] = raw.source
            record = {
                "id": raw.id,
                "source": raw.source,
                "group": raw.group,
                "title": title,
                "text": text,
            }
            stage_file.write(json.dumps(record, ensure_ascii=False) + "\n")

    clusters = dedup.near_duplicate_clusters(
        signatures,
        config.near_duplicate_threshold,
        config.num_perm,
        config.lsh_false_negative_weight,
    )
    dropped, cluster_report = set(), []
    for cluster in clusters:
        # Keep the rendered page over its source, then the longest member.
        kept = min(
            cluster,
            key=lambda key: (PREFERENCE[origin[key]], -lengths[key], key),
        )
        dropped.update(k for k in cluster if k != kept)
        cluster_report.append(
            {
                "kept": kept,
                "removed": [k for k in cluster if k != kept],
                "estimated_jaccard": [
                    round(
                        dedup.estimated_jaccard(
                            signatures[kept], signatures[k]
                        ),
                        3,
                    )
                    for k in cluster
                    if k != kept
                ],
            }
        )

    split_stages = {name: _Stage(name) for name in SPLITS}
    by_source = {name: _Stage(name) for name in PREFERENCE}
    heldout_groups = set()
    handles = {name: open(tmp / f"{name}.jsonl", "w") for name in SPLITS}
    try:
        with open(staging) as stage_file:
            for line in stage_file:
                record = json.loads(line)
                if record["id"] in dropped:
                    removed["near_duplicate"].add(record["text"])
                    continue
                split = split_of(record["group"], config)
                if split == "heldout":
                    heldout_groups.add(record["group"])
                split_stages[split].add(record["text"])
                by_source[record["source"]].add(record["text"])
                handles[split].write(line)
    finally:
        for handle in handles.values():
            handle.close()
    staging.unlink()

    manifest = {
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
                "python": sys.version.split()[0],
            },
        },
        "config": asdict(config),
        "raw_bytes": raw_bytes,
        "stages": [
            s.as_dict() for s in (raw_stage, cleaned, exact_stage, filtered)
        ]
        + [
            {
                "stage": "after near dedup",
                "documents": sum(s.documents for s in split_stages.values()),
                "characters": sum(s.characters for s in split_stages.values()),
            }
        ],
        "removed": {
            name: {"documents": s.documents, "characters": s.characters}
            for name, s in removed.items()
        },
        "rules": [
            {"name": r.name, "limit": r.limit, "why": r.why}
            for r in filters.RULES
        ],
        "exact_duplicates": exact_examples,
        "near_duplicate_clusters": cluster_report,
        "heldout_groups": sorted(heldout_groups),
        "final_by_source": {
            name: {"documents": s.documents, "characters": s.characters}
            for name, s in by_source.items()
        },
        "splits": {
            name: {
                "documents": s.documents,
                "characters": s.characters,
                "sha256": _file_hash(tmp / f"{name}.jsonl"),
            }
            for name, s in split_stages.items()
        },
    }
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    )
    _replace_dir(tmp, out)
    return manifest


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
