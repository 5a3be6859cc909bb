"""The `python -m scratchllm.*` commands, run as a reader runs them: the whole
path corpus -> tokenizer -> tokens -> train (and --resume) -> generate on a
small slice, and one line, not a traceback, for each kind of bad input."""

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import scratchllm.data.__main__ as data_command
import scratchllm.tokenizer.__main__ as tokenizer_command
from scratchllm import generate, train
from scratchllm.data import read_split
from scratchllm.data.corpus import CorpusConfig, split_of
from scratchllm.data.sources import module_text
from scratchllm.dataset import open_tokens
from scratchllm.tokenizer import BPETokenizer

ROOT = Path(__file__).resolve().parent.parent
# A model small enough to train in a second or two.
MODEL = (
    "--n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --batch-size 4 --eval-batches 2"
    " --warmup-steps 2"
)
STEPS = "--max-steps 8 --eval-interval 4"
SAMPLE = "--ckpt run/ckpt.pt --tokenizer tokenizer.model --prompt The --max-new-tokens 10 --seed 1"


def scratchllm(command, *args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", f"scratchllm.{command}", *map(str, args)]
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=300)
    # Decoded by hand: text=True would turn a sampled "\r" into "\n".
    result.stdout, result.stderr = result.stdout.decode(), result.stderr.decode()
    return result


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def stdlib_slice(folder, per_split=3):
    """A few single-file public modules of this Python's standard library,
    chosen so that their docstrings land in the train and the val split."""
    chosen = {"train": [], "val": []}
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        docs = chosen.get(split_of(path.stem, CorpusConfig()))
        if docs is None or len(docs) == per_split or path.name.startswith("_"):
            continue
        text = module_text(path.stem, ast.parse(path.read_text(encoding="utf-8")))
        if len(text.split()) >= 150:  # well above the too-short rule
            docs.append(path)
    folder.mkdir()
    for path in chosen["train"] + chosen["val"]:
        shutil.copy(path, folder / path.name)
    return chosen


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """The README's commands, on a slice: the folder they ran in."""
    work = tmp_path_factory.mktemp("pipeline")
    chosen = stdlib_slice(work / "stdlib")
    assert all(len(paths) == 3 for paths in chosen.values())
    (work / "html").mkdir()
    commands = [
        "data --out corpus --doc-root html --stdlib-root stdlib",
        "tokenizer train --corpus corpus --vocab-size 300 --out tokenizer.model",
        "tokenizer encode --corpus corpus --tokenizer tokenizer.model --out tokens",
        f"train --tokens tokens --out run {MODEL} {STEPS} --until 4",
        f"train --tokens tokens --out run {MODEL} {STEPS} --resume",
        f"generate {SAMPLE}",
    ]
    built, *_, resumed, sampled = [
        ok(scratchllm(*command.split(), cwd=work)) for command in commands
    ]
    # Progress, pass by pass: the docstrings and the code of 6 modules.
    assert "first pass: 12 documents" in built.stderr
    assert "near-duplicate search: 0 documents to drop" in built.stderr
    assert "resuming from step 4" in resumed.stderr
    (work / "sample.txt").write_bytes(sampled.stdout.encode())
    return work


def test_the_pipeline_writes_what_the_next_command_reads(pipeline):
    tokenizer = BPETokenizer().load(pipeline / "tokenizer.model")
    assert tokenizer.vocab_size == 300
    eot = tokenizer.special_tokens["<|endoftext|>"]
    for split in ("train", "val"):
        docs = [doc["text"] for doc in read_split(pipeline / "corpus", split)]
        assert len(docs) == 6  # 3 modules, docstrings and code
        ids = open_tokens(pipeline / "tokens" / f"{split}.bin")
        assert list(ids) == [i for doc in docs for i in tokenizer.encode_ordinary(doc) + [eot]]
        assert tokenizer.decode(list(ids)) == "<|endoftext|>".join(docs) + "<|endoftext|>"


def test_a_run_resumed_ends_where_one_run_ends(pipeline, tmp_path, one_thread, monkeypatch):
    monkeypatch.chdir(pipeline)
    train.main(f"--tokens tokens {MODEL} {STEPS} --out".split() + [str(tmp_path)])
    whole = json.loads((tmp_path / "history.json").read_text())
    resumed = json.loads((pipeline / "run" / "history.json").read_text())
    assert [r["step"] for r in whole] == [4, 8]
    # Everything but the clock: losses, learning rates, gradient norms.
    timing = ("elapsed", "tokens_per_s")
    untimed = [
        [{k: v for k, v in r.items() if k not in timing} for r in h] for h in (resumed, whole)
    ]
    assert untimed[0] == untimed[1]


def test_generate_continues_the_prompt_reproducibly(pipeline, one_thread, monkeypatch, capsys):
    sampled = (pipeline / "sample.txt").read_bytes().decode()
    assert sampled.startswith("The") and len(sampled) > len("The\n")
    monkeypatch.chdir(pipeline)
    generate.main(SAMPLE.split())
    assert capsys.readouterr().out == sampled


@pytest.fixture(scope="module")
def other(pipeline, tmp_path_factory):
    """A tokenizer of 290 tokens, and the corpus's splits encoded with it."""
    folder = tmp_path_factory.mktemp("other")
    corpus = pipeline / "corpus"
    model = str(folder / "other.model")
    argv = ["--corpus", str(corpus), "--vocab-size", "290", "--out", model]
    tokenizer_command.main(["train", *argv])
    argv = ["--corpus", str(corpus), "--tokenizer", model, "--out", str(folder / "tokens")]
    tokenizer_command.main(["encode", *argv])
    return folder


def refused(main, capsys, argv, words):
    """main(argv) exits non-zero with one error line naming the problem; run
    in this process, so that a traceback would be an exception here."""
    with pytest.raises(SystemExit) as exit:
        main([str(arg) for arg in argv])
    assert exit.value.code != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0]


def test_generate_refuses_a_missing_checkpoint(pipeline, capsys):
    argv = ["--ckpt", pipeline / "nowhere/ckpt.pt", "--tokenizer", pipeline / "tokenizer.model"]
    refused(generate.main, capsys, argv, ["nowhere/ckpt.pt"])


def test_generate_refuses_a_missing_tokenizer(pipeline, capsys):
    argv = ["--ckpt", pipeline / "run/ckpt.pt", "--tokenizer", pipeline / "missing.model"]
    refused(generate.main, capsys, argv, ["missing.model"])


def test_generate_refuses_a_tokenizer_of_another_vocabulary(pipeline, other, capsys):
    argv = ["--ckpt", pipeline / "run/ckpt.pt", "--tokenizer", other / "other.model"]
    refused(generate.main, capsys, [*argv, "--prompt", "The"], ["290", "300"])


def test_generate_refuses_a_negative_temperature(pipeline, capsys):
    argv = ["--ckpt", pipeline / "run/ckpt.pt", "--tokenizer", pipeline / "tokenizer.model"]
    argv += ["--prompt", "The", "--temperature", "-1"]
    refused(generate.main, capsys, argv, ["--temperature"])


def test_generate_refuses_an_empty_prompt(pipeline, capsys):
    argv = ["--ckpt", pipeline / "run/ckpt.pt", "--tokenizer", pipeline / "tokenizer.model"]
    refused(generate.main, capsys, [*argv, "--prompt", ""], ["--prompt"])


def test_generate_refuses_a_file_that_is_no_checkpoint(pipeline, capsys):
    model = pipeline / "tokenizer.model"
    refused(
        generate.main,
        capsys,
        ["--ckpt", model, "--tokenizer", model, "--prompt", "The"],
        [f"{model} is not a checkpoint"],
    )


def test_generate_refuses_a_file_that_is_no_tokenizer(pipeline, capsys):
    ckpt = pipeline / "run/ckpt.pt"
    refused(
        generate.main,
        capsys,
        ["--ckpt", ckpt, "--tokenizer", ckpt, "--prompt", "The"],
        [f"{ckpt} is not a tokenizer"],
    )


def test_tokenizer_encode_refuses_a_missing_tokenizer(pipeline, tmp_path, capsys):
    argv = ["encode", "--corpus", pipeline / "corpus", "--tokenizer", tmp_path / "no.model"]
    refused(tokenizer_command.main, capsys, [*argv, "--out", tmp_path], ["no.model"])


def test_tokenizer_refuses_a_corpus_without_the_split(tmp_path, capsys):
    argv = ["train", "--corpus", tmp_path, "--out", tmp_path / "t.model"]
    refused(tokenizer_command.main, capsys, argv, ["train.jsonl"])


def test_tokenizer_refuses_a_vocabulary_smaller_than_its_bytes(pipeline, tmp_path, capsys):
    argv = ["train", "--corpus", pipeline / "corpus", "--out", tmp_path / "t.model"]
    refused(tokenizer_command.main, capsys, [*argv, "--vocab-size", "100"], ["--vocab-size", "260"])


def test_train_refuses_missing_tokens(tmp_path, capsys):
    argv = ["--tokens", tmp_path, "--out", tmp_path / "run", *MODEL.split()]
    refused(train.main, capsys, argv, ["train.bin"])


def test_train_refuses_negative_steps(pipeline, tmp_path, capsys):
    argv = ["--tokens", pipeline / "tokens", "--out", tmp_path, *MODEL.split(), "--max-steps", "-5"]
    refused(train.main, capsys, argv, ["--max-steps", "-5"])


def test_train_refuses_an_unknown_device(pipeline, tmp_path, capsys):
    argv = ["--tokens", pipeline / "tokens", "--out", tmp_path, *MODEL.split(), "--device", "gpu"]
    refused(train.main, capsys, argv, ["--device", "gpu"])


def test_train_refuses_heads_that_do_not_divide_the_width(pipeline, tmp_path, capsys):
    argv = ["--tokens", pipeline / "tokens", "--out", tmp_path, *MODEL.split(), "--n-head", "3"]
    refused(train.main, capsys, argv, ["--n-head 3"])


def test_train_refuses_to_resume_on_tokens_of_another_vocabulary(pipeline, other, tmp_path, capsys):
    shutil.copytree(pipeline / "run", tmp_path / "run")
    argv = ["--tokens", other / "tokens", "--out", tmp_path / "run", "--resume", *MODEL.split()]
    refused(train.main, capsys, argv, ["vocab_size 300", "290"])


def test_train_refuses_train_and_val_of_two_vocabularies(pipeline, other, tmp_path, capsys):
    shutil.copytree(pipeline / "tokens", tmp_path / "tokens")
    for name in ("val.bin", "val.bin.json"):
        shutil.copy(other / "tokens" / name, tmp_path / "tokens" / name)
    argv = ["--tokens", tmp_path / "tokens", "--out", tmp_path / "run", *MODEL.split()]
    refused(train.main, capsys, argv, ["300", "290"])


def test_data_refuses_a_missing_source_folder(tmp_path, capsys):
    argv = ["--out", tmp_path / "corpus", "--doc-root", tmp_path / "none"]
    refused(data_command.main, capsys, argv, ["none"])


COMMANDS = [(data_command.main, []), (train.main, []), (generate.main, [])] + [
    (tokenizer_command.main, argv) for argv in ([], ["train"], ["encode"])
]


@pytest.mark.parametrize("main, argv", COMMANDS)
def test_every_help_has_an_example(main, argv, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*argv, "--help"])
    assert exit.value.code == 0
    example = capsys.readouterr().out.split("example")[-1]
    assert f"python -m {main.__module__.removesuffix('.__main__')} " in example
