"""scratchllm.chat: answers in the instruction template, streamed as text that
is always whole characters, and `python -m scratchllm.chat` end to end."""

import io
import os
import random
import subprocess
import sys
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from scratchllm import chat, instruct, lora
from scratchllm.config import GPTConfig
from scratchllm.instruct import ASSISTANT, END, encode_prompt
from scratchllm.model import GPT
from scratchllm.sampling import generate
from scratchllm.tokenizer import BPETokenizer

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The json module encodes and decodes JSON. " * 20
EOT = "<|endoftext|>"
# Bytes of 2, 3 and 4 byte characters: the tokenizer, trained on ASCII, has
# no merges for them, so each of their bytes is a token of its own.
WIDE = "Hi é中😀!"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny GPT and tokenizer, in memory and saved as the CLI reads them."""
    folder = tmp_path_factory.mktemp("chat")
    tokenizer = BPETokenizer().train(TEXT, vocab_size=300)
    tokenizer.save(folder / "tokenizer.model")
    torch.manual_seed(0)
    config = GPTConfig(
        block_size=64, vocab_size=tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=16
    )
    model = GPT(config).eval()
    state = {"model_config": asdict(config), "model": model.state_dict()}
    torch.save(state, folder / "ckpt.pt")
    return folder, model, tokenizer


class Scripted(torch.nn.Module):
    """A stand-in for a GPT that answers `script` whatever it is asked, then
    `then`: the token after each token is fixed (the ids must differ)."""

    def __init__(self, tokenizer, script, then):
        super().__init__()
        V = tokenizer.vocab_size
        self.config = GPTConfig(block_size=64, vocab_size=V, n_layer=1, n_head=1, n_embd=8)
        after = torch.zeros(V, dtype=torch.long)
        chain = [tokenizer.special_tokens[ASSISTANT], *script, then]
        assert len(set(chain)) == len(chain)
        for a, b in pairwise(chain):
            after[a] = b
        self.register_buffer("after", after)

    def forward(self, idx, cache=None):
        return F.one_hot(self.after[idx], self.config.vocab_size).float(), None


def streamed(model, tokenizer, instruction="Q?", **options):
    pieces = []
    text = instruct.answer(model, tokenizer, instruction, on_text=pieces.append, **options)
    assert "".join(pieces) == text  # what is shown is what is returned
    return text, pieces


# --- answer ---------------------------------------------------------------------


@pytest.mark.parametrize("stop", [END, EOT])
def test_answer_stops_at_end_and_leaves_it_out(tiny, stop):
    _, _, tokenizer = tiny
    script = tokenizer.encode("Hi!")
    then = tokenizer.encode("x")  # what would come after the stop
    model = Scripted(tokenizer, script + [tokenizer.special_tokens[stop]], *then)
    assert streamed(model, tokenizer)[0] == "Hi!"


def test_multi_byte_characters_are_shown_whole(tiny):
    _, _, tokenizer = tiny
    script = tokenizer.encode(WIDE)
    assert len(script) == len(WIDE.encode())  # one token per byte
    model = Scripted(tokenizer, script + [tokenizer.special_tokens[END]], then=0)
    text, pieces = streamed(model, tokenizer)
    assert text == WIDE
    assert all("\ufffd" not in p for p in pieces)
    assert {"é", "中", "😀"} <= set(pieces)  # each as its last byte came
    # Cut off inside a character: its bytes show as U+FFFD, as decode does.
    text, pieces = streamed(model, tokenizer, max_new_tokens=4)
    assert text == tokenizer.decode(script[:4]) == "Hi \ufffd" == "".join(pieces)


def test_text_pieces_add_up_to_decode(tiny):
    _, _, tokenizer = tiny
    rng = random.Random(0)
    for _ in range(200):  # random ids: invalid UTF-8 as well as split characters
        ids = [rng.randrange(tokenizer.vocab_size) for _ in range(rng.randrange(12))]
        assert "".join(instruct.text_pieces(tokenizer, ids)) == tokenizer.decode(ids)


def test_answer_is_generate_after_the_template(tiny):
    _, model, tokenizer = tiny
    prompt = encode_prompt(tokenizer, "What does json do?")
    stops = instruct.stop_ids(tokenizer)
    out = generate(model, torch.tensor([prompt]), 20, temperature=0, eos_id=stops)
    ids = [i for i in out[0, len(prompt) :].tolist() if i not in stops]
    text, _ = streamed(model, tokenizer, "What does json do?", max_new_tokens=20)
    assert text == tokenizer.decode(ids)
    # Sampled with a seed: repeatable, and streamed as returned.
    sampled = [streamed(model, tokenizer, temperature=1.0, seed=s)[0] for s in (1, 1, 2)]
    assert sampled[0] == sampled[1] != sampled[2]


def test_questions_end_at_an_empty_line_exit_or_eof(monkeypatch):
    for typed, asked in [
        ("one?\n  two? \n\nthree?\n", ["one?", "two?"]),
        ("one?\nexit\nthree?\n", ["one?"]),
        ("one?\ntwo?", ["one?", "two?"]),
    ]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
        assert list(chat.questions()) == asked


# --- the command line --------------------------------------------------------------


def run(folder, *args, stdin=None):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "code"),
        "OMP_NUM_THREADS": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    files = ["--ckpt", str(folder / "ckpt.pt"), "--tokenizer", str(folder / "tokenizer.model")]
    return subprocess.run(
        [sys.executable, "-m", "scratchllm.chat", *files, *args],
        input=stdin,
        capture_output=True,
        encoding="utf-8",
        env=env,
        timeout=120,
    )


def test_chat_answers_the_prompt_as_answer_does(tiny):
    folder, model, tokenizer = tiny
    done = run(folder, "--prompt", "What does json do?", "--max-new-tokens", "12")
    assert done.returncode == 0, done.stderr
    want = instruct.answer(model, tokenizer, "What does json do?", max_new_tokens=12)
    assert want and done.stdout == want + "\n"


def test_chat_answers_each_question_on_stdin(tiny):
    folder, model, tokenizer = tiny
    done = run(folder, "--max-new-tokens", "6", stdin="Q one?\nQ two?\nexit\nQ three?\n")
    assert done.returncode == 0, done.stderr
    want = [instruct.answer(model, tokenizer, q, max_new_tokens=6) for q in ("Q one?", "Q two?")]
    assert done.stdout == "".join(w + "\n" for w in want)


def adapter_for(model, path, seed=1):
    """Save an adapter for `model` whose B is not zero, so it changes the
    answers; return the model with it."""
    adapted = GPT(model.config)
    adapted.load_state_dict(model.state_dict())
    lora.add_lora(adapted, rank=2, alpha=4)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in adapted.named_parameters():
            if name.endswith("lora_B"):
                p.copy_(torch.randn(p.shape, generator=g))
    lora.save_adapter(path, adapted)
    return adapted.eval()


def main(folder, **flags):
    """chat.main in this process, on the tiny checkpoint unless flags say
    otherwise ({"lora": path, ...}); returns its exit status."""
    flags = {"ckpt": folder / "ckpt.pt", "tokenizer": folder / "tokenizer.model", **flags}
    args = [a for name, value in flags.items() for a in (f"--{name}", str(value))]
    try:
        chat.main(args)
    except SystemExit as exit:
        return exit.code
    return 0


def test_chat_adds_a_lora_adapter(tiny, tmp_path, capsys):
    folder, model, tokenizer = tiny
    adapted = adapter_for(model, tmp_path / "adapter.pt")
    assert main(folder, lora=tmp_path / "adapter.pt", prompt="Q?") == 0
    out = capsys.readouterr().out
    assert out == instruct.answer(adapted, tokenizer, "Q?") + "\n"
    assert out != instruct.answer(model, tokenizer, "Q?") + "\n"


def bad_input(folder, tmp_path):
    """Flags that must fail: {case: (flags, exit status, message)}."""
    junk = tmp_path / "junk.txt"
    junk.write_text("not a checkpoint, a tokenizer or an adapter\n" * 10)
    BPETokenizer().train(TEXT, vocab_size=280).save(tmp_path / "other.model")
    # The size of the model's vocabulary, but no tokens of the template.
    special = (EOT, "<|a|>", "<|b|>", "<|c|>")
    BPETokenizer().train(TEXT, 300, special_tokens=special).save(tmp_path / "plain.model")
    wider = GPT(GPTConfig(block_size=64, vocab_size=289, n_layer=1, n_head=2, n_embd=32))
    adapter_for(wider, tmp_path / "wider.pt")
    ckpt, tok = folder / "ckpt.pt", folder / "tokenizer.model"
    return {
        "no checkpoint": (dict(ckpt=tmp_path / "gone.pt"), 2, "no such file"),
        "junk checkpoint": (dict(ckpt=junk), 1, "junk.txt is not a checkpoint"),
        "tokenizer as checkpoint": (dict(ckpt=tok), 1, "is not a checkpoint"),
        "junk tokenizer": (dict(tokenizer=junk), 1, "junk.txt is not a tokenizer"),
        "vocabulary": (dict(tokenizer=tmp_path / "other.model"), 1, "has 280 tokens"),
        "template": (dict(tokenizer=tmp_path / "plain.model"), 1, "no <|user|> token"),
        "junk lora": (dict(lora=junk), 1, "junk.txt is not a LoRA adapter"),
        "checkpoint as lora": (dict(lora=ckpt), 1, "ckpt.pt is not a LoRA adapter"),
        "lora of another model": (dict(lora=tmp_path / "wider.pt"), 1, "wider.pt does not fit"),
        "empty prompt": (dict(prompt=" "), 1, "--prompt is empty"),
    }


CASES = [
    "no checkpoint",
    "junk checkpoint",
    "tokenizer as checkpoint",
    "junk tokenizer",
    "vocabulary",
    "template",
    "junk lora",
    "checkpoint as lora",
    "lora of another model",
    "empty prompt",
]


@pytest.mark.parametrize("case", CASES)
def test_chat_reports_bad_input_by_name(tiny, tmp_path, capsys, case):
    folder, _, _ = tiny
    flags, status, message = bad_input(folder, tmp_path)[case]
    assert main(folder, **{"prompt": "Q?", **flags}) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
