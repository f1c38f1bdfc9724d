"""Outputs land where they should and nowhere else; inputs are never touched."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from helpers import nearest_upsampler, run_folder
from rich.console import Console

from upscale.archs import describe
from upscale.errors import UpscaleError
from upscale.imaging import read_image, write_image


def run(src: Path, out: Path, **options) -> tuple[int, str]:
    stdout = io.StringIO()
    options.setdefault("recursive", True)
    options.setdefault("quiet", True)
    code = run_folder(src, out, load_network=lambda: describe(nearest_upsampler(2)),
                          device="cpu",
                          precision="fp32", stderr=Console(file=io.StringIO()),
                          stdout=Console(file=stdout, width=240, color_system=None), **options)
    return code, stdout.getvalue()


@pytest.fixture
def src(tmp_path, rng) -> Path:
    folder = tmp_path / "in"
    write_image(folder / "a.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    write_image(folder / "sub" / "b.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    return folder


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("template", ["../{stem}.{ext}", "/tmp/{stem}.{ext}",
                                      "x/../../{stem}.{ext}", "{stem}_{colour}.{ext}",
                                      "upscaled.{ext}"])
def test_templates_that_leave_the_folder_or_cannot_work_are_refused(src, tmp_path, template):
    with pytest.raises(UpscaleError, match="template"):
        run(src, tmp_path / "out", name_template=template)
    assert not (tmp_path / "out").exists()
    assert files_under(tmp_path) == {"in/a.png", "in/sub/b.png"}


def test_a_symlinked_output_folder_leading_elsewhere_is_refused(src, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere.resolve(), target_is_directory=True)  # absolute link
    code, summary = run(src, out)
    assert code == 1
    assert "leads outside" in summary
    assert list(elsewhere.iterdir()) == []
    assert (out / "a_x2.png").exists()  # the rest of the batch went on


def test_a_symlink_at_an_output_name_is_never_written_through(src, tmp_path):
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_x2.png").symlink_to(victim.resolve())
    code, summary = run(src, out, overwrite=True)
    assert code == 1
    assert "symlink" in summary
    assert victim.read_bytes() == b"keep me"


def test_symlinked_input_folders_are_not_followed(src, tmp_path, rng):
    outside = tmp_path / "outside"
    write_image(outside / "c.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    (src / "link").symlink_to(outside.resolve(), target_is_directory=True)
    code, _ = run(src, tmp_path / "out")
    assert code == 0
    assert files_under(tmp_path / "out") == {"a_x2.png", "sub/b_x2.png"}


def test_an_output_folder_inside_the_input_is_not_read_back(src):
    out = src / "big"
    assert run(src, out)[0] == 0
    assert run(src, out)[0] == 0
    assert files_under(out) == {"a_x2.png", "sub/b_x2.png"}


def test_writing_into_the_input_folder_never_upscales_outputs_again(src):
    assert run(src, src)[0] == 0
    code, summary = run(src, src, quiet=False)
    assert code == 0
    assert files_under(src) == {"a.png", "a_x2.png", "sub/b.png", "sub/b_x2.png"}
    assert "output of a.png" in summary


def test_an_output_name_equal_to_its_input_is_refused(src):
    before = (src / "a.png").read_bytes()
    code, summary = run(src, src, name_template="{stem}.{ext}", format="same", overwrite=True)
    assert code == 1
    assert "inputs are never modified" in summary
    assert (src / "a.png").read_bytes() == before


def test_two_inputs_with_one_output_name_do_not_overwrite_each_other(src, rng):
    write_image(src / "a.jpg", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    code, summary = run(src, src.parent / "out", recursive=False)
    assert code == 1
    assert "same output name as a.jpg" in summary  # a.jpg sorts first and is done
    assert read_image(src.parent / "out" / "a_x2.png").shape == (8, 8, 3)


def test_glob_filters_by_name_or_by_path_ignoring_case(src, tmp_path, rng):
    write_image(src / "sub" / "C.PNG", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    run(src, tmp_path / "o1", glob="c.png")
    assert files_under(tmp_path / "o1") == {"sub/C_x2.png"}
    run(src, tmp_path / "o2", glob="sub/*")
    assert files_under(tmp_path / "o2") == {"sub/C_x2.png", "sub/b_x2.png"}


def test_existing_outputs_fail_instead_of_skipping_when_asked(src, tmp_path):
    out = tmp_path / "out"
    run(src, out)
    code, summary = run(src, out, skip_existing=False)
    assert code == 1
    assert "already exists" in summary
    code, _ = run(src, out, skip_existing=False, overwrite=True)
    assert code == 0
