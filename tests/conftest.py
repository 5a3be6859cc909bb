import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Before numpy loads: OpenBLAS's threads make scipy's L-BFGS-B, whose
# matrices are 5 x 5, ten times slower on this project's busy CPUs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Under pytest-xdist the workers share the cores: torch's threads (in this
# process and in the kernels and commands it starts) get their share, since
# threads that spin-wait on a taken core slow every step many times over.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    share = len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, share)))
# The library and the figure code import as the book's kernels see them.
for path in (ROOT / "code", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def pytest_addoption(parser):
    parser.addoption(
        "--device",
        default="cpu",
        help="torch device for the library's tests, e.g. cuda (default: cpu)",
    )


@pytest.fixture
def device(request):
    import torch

    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.fail("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


@pytest.fixture
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine the
    threads' spin-waits make every step many times slower."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
