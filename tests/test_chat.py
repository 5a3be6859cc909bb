"""instruct.answer (the template, greedy decoding, a stream of text) and
`python -m scratchllm.chat` end to end on a tiny checkpoint."""

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from scratchllm import instruct, lora
from scratchllm.config import GPTConfig
from scratchllm.model import GPT
from scratchllm.tokenizer import BPETokenizer

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The json module encodes and decodes JSON: «ünïcode» too. " * 20


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat")
    tokenizer = BPETokenizer().train(TEXT, vocab_size=300)
    tokenizer.save(folder / "tokenizer.model")
    torch.manual_seed(0)
    config = GPTConfig(
        block_size=64, vocab_size=tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=16
    )
    model = GPT(config).eval()
    torch.save({"model_config": asdict(config), "model": model.state_dict()}, folder / "ckpt.pt")
    return folder, model, tokenizer


def test_answer_streams_exactly_what_it_returns(tiny):
    _, model, tokenizer = tiny
    for seed in range(3):  # sampled: bytes of «ü» in any order and split
        pieces = []
        text = instruct.answer(
            model, tokenizer, "What?", temperature=1.0, seed=seed, on_text=pieces.append
        )
        # Nothing shown is taken back: a piece never ends inside a character.
        assert "".join(pieces) == text and len(pieces) > 1


class Scripted(torch.nn.Module):
    """A model whose next token is always the next of `script`."""

    def __init__(self, config, script):
        super().__init__()
        self.config, self.script = config, script

    def forward(self, idx, targets=None, cache=None):
        logits = torch.zeros(idx.shape[0], idx.shape[1], self.config.vocab_size)
        logits[:, -1, self.script.pop(0)] = 1.0
        return logits, None


def test_answer_stops_at_end_and_leaves_it_out(tiny):
    _, model, tokenizer = tiny
    end = tokenizer.special_tokens[instruct.END]
    json_ids = tokenizer.encode("json")
    scripted = Scripted(model.config, [*json_ids, end, *json_ids])
    assert instruct.answer(scripted, tokenizer, "What?") == "json"
    scripted = Scripted(model.config, [*json_ids, *json_ids])
    assert instruct.answer(scripted, tokenizer, "Q?", max_new_tokens=len(json_ids)) == "json"


def run(folder, *args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "OMP_NUM_THREADS": "1"}
    files = ["--ckpt", str(folder / "ckpt.pt"), "--tokenizer", str(folder / "tokenizer.model")]
    return subprocess.run(
        [sys.executable, "-m", "scratchllm.chat", *files, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
    )


def test_chat_answers_one_prompt_as_answer_does(tiny):
    folder, model, tokenizer = tiny
    done = run(folder, "--prompt", "What does json do?", "--max-new-tokens", "12")
    assert done.returncode == 0, done.stderr
    want = instruct.answer(model, tokenizer, "What does json do?", max_new_tokens=12)
    assert done.stdout == want + "\n"


def test_chat_reads_questions_until_an_empty_line(tiny):
    folder, model, tokenizer = tiny
    done = run(folder, "--max-new-tokens", "6", stdin="Q one?\nQ two?\n\nQ three?\n")
    assert done.returncode == 0, done.stderr
    want = [instruct.answer(model, tokenizer, q, max_new_tokens=6) for q in ("Q one?", "Q two?")]
    assert done.stdout == "".join(w + "\n" for w in want)


def test_chat_adds_a_lora_adapter(tiny, tmp_path):
    folder, model, tokenizer = tiny
    import copy

    adapted = copy.deepcopy(model)
    lora.add_lora(adapted, rank=2, alpha=4)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n, p in adapted.named_parameters():
            if n.endswith("lora_B"):
                p.copy_(torch.randn(p.shape, generator=g))
    lora.save_adapter(tmp_path / "adapter.pt", adapted)
    done = run(folder, "--lora", str(tmp_path / "adapter.pt"), "--prompt", "Q?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == instruct.answer(adapted.eval(), tokenizer, "Q?") + "\n"
    assert done.stdout != instruct.answer(model, tokenizer, "Q?") + "\n"


def test_chat_reports_bad_files_and_exits_non_zero(tiny, tmp_path):
    folder, _, _ = tiny
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    done = run(folder, "--lora", str(junk), "--prompt", "Q?")
    assert done.returncode == 1 and "junk.pt is not a LoRA adapter" in done.stderr
    other = BPETokenizer().train(TEXT, vocab_size=280)
    other.save(tmp_path / "other.model")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "scratchllm.chat", "--ckpt", str(folder / "ckpt.pt")]
        + ["--tokenizer", str(tmp_path / "other.model"), "--prompt", "Q?"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1 and "has 280 tokens" in done.stderr
    done = run(folder, "--lora", str(tmp_path / "missing.pt"), "--prompt", "Q?")
    assert done.returncode != 0 and "missing.pt" in done.stderr
