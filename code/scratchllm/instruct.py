"""Instruction tuning: a pretrained GPT taught to answer, one template.

A conversation turn is written with the tokenizer's special tokens:

    <|user|>What does json.dumps do?
    <|assistant|>Serialize obj to a JSON formatted str.<|end|>

Training, generation and scoring all go through the functions of the
first section, so the model is asked at test time exactly as it was
taught.  The special tokens are encoded as tokens, the texts between them
as ordinary text: a docstring that spells "<|end|>" stays text.
"""

import math
import re
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from scratchllm import lora
from scratchllm.data.instructions import check_doctests
from scratchllm.dataset import length_buckets
from scratchllm.sampling import generate
from scratchllm.train import configure_optimizer, cosine_lr, estimate_loss

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


@torch.no_grad()
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
    """The model's answer to `instruction`, as text: the prompt written in
    the template, then tokens (greedy by default) until <|end|>.  on_text,
    if given, receives the answer piece by piece as it is generated."""
    prompt = encode_prompt(tokenizer, instruction)
    end = tokenizer.special_tokens[END]
    stream = _Stream(tokenizer, end, on_text) if on_text else None
    out = generate(
        model,
        torch.tensor([prompt], device=device),
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        end,
        torch.Generator().manual_seed(seed),
        on_token=stream,
    )[0, len(prompt) :].tolist()
    text = tokenizer.decode(out[:-1] if out and out[-1] == end else out)
    if stream and len(text) > stream.shown:  # a last, incomplete character
        on_text(text[stream.shown :])
    return text


class _Stream:
    """Hands on_text each new piece of the answer once it decodes: a token
    may end inside a UTF-8 character, which the next one completes."""

    def __init__(self, tokenizer, end, on_text):
        self.tokenizer, self.end, self.on_text = tokenizer, end, on_text
        self.ids, self.shown = [], 0

    def __call__(self, next_id):
        if next_id.item() == self.end:
            return
        self.ids.append(next_id.item())
        text = self.tokenizer.decode(self.ids)
        if not text.endswith("\ufffd"):  # U+FFFD: a character not complete
            self.on_text(text[self.shown :])
            self.shown = len(text)


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
    and the bytes AdamW keeps for its two moments."""
    torch.manual_seed(config.seed)  # LoRA's dropout
    generator = torch.Generator().manual_seed(config.seed)
    per_epoch = math.ceil(len(train) / config.batch_size)
    max_steps = config.epochs * per_epoch
    warmup = max(1, int(config.warmup_fraction * max_steps))
    device_type = torch.device(config.device).type
    model.to(config.device).train()
    optimizer = configure_optimizer(
        model, config.weight_decay, config.max_lr, (0.9, 0.95), device_type
    )
    history = dict(loss=[], val_loss=[], step_seconds=[])
    step = 0
    for _ in range(config.epochs):
        for x, y in sft_batches(
            train, config.batch_size, config.mask_prompt, generator
        ):
            started = time.perf_counter()
            lr = cosine_lr(
                step, config.max_lr, config.min_lr, warmup, max_steps
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            _, loss = model(x.to(config.device), y.to(config.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad],
                    config.grad_clip,
                )
            optimizer.step()
            history["loss"].append(loss.item())
            history["step_seconds"].append(time.perf_counter() - started)
            step += 1
        history["val_loss"].append(validation_loss(model, val, config.device))
    history["optimizer_bytes"] = sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if torch.is_tensor(t) and t.dim() > 0
    )
    model.eval()
    return history


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
