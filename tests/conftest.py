"""Shared fixtures: tiny networks and small images made by the tests themselves."""

from __future__ import annotations

import importlib.util
import os
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


def pytest_report_header() -> str | None:
    if collect_ignore:
        return ("test_spandrel.py: not collected here (no spandrel); .ci/run runs it with "
                'pip install "upscale[models]"')
    return None
