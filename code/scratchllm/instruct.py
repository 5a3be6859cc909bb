"""Instruction tuning: a pretrained GPT taught to answer, one template.

A conversation turn is written with the tokenizer's special tokens:

    <|user|>What does json.dumps do?
    <|assistant|>Serialize obj to a JSON formatted str.<|end|>

Training, generation and scoring all go through the functions of the
first section, so the model is asked at test time exactly as it was
taught.  The special tokens are encoded as tokens, the texts between them
as ordinary text: a docstring that spells "<|end|>" stays text.
"""

import argparse
import codecs
import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from scratchllm import lora
from scratchllm.cli import at_least, existing, load_tokenizer, run_command
from scratchllm.data.instructions import (
    build_examples,
    check_doctests,
    counts,
    load_examples,
    save_examples,
)
from scratchllm.dataset import length_buckets
from scratchllm.generate import EOT
from scratchllm.sampling import stream
from scratchllm.train import (
    configure_optimizer,
    cosine_lr,
    device,
    estimate_loss,
    load_model,
    reading_checkpoint,
    save_model,
)

USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"

# --- the template ---------------------------------------------------------------


def encode_prompt(tokenizer, instruction):
    """The ids the model reads before it answers: the user's turn, then
    the assistant's marker."""
    special = tokenizer.special_tokens
    return [
        special[USER],
        *tokenizer.encode(instruction, allowed_special="none"),
        special[ASSISTANT],
    ]


def encode_example(tokenizer, instruction, response):
    """(ids, n_prompt): a whole turn as the model is taught it, and how
    many of its ids are the prompt (the rest is the response and <|end|>)."""
    prompt = encode_prompt(tokenizer, instruction)
    answer = tokenizer.encode(response, allowed_special="none")
    return prompt + answer + [tokenizer.special_tokens[END]], len(prompt)


# New tokens an answer may take: the longest reference answer has about 50.
MAX_ANSWER = 64


def stop_ids(tokenizer):
    """The ids an answer ends at: <|end|>, as tuning taught, and
    <|endoftext|>, which pretraining taught to end a document with."""
    special = tokenizer.special_tokens
    return [special[token] for token in (END, EOT) if token in special]


def text_pieces(tokenizer, ids):
    """The text of `ids` as they come, one piece per id, each piece only
    whole characters.  A byte-level token may end inside a character; the
    incremental decoder keeps those bytes until a later token completes
    them.  The pieces add up to tokenizer.decode(ids)."""
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for i in ids:
        yield utf8.decode(tokenizer.vocab[i])
    yield utf8.decode(b"", final=True)  # bytes never completed: U+FFFD


def answer(
    model,
    tokenizer,
    instruction,
    max_new_tokens=MAX_ANSWER,
    temperature=0.0,
    top_k=None,
    top_p=None,
    seed=0,
    device="cpu",
    on_text=None,
):
    """The model's answer to `instruction`, as text: asked in instruct's
    template, then tokens (greedy by default) until <|end|> or
    <|endoftext|>, which the text leaves out.  on_text, if given, is
    called with each new piece of the answer as soon as it is generated."""
    prompt = encode_prompt(tokenizer, instruction)
    idx = torch.tensor([prompt], device=device)
    stops = stop_ids(tokenizer)
    generator = torch.Generator().manual_seed(seed)
    steps = stream(
        model, idx, max_new_tokens, temperature, top_k, top_p, stops, generator
    )
    # The stream ends with the stop id, if one came; the answer leaves it out.
    ids = (i for i in (step.item() for step in steps) if i not in stops)
    text = ""
    for piece in text_pieces(tokenizer, ids):
        if piece and on_text is not None:
            on_text(piece)
        text += piece
    return text


# --- batches: padded, with the prompt's targets masked ---------------------------

IGNORE = -1  # the target GPT.forward's loss skips


def targets_for(ids, n_prompt, mask_prompt=True):
    """The next-token targets of one turn: ids shifted by one, with the
    positions that predict a prompt token set to IGNORE when mask_prompt
    (the loss is then on the response and <|end|> only)."""
    targets = ids[1:]
    if mask_prompt:
        targets = [IGNORE] * (n_prompt - 1) + targets[n_prompt - 1 :]
    return targets


def sft_batches(encoded, batch_size, mask_prompt=True, generator=None):
    """(x, y) batches of turns of similar length, right-padded.

    `encoded` holds (ids, n_prompt) pairs (encode_example).  Padding comes
    after a turn, where causal attention keeps it from changing any earlier
    position, and its targets are IGNORE: GPT.forward averages the loss
    over the targets that count, so padding changes neither the loss nor
    the gradient.
    """
    lengths = [len(ids) - 1 for ids, _ in encoded]
    for chunk in length_buckets(lengths, batch_size, generator):
        width = max(lengths[i] for i in chunk)
        x = torch.zeros(len(chunk), width, dtype=torch.long)
        y = torch.full((len(chunk), width), IGNORE)
        for row, i in enumerate(chunk):
            ids, n_prompt = encoded[i]
            n = len(ids) - 1
            x[row, :n] = torch.tensor(ids[:-1])
            y[row, :n] = torch.tensor(targets_for(ids, n_prompt, mask_prompt))
        yield x, y


# --- supervised fine-tuning ------------------------------------------------------


@dataclass
class SFTConfig:
    mask_prompt: bool = True  # loss on the response only, not the prompt
    lora_rank: int = 0  # 0: every weight trains (full fine-tuning)
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    epochs: int = 2
    batch_size: int = 16
    max_lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_fraction: float = 0.05
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 1234
    device: str = "cpu"


# The chapter's runs: full fine-tuning with and without the prompt's loss,
# and LoRA at two ranks.  alpha = 2 r keeps LoRA's scaling alpha / r the
# same at both ranks, so that one learning rate serves both.
RUNS = {
    "full": SFTConfig(),
    "full, loss on the whole turn": SFTConfig(mask_prompt=False),
    "LoRA r=4": SFTConfig(lora_rank=4, lora_alpha=8, max_lr=1e-2, min_lr=1e-3),
    "LoRA r=16": SFTConfig(
        lora_rank=16, lora_alpha=32, max_lr=1e-2, min_lr=1e-3
    ),
}


def encode_all(tokenizer, examples, block_size):
    """(ids, n_prompt) of each example whose turn fits the model's context
    (block_size + 1 ids: the inputs and the last target), and how many
    did not fit."""
    encoded = [
        encode_example(tokenizer, ex.instruction, ex.response)
        for ex in examples
    ]
    kept = [e for e in encoded if len(e[0]) <= block_size + 1]
    return kept, len(encoded) - len(kept)


def prepare(model, config):
    """The model as `config` trains it: with LoRA on its linear layers
    (everything else frozen) when lora_rank > 0, else as it is."""
    if config.lora_rank:
        lora.add_lora(
            model,
            config.lora_rank,
            config.lora_alpha,
            dropout=config.lora_dropout,
        )
    return model


def finetune(model, train, val, config):
    """Fine-tune `model` in place on `train` ((ids, n_prompt) pairs).

    AdamW over the parameters that train, in chapter 7's two groups, with
    warmup and cosine decay; one epoch is one pass over the turns, in
    length buckets.  The validation loss, on the responses only whatever
    the training loss counts, is measured after every epoch.  Returns the
    history: loss per step, validation loss per epoch, seconds per step,
    and the bytes AdamW keeps beside the weights."""
    torch.manual_seed(config.seed)  # LoRA's dropout
    generator = torch.Generator().manual_seed(config.seed)
    max_steps = config.epochs * math.ceil(len(train) / config.batch_size)
    warmup = max(1, int(config.warmup_fraction * max_steps))
    model.to(config.device).train()
    optimizer = configure_optimizer(
        model,
        config.weight_decay,
        config.max_lr,
        (0.9, 0.95),
        torch.device(config.device).type,
    )
    history = dict(loss=[], val_loss=[], step_seconds=[])
    for _ in range(config.epochs):
        for x, y in sft_batches(
            train, config.batch_size, config.mask_prompt, generator
        ):
            started = time.perf_counter()
            step = len(history["loss"])
            lr = cosine_lr(
                step, config.max_lr, config.min_lr, warmup, max_steps
            )
            history["loss"].append(
                train_step(model, optimizer, x, y, lr, config)
            )
            history["step_seconds"].append(time.perf_counter() - started)
        history["val_loss"].append(validation_loss(model, val, config.device))
    history["optimizer_bytes"] = state_bytes(optimizer)
    model.eval()
    return history


def train_step(model, optimizer, x, y, lr, config):
    """One AdamW step at learning rate `lr`; returns the batch's loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    _, loss = model(x.to(config.device), y.to(config.device))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip:
        trained = [p for p in model.parameters() if p.requires_grad]
        nn.utils.clip_grad_norm_(trained, config.grad_clip)
    optimizer.step()
    return loss.item()


def state_bytes(optimizer):
    """The bytes `optimizer` keeps beside the weights: for AdamW, two
    moments of every number that trains (its step counts are scalars)."""
    return sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if torch.is_tensor(t) and t.dim() > 0
    )


def validation_loss(model, encoded, device="cpu", batch_size=32):
    """The mean loss per response token over `encoded` turns."""
    batches = (
        (x.to(device), y.to(device))
        for x, y in sft_batches(encoded, batch_size, mask_prompt=True)
    )
    return estimate_loss(model, batches, weighted=True)


# --- scoring, with no model as judge ---------------------------------------------


def normalize(text):
    """The answer as compared: runs of whitespace as one space, no ends."""
    return " ".join(text.split())


def exact_match(answer, reference):
    """1.0 when the answer is the reference, up to whitespace, else 0.0."""
    return float(normalize(answer) == normalize(reference))


def words(text):
    """Lower-cased words and punctuation marks: what token F1 counts."""
    return re.findall(r"\w+|[^\w\s]", text.lower())


def token_f1(answer, reference):
    """The harmonic mean of precision (the answer's words that are in the
    reference) and recall (the reference's words that are in the answer),
    counting repeats, as SQuAD scores answers (Rajpurkar et al., 2016)."""
    got, want = words(answer), words(reference)
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def score(examples, answers):
    """Item-level scores of `answers` to `examples`: {"exact": ..., "f1":
    ..., "correct": ...} arrays.  "correct" is exact match, except for a
    doctest, whose answer is run: correct when the example prints it
    (data.instructions.check_doctests, one subprocess per module)."""
    exact = [
        exact_match(a, ex.response)
        for ex, a in zip(examples, answers, strict=True)
    ]
    f1 = [
        token_f1(a, ex.response)
        for ex, a in zip(examples, answers, strict=True)
    ]
    correct = list(exact)
    runs = [i for i, ex in enumerate(examples) if ex.kind == "doctest"]
    passed = check_doctests([(examples[i], answers[i]) for i in runs])
    for i, ok in zip(runs, passed, strict=True):
        correct[i] = float(ok)
    return {
        "exact": np.array(exact),
        "f1": np.array(f1),
        "correct": np.array(correct),
    }


# --- the command line ------------------------------------------------------------

USAGE = """examples:
  python -m scratchllm.instruct examples --corpus build/artifacts/corpus \\
      --out runs/instructions.jsonl
  python -m scratchllm.instruct train --model build/artifacts/model/ckpt.pt \\
      --tokenizer build/artifacts/tokenizer/tokenizer.model \\
      --examples runs/instructions.jsonl --lora-rank 16 --out runs/sft
  python -m scratchllm.chat --ckpt build/artifacts/model/ckpt.pt \\
      --tokenizer build/artifacts/tokenizer/tokenizer.model \\
      --lora runs/sft/adapter.pt --prompt "What does json.dumps do?"
"""


def _examples(args):
    manifest = json.loads((Path(args.corpus) / "manifest.json").read_text())
    splits = build_examples(heldout_groups=manifest["heldout_groups"])
    save_examples(args.out, splits)
    for name, row in counts(splits).items():
        print(f"{name}: {row['all']:,} examples", file=sys.stderr)


def _train(args):
    splits = load_examples(args.examples)
    tokenizer = load_tokenizer(args.tokenizer)
    with reading_checkpoint(args.model):
        model = load_model(args.model)
    config = SFTConfig(
        mask_prompt=not args.whole_turn,
        lora_rank=args.lora_rank,
        lora_alpha=2.0 * args.lora_rank,
        epochs=args.epochs,
        max_lr=args.max_lr,
        min_lr=args.max_lr / 10,
        seed=args.seed,
        device=args.device,
    )
    context = model.config.block_size
    train, dropped = encode_all(tokenizer, splits["train"], context)
    val, _ = encode_all(tokenizer, splits["val"], context)
    prepare(model, config)
    print(
        f"{len(train):,} turns ({dropped} too long for the context), "
        f"{lora.trainable_parameters(model):,} trainable parameters",
        file=sys.stderr,
    )
    history = finetune(model, train, val, config)
    print(f"validation loss by epoch: {history['val_loss']}", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.cpu()
    if config.lora_rank:  # the adapter alone: chat adds it to --model
        lora.save_adapter(out / "adapter.pt", model)
        print(f"wrote {out / 'adapter.pt'}")
    else:
        save_model(out / "ckpt.pt", model)
        print(f"wrote {out / 'ckpt.pt'}")


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.instruct",
        description="Instruction tuning: questions from the standard "
        "library, then supervised fine-tuning on them.",
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("examples", help="generate the questions")
    ex.add_argument(
        "--corpus", required=True, type=existing, help="the corpus folder"
    )
    ex.add_argument("--out", required=True, help="the .jsonl file to write")
    ex.set_defaults(run=_examples)
    tr = commands.add_parser("train", help="fine-tune a checkpoint on them")
    tr.add_argument("--model", required=True, type=existing, help="ckpt.pt")
    tr.add_argument("--tokenizer", required=True, type=existing)
    tr.add_argument("--examples", required=True, type=existing)
    tr.add_argument("--out", required=True, help="folder for the result")
    tr.add_argument(
        "--lora-rank", type=at_least(0), default=0, help="0: full fine-tuning"
    )
    tr.add_argument(
        "--whole-turn", action="store_true", help="loss on the prompt too"
    )
    tr.add_argument("--epochs", type=at_least(1), default=SFTConfig.epochs)
    tr.add_argument(
        "--max-lr", type=at_least(0.0, float), default=SFTConfig.max_lr
    )
    tr.add_argument("--seed", type=int, default=SFTConfig.seed)
    tr.add_argument("--device", type=device, default="cpu")
    tr.set_defaults(run=_train)
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    run_command(parser, args.run, args)


if __name__ == "__main__":
    main()
