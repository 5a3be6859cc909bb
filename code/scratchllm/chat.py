"""Answers from an instruction-tuned model, on the command line.

    python -m scratchllm.chat --ckpt build/artifacts/model/ckpt.pt \\
        --tokenizer build/artifacts/tokenizer/tokenizer.model \\
        --lora build/sft-lora.pt --prompt "What does json.dumps do?"

Without --prompt, it reads one question a line from stdin, until an empty
line, "exit" or the end of the input.  Each question is asked on its own,
with no memory of the ones before: the model was tuned on single turns.
"""

import argparse
import sys
from functools import partial

from .cli import at_least, existing, run_command
from .generate import load_model_and_tokenizer
from .instruct import ASSISTANT, END, MAX_ANSWER, USER, answer
from .lora import load_adapter
from .train import device

# --- the command line -----------------------------------------------------------


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.chat",
        description=__doc__.split("\n")[0],
        epilog="example:\n" + "\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--ckpt", required=True, type=existing, help="checkpoint (ckpt.pt)"
    )
    parser.add_argument(
        "--tokenizer", required=True, type=existing, help="tokenizer.model"
    )
    parser.add_argument(
        "--lora", type=existing, help="a LoRA adapter (lora.save_adapter's)"
    )
    parser.add_argument(
        "--prompt", help="the one question to answer (else: read stdin)"
    )
    parser.add_argument(
        "--max-new-tokens", type=at_least(0), default=MAX_ANSWER
    )
    parser.add_argument(
        "--temperature",
        type=at_least(0.0, float),
        default=0.0,
        help="0 (the default) for greedy decoding",
    )
    parser.add_argument("--top-k", type=at_least(1))
    parser.add_argument("--top-p", type=at_least(0.0, float))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", type=device, default="cpu")
    return parser


def load(args):
    """The model (with its LoRA adapter, if any) and the tokenizer that
    the flags name, checked to fit each other and the template."""
    model, tokenizer = load_model_and_tokenizer(
        args.ckpt, args.tokenizer, args.device
    )
    if args.lora:
        load_adapter(model, args.lora)
    for token in (USER, ASSISTANT, END):
        if token not in tokenizer.special_tokens:
            raise ValueError(
                f"{args.tokenizer} has no {token} token: the template of "
                "instruction tuning needs it"
            )
    return model, tokenizer


def questions():
    """The lines of stdin, until an empty one, "exit" or the end."""
    prompt = "> " if sys.stdin.isatty() else ""  # piped in: answers only
    while True:
        try:
            line = input(prompt).strip()
        except EOFError:
            return
        if line in ("", "exit"):
            return
        yield line


def chat(args):
    """Print the answer to --prompt, or to each question stdin asks, as
    it is generated."""
    if args.prompt is not None and not args.prompt.strip():
        raise ValueError("--prompt is empty: ask the model something")
    model, tokenizer = load(args)
    # The other flags are answer's keyword arguments, by name.
    files = ("ckpt", "tokenizer", "lora", "prompt")
    options = {k: v for k, v in vars(args).items() if k not in files}
    show = partial(print, end="", flush=True)
    for question in [args.prompt] if args.prompt else questions():
        answer(model, tokenizer, question, on_text=show, **options)
        print(flush=True)


def main(argv=None):
    parser = make_parser()
    try:
        run_command(parser, chat, parser.parse_args(argv))
    except KeyboardInterrupt:  # Ctrl-C ends a chat; no traceback
        parser.exit(130, "\n")


if __name__ == "__main__":
    main()
