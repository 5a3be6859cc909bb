"""Instruction tuning: the template, masked targets, padded batches, the
fine-tuning loop, and the scores."""

import copy
from dataclasses import dataclass

import pytest
import torch

from scratchllm import instruct, lora
from scratchllm.config import GPTConfig
from scratchllm.instruct import END, IGNORE
from scratchllm.model import GPT
from scratchllm.tokenizer import BPETokenizer

TEXT = "The json module encodes and decodes JSON. Return a str. " * 20


@dataclass
class Ex:
    instruction: str
    response: str


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(TEXT, vocab_size=300)


def tiny_gpt(tokenizer, seed=0):
    torch.manual_seed(seed)
    config = GPTConfig(
        block_size=48, vocab_size=tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=16
    )
    return GPT(config)


def test_prompt_is_user_text_then_assistant(tokenizer):
    ids = instruct.encode_prompt(tokenizer, "What does json do?")
    special = tokenizer.special_tokens
    assert ids[0] == special[instruct.USER] and ids[-1] == special[instruct.ASSISTANT]
    assert tokenizer.decode(ids[1:-1]) == "What does json do?"


def test_special_token_text_in_a_turn_stays_text(tokenizer):
    ids, n_prompt = instruct.encode_example(tokenizer, "Say <|end|>", "It is <|end|>.")
    end = tokenizer.special_tokens[END]
    assert ids.count(end) == 1 and ids[-1] == end  # only the real end
    assert tokenizer.decode(ids[n_prompt:-1]) == "It is <|end|>."


def test_example_is_the_prompt_then_the_response_and_end(tokenizer):
    ids, n_prompt = instruct.encode_example(tokenizer, "Q?", "A str.")
    assert ids[:n_prompt] == instruct.encode_prompt(tokenizer, "Q?")
    assert tokenizer.decode(ids[n_prompt:]) == "A str.<|end|>"


def test_masked_targets_are_the_response_and_end_only():
    ids, n_prompt = [10, 11, 12, 13, 20, 21, 99], 4
    assert instruct.targets_for(ids, n_prompt) == [IGNORE, IGNORE, IGNORE, 20, 21, 99]
    assert instruct.targets_for(ids, n_prompt, mask_prompt=False) == ids[1:]


def test_batches_pad_after_the_turn_and_ignore_the_padding():
    encoded = [([1, 2, 3, 4, 5], 2), ([1, 2, 3], 2), ([1, 2, 3, 4, 5, 6, 7], 3)]
    batches = list(instruct.sft_batches(encoded, batch_size=3))
    [(x, y)] = batches
    assert x.shape == y.shape == (3, 6)
    by_length = sorted(encoded, key=lambda e: len(e[0]))  # length-sorted rows
    for row, (ids, n_prompt) in enumerate(by_length):
        n = len(ids) - 1
        assert x[row, :n].tolist() == ids[:-1]
        assert y[row, :n].tolist() == instruct.targets_for(ids, n_prompt)
        assert (y[row, n:] == IGNORE).all()


def test_padding_changes_neither_the_loss_nor_the_gradient(tokenizer):
    """The loss is a mean over the targets that count: a batch of turns of
    different lengths has the loss of all their tokens together."""
    model = tiny_gpt(tokenizer)
    turns = [
        instruct.encode_example(tokenizer, "What does json do?", "It encodes JSON."),
        instruct.encode_example(tokenizer, "Q?", "A str."),
    ]
    [(x, y)] = instruct.sft_batches(turns, batch_size=2)
    _, padded = model(x, y)
    padded.backward()
    grad = model.lm_head.weight.grad.clone()
    model.zero_grad()
    total, count = 0.0, 0
    for turn in turns:
        [(xi, yi)] = instruct.sft_batches([turn], batch_size=1)
        n = int((yi != IGNORE).sum())
        _, loss = model(xi, yi)
        (loss * n).backward()
        total, count = total + loss.item() * n, count + n
    assert padded.item() == pytest.approx(total / count, rel=1e-5)
    torch.testing.assert_close(grad, model.lm_head.weight.grad / count, rtol=1e-4, atol=1e-6)


def test_encode_all_drops_turns_longer_than_the_context(tokenizer):
    examples = [Ex("Q?", "A str."), Ex("Q?", "The json module encodes JSON. " * 10)]
    kept, dropped = instruct.encode_all(tokenizer, examples, block_size=20)
    assert dropped == 1 and len(kept) == 1 and len(kept[0][0]) <= 21


def make_data(tokenizer, n=24):
    examples = [Ex(f"Say {w}", w) for w in ["json", "str", "module", "JSON"] * (n // 4)]
    return instruct.encode_all(tokenizer, examples, block_size=48)[0]


def test_finetune_lowers_the_validation_loss(tokenizer, one_thread):
    model = tiny_gpt(tokenizer)
    data = make_data(tokenizer)
    before = instruct.validation_loss(model, data)
    config = instruct.SFTConfig(epochs=4, batch_size=8, max_lr=1e-2, min_lr=1e-3)
    history = instruct.finetune(model, data, data, config)
    assert len(history["loss"]) == 4 * 3 and len(history["val_loss"]) == 4
    assert history["val_loss"][-1] < before - 1.0
    params = sum(p.numel() for p in model.parameters())
    assert history["optimizer_bytes"] == 2 * 4 * params  # two float32 moments
    assert not model.training


def test_finetune_is_deterministic(tokenizer, one_thread):
    data = make_data(tokenizer)
    config = instruct.SFTConfig(epochs=1, batch_size=8)
    runs = [instruct.finetune(tiny_gpt(tokenizer), data, data, config)["loss"] for _ in "ab"]
    assert runs[0] == runs[1]


def test_lora_config_trains_only_a_and_b(tokenizer, one_thread):
    model = tiny_gpt(tokenizer)
    start = copy.deepcopy(model.state_dict())
    config = instruct.SFTConfig(lora_rank=2, epochs=2, batch_size=8, max_lr=1e-2)
    instruct.prepare(model, config)
    history = instruct.finetune(model, make_data(tokenizer), make_data(tokenizer), config)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all(n.endswith(("lora_A", "lora_B")) for n in trained)
    assert history["optimizer_bytes"] == 2 * 4 * lora.trainable_parameters(model)
    frozen = {n.replace(".base", ""): t for n, t in model.state_dict().items() if "lora" not in n}
    assert all(torch.equal(frozen[n], t) for n, t in start.items())
    assert any(model.state_dict()[n].abs().sum() > 0 for n in trained if n.endswith("lora_B"))


def test_whole_sequence_loss_counts_the_prompt_too(tokenizer):
    ids, n_prompt = instruct.encode_example(tokenizer, "What does json do?", "A str.")
    masked = [t for t in instruct.targets_for(ids, n_prompt) if t != IGNORE]
    whole = instruct.targets_for(ids, n_prompt, mask_prompt=False)
    assert len(whole) - len(masked) == n_prompt - 1


@pytest.mark.parametrize(
    "answer, reference, exact, f1",
    [
        ("Return a str.", "Return a  str.\n", 1.0, 1.0),
        ("return a str", "Return a str.", 0.0, pytest.approx(2 * 1 * 0.75 / 1.75)),
        ("json", "struct", 0.0, 0.0),
        ("", "json", 0.0, 0.0),
        ("a a a", "a", 0.0, pytest.approx(0.5)),  # repeats count once each
    ],
)
def test_exact_match_and_token_f1(answer, reference, exact, f1):
    assert instruct.exact_match(answer, reference) == exact
    assert instruct.token_f1(answer, reference) == f1


# --- the command line ---------------------------------------------------------


def test_command_line_tunes_a_checkpoint_and_chat_answers_with_it(tokenizer, tmp_path):
    import os
    import subprocess
    import sys
    from dataclasses import asdict
    from pathlib import Path

    from scratchllm.data import instructions
    from scratchllm.data.instructions import Example
    from scratchllm.train import load_model

    root = Path(__file__).resolve().parent.parent
    model = tiny_gpt(tokenizer)
    torch.save(
        {"model_config": asdict(model.config), "model": model.state_dict()}, tmp_path / "ckpt.pt"
    )
    tokenizer.save(tmp_path / "tok.model")
    rows = {
        split: [
            Example("summary", f"g{i % 2}", "json.x", f"Say {w}", w)
            for i, w in enumerate(["json", "str"] * n)
        ]
        for split, n in (("train", 8), ("val", 2), ("test", 2))
    }
    instructions.save_examples(tmp_path / "ex.jsonl", rows)
    env = {**os.environ, "PYTHONPATH": str(root / "code"), "OMP_NUM_THREADS": "1"}

    def run(module, *args):
        return subprocess.run(
            [sys.executable, "-m", module, *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    common = [
        "--model",
        tmp_path / "ckpt.pt",
        "--tokenizer",
        tmp_path / "tok.model",
        "--examples",
        tmp_path / "ex.jsonl",
    ]
    done = run(
        "scratchllm.instruct",
        "train",
        *common,
        "--lora-rank",
        2,
        "--epochs",
        1,
        "--out",
        tmp_path / "lora",
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lora" / "adapter.pt").exists() and "trainable parameters" in done.stderr
    done = run("scratchllm.instruct", "train", *common, "--epochs", 1, "--out", tmp_path / "full")
    assert done.returncode == 0, done.stderr
    tuned = load_model(tmp_path / "full" / "ckpt.pt")
    assert not torch.equal(tuned.lm_head.weight, model.lm_head.weight)
    files = ["--ckpt", tmp_path / "ckpt.pt", "--tokenizer", tmp_path / "tok.model"]
    done = run(
        "scratchllm.chat",
        *files,
        "--lora",
        tmp_path / "lora" / "adapter.pt",
        "--prompt",
        "Say json",
    )
    assert done.returncode == 0, done.stderr
    adapted = lora.load_adapter(tiny_gpt(tokenizer), tmp_path / "lora" / "adapter.pt").eval()
    assert done.stdout == instruct.answer(adapted, tokenizer, "Say json") + "\n"
    (tmp_path / "junk.jsonl").write_text("not json\n")
    common[-1] = tmp_path / "junk.jsonl"
    done = run("scratchllm.instruct", "train", *common, "--out", tmp_path / "x")
    assert done.returncode == 1 and "junk.jsonl" in done.stderr and "Traceback" not in done.stderr
