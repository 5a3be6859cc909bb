"""`python -m scratchllm.generate` end to end on a tiny checkpoint."""

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from scratchllm.config import GPTConfig
from scratchllm.generate import complete
from scratchllm.model import GPT
from scratchllm.tokenizer import BPETokenizer

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The json module encodes and decodes JSON. " * 20


def tiny(tmp_path):
    tokenizer = BPETokenizer().train(TEXT, vocab_size=300)
    tokenizer.save(tmp_path / "tokenizer.model")
    torch.manual_seed(0)
    config = GPTConfig(
        block_size=32, vocab_size=tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=16
    )
    model = GPT(config).eval()
    torch.save({"model_config": asdict(config), "model": model.state_dict()}, tmp_path / "ckpt.pt")
    return model, tokenizer


def run(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scratchllm.generate",
            "--ckpt",
            str(tmp_path / "ckpt.pt"),
            "--tokenizer",
            str(tmp_path / "tokenizer.model"),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_generate_command_continues_the_prompt_reproducibly(tmp_path):
    model, tokenizer = tiny(tmp_path)
    args = ("--prompt", "The json", "--max-new-tokens", "8", "--seed", "3", "--top-k", "20")
    first, second = run(tmp_path, *args), run(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.startswith("The json")
    expected = complete(model, tokenizer, "The json", 8, top_k=20, seed=3)
    assert first.stdout.rstrip("\n") == expected


def test_greedy_decoding_is_deterministic_without_a_seed(tmp_path):
    model, tokenizer = tiny(tmp_path)
    greedy = complete(model, tokenizer, "The", 6, temperature=0, seed=1)
    assert greedy == complete(model, tokenizer, "The", 6, temperature=0, seed=2)
