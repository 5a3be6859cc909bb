"""What the `python -m scratchllm.*` commands share: argument types that
refuse nonsense before anything runs, and bad input reported as one line
naming the problem, not as a traceback."""

import argparse
from pathlib import Path

from scratchllm.tokenizer import BPETokenizer


def at_least(minimum, kind=int):
    """An argparse type: a number of `kind` no smaller than `minimum`."""

    def parse(text):
        value = kind(text)  # a ValueError: argparse says "invalid int value"
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be at least {minimum}, not {text}"
            )
        return value

    parse.__name__ = kind.__name__  # the name argparse's messages use
    return parse


def existing(text):
    """An argparse type: the path of a file or folder that exists."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return Path(text)


def load_tokenizer(path):
    """The tokenizer saved at `path`; any other file is a ValueError."""
    try:
        return BPETokenizer().load(path)
    except ValueError as exc:  # not UTF-8, not JSON, not our format
        msg = f"{path} is not a tokenizer file ({exc})"
        raise ValueError(msg) from None


def run_command(parser, command, args):
    """command(args), with bad input (a missing file, a value that does not
    fit) reported as "PROG: error: ..." and exit status 1."""
    try:
        return command(args)
    except (OSError, ValueError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
