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
