"""Shared fixtures: tiny networks and small images made by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SET5 = REPO_ROOT.parent / "shared" / "data" / "set5"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def set5_dir() -> Path:
    if not SET5.is_dir():
        pytest.skip("../shared/data/set5 is not present")
    return SET5


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Converted networks (e.g. OpenVINO IR of the tests' tiny networks) go to a session
    folder, not the user's cache; tests that need an empty cache set their own."""
    import os

    if "UPSCALE_CACHE" not in os.environ:
        os.environ["UPSCALE_CACHE"] = str(tmp_path_factory.mktemp("upscale-cache"))
