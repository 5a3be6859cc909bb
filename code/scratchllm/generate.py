"""Text from a trained checkpoint, on the command line:

    python -m scratchllm.generate --ckpt build/artifacts/model/ckpt.pt \\
        --tokenizer build/artifacts/tokenizer/tokenizer.model \\
        --prompt "The json module" --max-new-tokens 100 --top-p 0.9
"""

import argparse

import torch

from .sampling import generate
from .tokenizer import BPETokenizer
from .train import load_model

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchllm.generate",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True, help="checkpoint (ckpt.pt)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer.model")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="0 for greedy decoding")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    model = load_model(args.ckpt, args.device)
    tokenizer = BPETokenizer().load(args.tokenizer)
    print(complete(model, tokenizer, args.prompt, args.max_new_tokens,
                   args.temperature, args.top_k, args.top_p, args.seed,
                   args.device))


if __name__ == "__main__":
    main()
