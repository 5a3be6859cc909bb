"""Text from a trained checkpoint, on the command line:

    python -m scratchllm.generate --ckpt build/artifacts/model/ckpt.pt \\
        --tokenizer build/artifacts/tokenizer/tokenizer.model \\
        --prompt "The json module" --max-new-tokens 100 --top-p 0.9
"""

import argparse

import torch

from .cli import at_least, existing, load_tokenizer, run_command
from .sampling import generate
from .train import device, load_model, reading_checkpoint

EOT = "<|endoftext|>"


def complete(
    model,
    tokenizer,
    prompt,
    max_new_tokens=100,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=0,
    device="cpu",
    new_only=False,
):
    """The prompt and its continuation, as text; stops at <|endoftext|>.
    new_only=True: the continuation alone."""
    prompt_ids = tokenizer.encode(prompt, allowed_special="all")
    ids = torch.tensor([prompt_ids], device=device)
    eos_id = tokenizer.special_tokens.get(EOT)
    generator = torch.Generator().manual_seed(seed)
    out = generate(
        model, ids, max_new_tokens, temperature, top_k, top_p, eos_id, generator
    )
    start = len(prompt_ids) if new_only else 0
    return tokenizer.decode(out[0, start:].tolist())


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.generate",
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
    parser.add_argument("--prompt", required=True, help="the text to continue")
    parser.add_argument("--max-new-tokens", type=at_least(0), default=100)
    parser.add_argument(
        "--temperature",
        type=at_least(0.0, float),
        default=1.0,
        help="0 for greedy decoding",
    )
    parser.add_argument("--top-k", type=at_least(1))
    parser.add_argument("--top-p", type=at_least(0.0, float))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", type=device, default="cpu")
    return parser


def load_model_and_tokenizer(ckpt, tokenizer_path, device="cpu"):
    """The checkpoint's model and the tokenizer, checked to fit each other."""
    with reading_checkpoint(ckpt):
        model = load_model(ckpt, device)
    tokenizer = load_tokenizer(tokenizer_path)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"{tokenizer_path} has {tokenizer.vocab_size} tokens, but the "
            f"model in {ckpt} was trained on {model.config.vocab_size}:"
            f" pass the tokenizer its tokens were encoded with"
        )
    return model, tokenizer


def sample(args):
    """Print the completion the parsed command line asks for."""
    if not args.prompt:
        raise ValueError("--prompt is empty: the model continues a text")
    model, tokenizer = load_model_and_tokenizer(
        args.ckpt, args.tokenizer, args.device
    )
    # The other flags are complete's keyword arguments, by name.
    files = ("ckpt", "tokenizer")
    options = {k: v for k, v in vars(args).items() if k not in files}
    print(complete(model, tokenizer, **options))


def main(argv=None):
    parser = make_parser()
    run_command(parser, sample, parser.parse_args(argv))


if __name__ == "__main__":
    main()
