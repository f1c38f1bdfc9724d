"""Shared fixtures: tiny networks and small images made by the tests themselves."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "samples" / "butterfly.png"  # Set5's butterfly, shipped for the README


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A tiny random ×2 SRVGGNetCompact saved as safetensors: a model any command can load."""
    from helpers import tiny_srvgg
    from safetensors.torch import save_file

    path = tmp_path / "tiny_x2.safetensors"
    save_file(tiny_srvgg(2).state_dict(), str(path))
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def sample_image() -> Path:
    """The photo the repository ships (Set5's butterfly, 256×256): real texture and edges."""
    return SAMPLE


# The suite never writes into the user's model cache: converted packaged weights go to a
# cache inside the checkout (ignored by git), kept between runs so that only the first
# run of a fresh clone pays for the conversions. Tests that need an empty cache set
# UPSCALE_CACHE to a tmp_path of their own.
TEST_CACHE = REPO_ROOT / ".test-cache"
os.environ["UPSCALE_CACHE"] = str(TEST_CACHE)


# spandrel's architectures need the models extra, whose torchvision pairs with PyPI's torch,
# not the +cpu build: .ci/run runs test_spandrel.py in an environment of its own.
collect_ignore = [] if importlib.util.find_spec("spandrel") else ["test_spandrel.py"]


def why_the_ray_cases_cannot_run() -> str | None:
    if importlib.util.find_spec("ray") is None:
        return 'Ray is not installed (pip install "upscale[ray]")'
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return "the Ray cases need root for their own network namespace (unshare -n)"
    return None


# The Ray cases (test_distributed.py) spend about 70 CPU-seconds in Ray's own processes. They
# run beside the rest of the suite on a core of their own, the last; the suite keeps to the
# others, so that neither's thread pools wait on the other's (one busy core made a 2-thread
# test 4x slower). Set here, before any thread pool starts; numba is given its OpenMP layer,
# as its TBB layer hung at exit in a process narrowed this way.
CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
RAY_CORES = set(CORES[-1:]) if len(CORES) > 1 and not why_the_ray_cases_cannot_run() else set()
if RAY_CORES:
    os.sched_setaffinity(0, set(CORES) - RAY_CORES)
    os.environ.setdefault("NUMBA_THREADING_LAYER", "omp")

# The Ray cases' process and report (or why they cannot run), when collection started them.
RAY_RUN = pytest.StashKey["tuple[subprocess.Popen, Path] | str"]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Ray cases as soon as they are collected (their results are read last), or
    give their core back to a session without them."""
    ray_cases = [item for item in session.items
                 if getattr(item, "originalname", "") == "test_on_a_ray_cluster"]
    if ray_cases:
        session.items[:] = [item for item in session.items if item not in ray_cases] + ray_cases
        from test_distributed import start_ray_cases

        session.config.stash[RAY_RUN] = start_ray_cases(RAY_CORES)
    elif RAY_CORES:
        os.sched_setaffinity(0, CORES)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A session that ends before the Ray tests ran (-x, Ctrl-C) stops their processes."""
    started = session.config.stash.get(RAY_RUN, None)
    if started is not None and not isinstance(started, str) and started[0].poll() is None:
        os.killpg(started[0].pid, signal.SIGKILL)  # its own session: Ray's daemons too
        started[0].wait()


def pytest_report_header() -> str | None:
    if collect_ignore:
        return ("test_spandrel.py: not collected here (no spandrel); .ci/run runs it with "
                'pip install "upscale[models]"')
    return None
