"""Training-step time of our GPT against Hugging Face's GPT2LMHeadModel on
the CPU: forward, cross-entropy loss, backward and one AdamW step.

Run by hand (not in CI):  .venv/bin/python bench/bench_model.py [--write]
(--quick: the first shape, briefly, to test the script)

Both models are float32 with dropout 0 and the same weights: ours is loaded
from the Hugging Face model by scratchllm.hf.from_hf_gpt2, with
attention="fast" (F.scaled_dot_product_attention).  Hugging Face runs twice,
with its eager attention (the explicit softmax(QK^T)V) and with "sdpa" (the
same fused kernel as ours).  The models take turns within each repeat, in an
order that rotates from repeat to repeat (bench/results.interleaved), so
that drift in the machine's speed falls on all of them alike; each time is
the median over the repeats after a warm-up.  The vocabulary is 4096,
the size of the book's own tokenizer (tokenization chapter), not GPT-2's
50257.
"""

import argparse
import os
import statistics
import sys
from importlib import metadata

import torch
from results import interleaved, machine, record, today
from torch.nn import functional as F

from scratchllm.hf import from_hf_gpt2

VOCAB = 4096  # the book's tokenizer

# name: (model shape, batch size, warm-up steps, timed repeats)
SHAPES = {
    "(a) nanoGPT's CPU shape": (dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 12, 5, 30),
    "(b) GPT-2 small's shape": (dict(n_layer=12, n_head=12, n_embd=768, block_size=256), 4, 2, 5),
}


def hf_gpt2(transformers, shape, attn_implementation, state_dict=None):
    config = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_positions=shape["block_size"],
        n_embd=shape["n_embd"],
        n_layer=shape["n_layer"],
        n_head=shape["n_head"],
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function="gelu_new",
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation=attn_implementation,
    )
    model = transformers.GPT2LMHeadModel(config)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    assert model.config._attn_implementation == attn_implementation
    return model.float().train()


def step_functions(models, x, y):
    """One training step per model: zero the gradients, forward, the same
    cross-entropy loss, backward, AdamW."""
    steps = {}
    for name, model in models.items():
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        if name == "ours":

            def loss_of(model=model):
                return model(x, targets=y)[1]  # logits, then F.cross_entropy
        else:

            def loss_of(model=model):
                logits = model(input_ids=x, use_cache=False).logits
                return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))

        def step(model=model, opt=opt, loss_of=loss_of):
            opt.zero_grad(set_to_none=True)
            loss = loss_of()
            loss.backward()
            opt.step()
            return loss.item()

        steps[name] = step
    return steps


def bench(transformers, shape, batch, warmup, repeats):
    torch.manual_seed(0)
    hf_eager = hf_gpt2(transformers, shape, "eager")
    hf_sdpa = hf_gpt2(transformers, shape, "sdpa", hf_eager.state_dict())
    ours = from_hf_gpt2(hf_eager, attention="fast").train()
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, VOCAB, (batch, shape["block_size"] + 1), generator=g)
    x, y = data[:, :-1].contiguous(), data[:, 1:].contiguous()

    # Same weights, same function: the logits agree before any step.
    with torch.no_grad():
        mine = ours(x)[0]
        diff = max(
            (hf(input_ids=x, use_cache=False).logits - mine).abs().max().item()
            for hf in (hf_eager, hf_sdpa)
        )

    models = {"ours": ours, "HF eager": hf_eager, "HF sdpa": hf_sdpa}
    times = interleaved(step_functions(models, x, y), warmup, repeats)
    params = sum(p.numel() for p in ours.parameters())
    return {name: statistics.median(t) for name, t in times.items()}, diff, params


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="shape (a), 3 repeats: a test")
    args = parser.parse_args()
    import transformers

    shapes = SHAPES
    if args.quick:
        label, (shape, batch, _, _) = next(iter(SHAPES.items()))
        shapes = {label: (shape, batch, 1, 3)}

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    load_before = os.getloadavg()

    rows = []
    for label, (shape, batch, warmup, repeats) in shapes.items():
        medians, diff, params = bench(transformers, shape, batch, warmup, repeats)
        what = (
            f"{label}: {shape['n_layer']} layers, {shape['n_head']} heads, "
            f"n_embd {shape['n_embd']}, block {shape['block_size']}, batch {batch}; "
            f"{params / 1e6:.2f}M parameters"
        )
        print(
            what,
            {k: f"{v * 1000:.1f} ms" for k, v in medians.items()},
            f"max logit diff {diff:.1e}",
            file=sys.stderr,
        )
        rows.append((what, warmup, repeats, medians, diff))
    load_after = os.getloadavg()

    table = [
        "| shape | warm-up, repeats | ours | HF eager | HF sdpa "
        "| HF eager / ours | HF sdpa / ours | max logit diff at start |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for what, warmup, repeats, m, diff in rows:
        table.append(
            f"| {what} | {warmup}, {repeats} | {m['ours'] * 1000:.1f} ms "
            f"| {m['HF eager'] * 1000:.1f} ms | {m['HF sdpa'] * 1000:.1f} ms "
            f"| {m['HF eager'] / m['ours']:.2f} | {m['HF sdpa'] / m['ours']:.2f} | {diff:.1e} |"
        )
    record(
        "bench_model",
        [
            "## GPT training step against Hugging Face GPT-2 (`bench/bench_model.py`)",
            "",
            f"Command: `.venv/bin/python bench/bench_model.py --write` on {today()}; machine: "
            f"{machine()}, torch {metadata.version('torch')} on {threads} threads, "
            f"transformers {metadata.version('transformers')}; load average "
            f"{load_before[0]:.1f} before, {load_after[0]:.1f} after.",
            "",
            "One step is forward, cross-entropy loss, backward and AdamW, float32, dropout 0; "
            f"vocabulary {VOCAB} (the book's tokenizer, not GPT-2's 50257). Ours "
            '(`attention="fast"`) holds the Hugging Face model\'s weights (`from_hf_gpt2`). '
            "The three models take turns in each repeat, in rotating order; each time is the "
            "median step. A ratio above 1 means ours is faster.",
            "",
            *table,
        ],
        args.write,
    )


if __name__ == "__main__":
    main()
