"""Shared fixtures: tiny networks and small images made by the tests themselves."""

from __future__ import annotations

import os
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


# The Ray cases' process and report (or why they cannot run), when collection started them.
RAY_RUN = pytest.StashKey["tuple[subprocess.Popen, Path] | str"]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """The Ray cases run in a process of their own that mostly waits on Ray (~45 s): started
    as soon as they are collected, at a lower priority, they run while the rest of the suite
    does, and their results are read last."""
    ray_cases = [item for item in session.items
                 if getattr(item, "originalname", "") == "test_on_a_ray_cluster"]
    if ray_cases:
        session.items[:] = [item for item in session.items if item not in ray_cases] + ray_cases
        from test_distributed import start_ray_cases

        session.config.stash[RAY_RUN] = start_ray_cases()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A session that ends before the Ray tests ran (-x, Ctrl-C) stops their processes."""
    started = session.config.stash.get(RAY_RUN, None)
    if started is not None and not isinstance(started, str) and started[0].poll() is None:
        os.killpg(started[0].pid, signal.SIGKILL)  # its own session: Ray's daemons too
        started[0].wait()
