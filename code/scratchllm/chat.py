"""Ask an instruction-tuned checkpoint questions, on the command line:

    python -m scratchllm.chat --ckpt build/sft/ckpt.pt \\
        --tokenizer build/artifacts/tokenizer/tokenizer.model \\
        --prompt "What does json.dumps do?"

Without --prompt, one question a line from the terminal, until an empty
line.  Each question is a conversation of its own: the models of this book
were tuned on single turns.  --lora adds an adapter (lora.save_adapter's
file) to the checkpoint's model.
"""

import argparse
import sys

from .cli import at_least, existing, load_tokenizer, run_command
from .instruct import answer
from .lora import load_adapter
from .train import device, load_model, reading_checkpoint


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.chat",
        description=__doc__.split("\n")[0],
        epilog="example:\n" + __doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--ckpt", required=True, type=existing, help="checkpoint (ckpt.pt)"
    )
    parser.add_argument(
        "--tokenizer", required=True, type=existing, help="tokenizer.model"
    )
    parser.add_argument("--lora", type=existing, help="a LoRA adapter file")
    parser.add_argument("--prompt", help="one question; else read stdin")
    parser.add_argument("--max-new-tokens", type=at_least(1), default=64)
    parser.add_argument(
        "--temperature",
        type=at_least(0.0, float),
        default=0.0,
        help="0 (the default): greedy decoding",
    )
    parser.add_argument("--top-k", type=at_least(1))
    parser.add_argument("--top-p", type=at_least(0.0, float))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", type=device, default="cpu")
    return parser


def load(args):
    """The model (with its adapter) and the tokenizer the flags name."""
    with reading_checkpoint(args.ckpt):
        model = load_model(args.ckpt, args.device)
    if args.lora:
        load_adapter(model, args.lora).to(args.device)
    tokenizer = load_tokenizer(args.tokenizer)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"{args.tokenizer} has {tokenizer.vocab_size} tokens, but the "
            f"model in {args.ckpt} has {model.config.vocab_size}: pass the "
            "tokenizer it was trained with"
        )
    return model.eval(), tokenizer


def chat(args):
    model, tokenizer = load(args)
    options = dict(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        device=args.device,
    )

    def show(text):  # each piece as it comes: the answer streams
        print(text, end="", flush=True)

    questions = [args.prompt] if args.prompt is not None else _lines()
    for question in questions:
        answer(model, tokenizer, question, on_text=show, **options)
        print(flush=True)


def _lines():
    """Questions typed one a line, until an empty line or the end of input."""
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line.strip():
            return
        yield line.strip()


def main(argv=None):
    parser = make_parser()
    run_command(parser, chat, parser.parse_args(argv))


if __name__ == "__main__":
    main()
