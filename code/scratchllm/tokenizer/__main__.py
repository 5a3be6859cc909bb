"""The tokenizer from the shell: train one on a corpus split, and encode
splits into the token files `python -m scratchllm.train` reads.

    corpus/train.jsonl -> train  -> tokenizer.model
    corpus/*.jsonl     -> encode -> tokens/train.bin, tokens/val.bin, ...

As in the book: the tokenizer learns from the split's documents joined by
blank lines; each document is encoded as ordinary text (a special token's
string in it stays text) and followed by <|endoftext|>.
"""

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

from scratchllm import cli
from scratchllm.data import read_split
from scratchllm.data.corpus import SPLITS
from scratchllm.dataset import write_tokens
from scratchllm.tokenizer import SPECIAL_TOKENS, BPETokenizer

EOT = "<|endoftext|>"
EPILOG = """example:
  python -m scratchllm.tokenizer train --corpus build/artifacts/corpus \\
      --vocab-size 4096 --out build/artifacts/tokenizer/tokenizer.model
  python -m scratchllm.tokenizer encode --corpus build/artifacts/corpus \\
      --tokenizer build/artifacts/tokenizer/tokenizer.model \\
      --out build/artifacts/tokens
"""


def documents(corpus, split, max_docs=None):
    """The texts of a corpus split; the first max_docs if given."""
    path = Path(corpus) / f"{split}.jsonl"
    if not path.exists():
        msg = f"no {path} (python -m scratchllm.data writes the splits)"
        raise FileNotFoundError(msg)
    return islice((doc["text"] for doc in read_split(corpus, split)), max_docs)


def train(args):
    text = "\n\n".join(documents(args.corpus, args.split, args.max_docs))
    print(
        f"training on {len(text):,} characters of {args.split}", file=sys.stderr
    )
    start = time.perf_counter()
    tokenizer = BPETokenizer().train(text, args.vocab_size)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(args.out)
    print(
        f"wrote {args.out}: {tokenizer.vocab_size:,} tokens, "
        f"{time.perf_counter() - start:.1f} s"
    )


def encode(args):
    tokenizer = cli.load_tokenizer(args.tokenizer)
    eot = tokenizer.special_tokens[EOT]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        docs = documents(args.corpus, split, args.max_docs)
        ids = (tokenizer.encode_ordinary(doc) + [eot] for doc in docs)
        path = out / f"{split}.bin"
        count = write_tokens(path, ids, tokenizer.vocab_size)
        print(f"wrote {path}: {count:,} tokens")


def make_parser():
    # The example, verbatim, under every --help.
    layout = dict(
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.tokenizer",
        description=__doc__.split("\n\n")[0],
        **layout,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser(
        "train", help="learn a BPE tokenizer from a corpus split", **layout
    )
    train_parser.add_argument(
        "--vocab-size",
        default=4096,
        type=cli.at_least(256 + len(SPECIAL_TOKENS)),
        help="bytes + merges + special tokens (default: 4096, the book's)",
    )
    train_parser.add_argument(
        "--split",
        default="train",
        choices=SPLITS,
        help="the split to learn from (default: train)",
    )
    train_parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the tokenizer file to write",
    )
    encode_parser = commands.add_parser(
        "encode", help="corpus splits -> SPLIT.bin token files", **layout
    )
    encode_parser.add_argument(
        "--tokenizer", required=True, metavar="FILE", type=cli.existing
    )
    encode_parser.add_argument(
        "--splits",
        nargs="+",
        choices=SPLITS,
        default=["train", "val"],
        help="default: train val",
    )
    encode_parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="where SPLIT.bin and its .json go",
    )
    for sub in (train_parser, encode_parser):
        sub.add_argument(
            "--corpus",
            required=True,
            metavar="DIR",
            type=cli.existing,
            help="the folder python -m scratchllm.data wrote",
        )
        sub.add_argument(
            "--max-docs",
            type=cli.at_least(1),
            metavar="N",
            help="only the first N documents of each split (a quick run)",
        )
    train_parser.set_defaults(run=train)
    encode_parser.set_defaults(run=encode)
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    cli.run_command(parser, args.run, args)


if __name__ == "__main__":
    main()
