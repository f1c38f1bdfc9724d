"""Files the tool writes: whole or absent, with the permissions any program's files get."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, TEST_CACHE

from upscale.imaging import read_image, write_image
from upscale.notes import Note
from upscale.outputs import partial_files, write_bytes_atomically


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_follow_the_umask(tmp_path, umask_022):
    from upscale.eval.protocol import EvalReport
    from upscale.eval.results import write_json
    from upscale.loading.interpolation import Blend, write_blend

    image = write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert mode(image) == 0o644
    write_blend(tmp_path / "b.safetensors",
                Blend(state={"w": torch.zeros(2)}, alpha=0.5, distance=0.0, act_type=None), {})
    assert mode(tmp_path / "b.safetensors") == 0o644
    write_json(EvalReport(dataset="set5", method="bicubic", scale=4, degradation="bicubic",
                          seed=0), tmp_path / "r.json")
    assert mode(tmp_path / "r.json") == 0o644


def test_replacing_a_file_keeps_its_mode(tmp_path, umask_022):
    target = tmp_path / "shared.png"
    target.write_bytes(b"old")
    os.chmod(target, 0o664)
    write_bytes_atomically(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new" and mode(target) == 0o664
    assert partial_files(target) == []


def test_a_failed_write_leaves_nothing_behind_and_names_the_file(tmp_path):
    import errno

    from upscale.outputs import DestinationError, write_atomically

    def broken(path):
        path.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DestinationError, match=r"out\.png: cannot write it \(No space left"):
        write_atomically(tmp_path / "out.png", broken)
    assert list(tmp_path.iterdir()) == []


def test_transparent_rgba_as_jpeg_is_flattened_onto_white_with_a_note(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255          # red everywhere, but hidden where transparent
    rgba[:8, :, 3] = 255        # top half opaque
    with pytest.warns(Note, match="flattened onto white"):
        write_image(tmp_path / "out.jpg", rgba, quality=100)
    back = read_image(tmp_path / "out.jpg").astype(int)
    assert np.abs(back[2:6, 2:14] - [255, 0, 0]).max() <= 8      # opaque stays red
    assert np.abs(back[10:14, 2:14] - [255, 255, 255]).max() <= 8  # transparent is white


def test_opaque_rgba_as_jpeg_needs_no_note(tmp_path, recwarn):
    rgba = np.full((8, 8, 4), 255, np.uint8)
    write_image(tmp_path / "out.jpg", rgba)
    assert not [w for w in recwarn if issubclass(w.category, Note)]


def test_a_single_tile_image_still_shows_progress():
    """One tile can take a minute on a CPU: the bar is there from the start."""
    from upscale.run.progress import TileProgress

    assert TileProgress(True, total=1).bar is not None
    assert TileProgress(False, total=1).bar is None


def test_the_suite_never_writes_into_the_users_cache():
    from upscale.loading.cache import cache_root

    assert cache_root() == TEST_CACHE
    assert REPO_ROOT in TEST_CACHE.parents
