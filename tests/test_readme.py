"""The README's examples work as written from a fresh clone."""

from __future__ import annotations

import re
import shutil

from conftest import REPO_ROOT
from helpers import tiny_srvgg

import upscale
from upscale.archs import describe
from upscale.imaging import read_image

README = (REPO_ROOT / "README.md").read_text()


def test_the_main_example_upscales_a_file_the_repository_ships():
    command = re.search(r"## Use\s+```sh\n(upscale .*)\n```", README).group(1)
    source = command.split()[1]
    path = (REPO_ROOT / source).resolve()
    assert path.is_relative_to(REPO_ROOT) and path.is_file(), command  # in every clone
    assert read_image(REPO_ROOT / source).shape == (256, 256, 3)


def test_the_python_example_runs_as_written(tmp_path, monkeypatch):
    """Pasted as it is, its two writes go to two names (a tiny x4 network stands in for
    realesrgan-x4plus, whose weights take minutes on a CPU)."""
    code = re.search(r"## From Python\s+```python\n(.*?)```", README, re.S).group(1)
    (tmp_path / "samples").mkdir()
    shutil.copy(REPO_ROOT / "samples" / "butterfly.png", tmp_path / "samples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(upscale, "load_model", lambda name: describe(tiny_srvgg(4)))
    exec(compile(code, "README.md", "exec"), {})
    assert read_image(tmp_path / "butterfly_x4.png").shape == (1024, 1024, 3)
    assert read_image(tmp_path / "butterfly_x2.png").shape == (512, 512, 3)
