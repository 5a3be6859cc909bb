"""scripts/gpu_ddp.py under torchrun on the CPU with --smoke (gloo): one
process with DDP and FSDP2, then two processes with DDP into the same file,
whose rows from the first run must stay."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROVENANCE = {"command", "device", "date_utc", "git_commit", "seed", "wall_time_s", "torch"}


def torchrun(ranks, out, *options):
    """The script under torchrun with `ranks` CPU processes; its stdout."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={ranks}", str(ROOT / "scripts" / "gpu_ddp.py")]
    cmd += ["--out", str(out), "--smoke", "--device", "cpu", "--no-compile", *options]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The file after one process (ddp, fsdp), and after two (ddp) more."""
    out = tmp_path_factory.mktemp("ddp") / "gpu_ddp.json"
    assert f"wrote {out}" in torchrun(1, out)
    first = json.loads(out.read_text())
    torchrun(2, out, "--parallel", "ddp")
    return first, json.loads(out.read_text())


def test_one_process_writes_a_row_per_mode_with_provenance(runs):
    first, _ = runs
    prov = first["provenance"]
    assert PROVENANCE <= set(prov) and prov["world_size"] == 1 and prov["smoke"]
    assert prov["command"].startswith("torchrun --standalone --nproc_per_node=1 scripts/gpu_ddp.py")
    rows = first["rows"]
    assert [(r["world_size"], r["parallel"]) for r in rows] == [(1, "ddp"), (1, "fsdp")]
    for r in rows:
        assert r["tokens_per_s"] > 0 and r["mfu"] is None  # no peak FLOP/s on a CPU
        assert r["global_batch"] == r["batch_size"] == 2 and r["timed_steps"] == 3
        assert len(r["train_loss"]) == r["steps"] == 6 and r["val_loss_final"] > 0
        assert r["provenance"]["date_utc"] == prov["date_utc"]
    # The same weights, the same windows, one rank: DDP and FSDP2 train alike.
    ddp, fsdp = rows
    assert ddp["train_loss"] == pytest.approx(fsdp["train_loss"], abs=1e-3)


def test_a_later_run_adds_its_rows_and_keeps_the_earlier_ones(runs):
    first, second = runs
    assert second["provenance"]["world_size"] == 2
    rows = {(r["world_size"], r["parallel"]): r for r in second["rows"]}
    assert list(rows) == [(1, "ddp"), (1, "fsdp"), (2, "ddp")]
    assert [rows[1, "ddp"], rows[1, "fsdp"]] == first["rows"]  # untouched
    two = rows[2, "ddp"]
    assert two["global_batch"] == 2 * two["batch_size"] and two["tokens_per_s"] > 0
    assert two["provenance"]["command"].startswith("torchrun --standalone --nproc_per_node=2")


def test_it_refuses_to_run_without_torchrun(tmp_path):
    script = str(ROOT / "scripts" / "gpu_ddp.py")
    cmd = [sys.executable, script, "--out", str(tmp_path / "x.json"), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "torchrun" in proc.stderr
    assert not (tmp_path / "x.json").exists()
