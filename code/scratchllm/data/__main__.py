"""Build the book's corpus from the Python documentation and standard
library installed on this machine (about a minute of CPU time)."""

import argparse
import sys
import time
from pathlib import Path

from scratchllm.cli import existing, run_command
from scratchllm.data.corpus import build_corpus
from scratchllm.data.sources import STDLIB_ROOT

EPILOG = """example:
  python -m scratchllm.data --out build/artifacts/corpus
"""


def build(args):
    print(f"building {args.out} ...", file=sys.stderr)
    start = time.perf_counter()
    manifest = build_corpus(
        args.out,
        doc_root=args.doc_root,
        stdlib_root=args.stdlib_root,
        progress=lambda line: print(line, file=sys.stderr),
    )
    for stage in manifest["stages"]:
        print(
            f"{stage['stage']:>24}: {stage['documents']:5d} documents, "
            f"{stage['characters'] / 1e6:6.2f} M characters"
        )
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.data",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("build/artifacts/corpus"),
        help="the corpus folder (default: %(default)s)",
    )
    parser.add_argument(
        "--doc-root",
        type=existing,
        metavar="DIR",
        help="the HTML documentation (default: python3-doc's)",
    )
    parser.add_argument(
        "--stdlib-root",
        type=existing,
        metavar="DIR",
        help=f"the standard library's sources (default: {STDLIB_ROOT})",
    )
    args = parser.parse_args(argv)
    run_command(parser, build, args)


if __name__ == "__main__":
    main()
