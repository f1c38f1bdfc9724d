"""What a user sees when something is wrong: one line, the right exit code, no work wasted.

These run the console entry point in-process (``upscale.cli.main``), as the installed
``upscale`` command does, with whatever typer release is installed.
"""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from helpers import run_main, tiny_srvgg

import upscale.execute
from upscale import loading
from upscale.imaging import read_image, write_image

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


@pytest.fixture
def photo(tmp_path, rng):
    return write_image(tmp_path / "photo.png", rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))


@pytest.fixture
def no_model_load(monkeypatch):
    """Fails the test if the network is loaded: the error had to come before that."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the error was found")
    monkeypatch.setattr(loading, "load_choice", refuse)


# --- usage errors: click's own message, exit 2, on every typer this project allows ---

def test_unknown_option_is_a_usage_error_naming_it(photo, capsys):
    assert run_main(photo, "--bogus") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--bogus" in err and "internal error" not in err


def test_no_arguments_shows_the_help_as_a_usage_error(capsys):
    assert run_main() == EXIT_USAGE
    captured = capsys.readouterr()
    assert "Usage:" in captured.err + captured.out
    assert "internal error" not in captured.err


def test_a_bad_number_names_its_option(photo, capsys):
    assert run_main(photo, "-s", "abc") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--scale" in err and "internal error" not in err


def test_ctrl_c_says_what_was_kept_and_exits_130(photo, model_file, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(upscale.execute, "_run_file", interrupted)
    assert run_main(photo, "-m", model_file) == EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "interrupted" in err and "run the same command" in err


def test_usage_errors_answer_without_importing_torch(tmp_path, photo):
    """Failing on arguments must be instant: torch loads only when a network is needed."""
    photo.with_name("photo_x4.png").write_bytes(b"kept")
    code = ("import sys\nfrom upscale.cli import main\n"
            "for args in (['x.png', '--bogus'], ['missing.png'], ['x.png', '-s', '-1'],\n"
            "             ['photo.png'], ['photo.png', '-o', '/proc/nope/out.png']):\n"
            "    try:\n        main(args)\n    except SystemExit as e:\n"
            "        assert e.code == 2, (args, e.code)\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --- destinations: checked before any model is loaded ---

@pytest.mark.parametrize("where", ["/proc/nope/out.png", "{file}/out.png", "{photo}"])
def test_a_bad_destination_fails_before_the_model_loads(where, photo, tmp_path, no_model_load,
                                                        capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    target = where.format(file=a_file, photo=photo)
    assert run_main(photo, "-o", target, "-s", "2") == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err
    assert read_image(photo).shape == (12, 10, 3)  # the input is untouched


def test_an_existing_output_is_refused_before_the_model_loads(photo, no_model_load, capsys):
    photo.with_name("photo_x4.png").write_bytes(b"precious")
    assert run_main(photo) == EXIT_USAGE  # the default registry model: its scale is known
    assert "already exists" in capsys.readouterr().err
    assert photo.with_name("photo_x4.png").read_bytes() == b"precious"


@pytest.mark.parametrize("clash", ["its own input", "an existing output"])
def test_a_video_output_clash_is_refused_before_the_model_loads(clash, tmp_path, no_model_load,
                                                               capsys):
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.5, audio=False)
    before = clip.read_bytes()
    if clash == "its own input":
        args = ["-o", str(clip)]
    else:
        (tmp_path / "clip_x4.mp4").write_bytes(b"precious")  # the default model's x4 name
        args = []
    assert run_main(clip, *args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert ("refusing to overwrite the input" if clash == "its own input" else
            "already exists") in err
    assert clip.read_bytes() == before
    if clash == "an existing output":
        assert (tmp_path / "clip_x4.mp4").read_bytes() == b"precious"


def test_an_unknown_output_format_is_refused_before_the_model_loads(photo, no_model_load,
                                                                     capsys):
    assert run_main(photo, "-o", photo.with_name("out.xyz")) == EXIT_USAGE
    assert "out.xyz" in capsys.readouterr().err


def test_output_ending_in_slash_is_a_new_folder(photo, model_file, tmp_path):
    assert run_main(photo, "-m", model_file, "-o", f"{tmp_path}/new/", "-q") == 0
    assert read_image(tmp_path / "new" / "photo_x2.png").shape == (24, 20, 3)


# --- the size guard ---

def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width``×``height`` (its pixel data is cut short)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(1 + 3 * width) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [20_000, 100_000])
def test_a_huge_image_is_refused_from_its_header(side, tmp_path, no_model_load, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(side, side))
    assert run_main(bomb, "-s", "2") == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{side}×{side}" in err and "--max-pixels" in err
    assert not tmp_path.joinpath("bomb_x2.png").exists()


def test_max_pixels_lets_a_user_lower_the_limit(photo, no_model_load, capsys):
    assert run_main(photo, "-s", "2", "--max-pixels", "100") == EXIT_USAGE
    assert "10×12" in capsys.readouterr().err


# --- notes: nothing done differently from what was asked without a word ---

@pytest.mark.parametrize("road", ["image", "folder", "video"])
def test_a_tiny_tile_gets_a_note_on_every_road(road, photo, model_file, capsys):
    from test_video import make_clip

    source = {"image": photo, "folder": photo.parent, "video": make_clip(
        photo.parent / "clip.mp4", size="16x12", seconds=0.1, audio=False)}[road]
    assert run_main(source, "-m", model_file, "--tile", "4", "--tile-pad", "4") == 0
    assert "--tile 4 with 4 px of context" in capsys.readouterr().err


def test_quality_for_png_gets_a_note(photo, model_file, capsys):
    assert run_main(photo, "-m", model_file, "--quality", "80") == 0
    assert "--quality applies to JPEG and WebP" in capsys.readouterr().err


def test_quiet_silences_notes(photo, model_file, capsys):
    assert run_main(photo, "-m", model_file, "--quality", "80", "-q") == 0
    assert capsys.readouterr().err == ""


# --- one owner per output ---

HOLD_LOCK = """
import sys
from upscale.outputs import OutputLock
with getattr(OutputLock, sys.argv[1])(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def hold_lock(factory: str, path) -> subprocess.Popen:
    """Another process owning ``path`` (an output file or folder) until released."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, factory, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=30)


def test_a_second_run_on_the_same_image_output_refuses(photo, model_file, capsys):
    target = photo.with_name("photo_x2.png")
    holder = hold_lock("for_file", target)
    try:
        assert run_main(photo, "-m", model_file) == EXIT_USAGE
        assert "another upscale run" in capsys.readouterr().err
        assert not target.exists()
    finally:
        release(holder)
    assert run_main(photo, "-m", model_file, "-q") == 0  # free again once the owner is done
    assert target.exists() and not target.with_name(".photo_x2.png.lock").exists()


def test_a_second_run_on_the_same_output_folder_refuses(tmp_path, photo, model_file, capsys):
    out = tmp_path / "out"
    holder = hold_lock("for_folder", out)
    try:
        assert run_main(tmp_path, "-m", model_file, "-o", out) == EXIT_USAGE
        assert "another upscale run" in capsys.readouterr().err
    finally:
        release(holder)


def test_a_killed_owner_leaves_no_stale_lock(photo, model_file):
    target = photo.with_name("photo_x2.png")
    holder = hold_lock("for_file", target)
    holder.kill()
    holder.wait(timeout=30)
    assert run_main(photo, "-m", model_file, "-q") == 0


# --- folders ---

def test_subfolders_skipped_without_r_get_a_note(tmp_path, model_file, rng, capsys):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    write_image(photos / "trip" / "b.png", rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    assert run_main(photos, "-m", model_file, "-o", tmp_path / "out") == 0
    assert "add -r" in capsys.readouterr().err
    assert (tmp_path / "out" / "a_x2.png").exists()


def test_an_empty_folder_is_an_error_that_says_so(tmp_path, model_file, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    assert run_main(tmp_path / "empty", "-m", model_file) == EXIT_USAGE
    assert "no images or videos" in capsys.readouterr().err
    assert not (tmp_path / "empty_x2").exists()


def test_a_folder_of_a_x2_export_is_named_like_the_single_file(tmp_path, rng):
    """A model whose own default output scale differs from its network scale (an ncnn x2
    export of a x4 network) names folder outputs as the single-file run does."""
    from helpers import run_folder

    from upscale.archs import describe

    network = dataclasses.replace(describe(tiny_srvgg(4)), output_scale=2.0)
    photos = tmp_path / "photos"
    write_image(photos / "a.png", rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    assert run_folder(photos, None, load_network=lambda: network, quiet=True) == 0
    assert read_image(tmp_path / "photos_x2" / "a_x2.png").shape == (12, 12, 3)


def test_ctrl_c_in_a_folder_run_keeps_what_is_finished(tmp_path, model_file, rng,
                                                     monkeypatch, capsys):
    import upscale.files

    photos = tmp_path / "photos"
    for name in ("a", "b", "c"):
        write_image(photos / f"{name}.png", rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    real_upscale = upscale.files.upscale_image
    calls = []

    def stop_on_the_second_image(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second image is computing
        return real_upscale(*args, **kwargs)

    monkeypatch.setattr(upscale.files, "upscale_image", stop_on_the_second_image)
    assert run_main(photos, "-m", model_file, "-o", tmp_path / "out") == EXIT_INTERRUPTED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "1 of 3 outputs" in last and "run the same command again" in last
    assert read_image(tmp_path / "out" / "a_x2.png").shape == (12, 12, 3)
    assert run_main(photos, "-m", model_file, "-o", tmp_path / "out", "-q") == 0  # resumes
    assert (tmp_path / "out" / "c_x2.png").exists()


# --- what a new user's trial found: each road follows the same checks ---

def test_a_second_run_is_refused_before_its_model_loads(photo, no_model_load, capsys):
    target = photo.with_name("photo_x4.png")  # the default registry model's name: known early
    holder = hold_lock("for_file", target)
    try:
        assert run_main(photo) == EXIT_USAGE
        assert "another upscale run" in capsys.readouterr().err
    finally:
        release(holder)


def test_dry_run_on_one_image_says_what_it_would_write_and_writes_nothing(photo, model_file,
                                                                          capsys):
    assert run_main(photo, "-m", model_file, "--dry-run") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "photo_x2.png" in out and "nothing was written" in out
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.png", "tiny_x2.safetensors"]


def test_dry_run_on_a_video_writes_nothing(tmp_path, no_model_load, capsys):
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.25, audio=False)
    assert run_main(clip, "-s", "2", "--dry-run") == 0
    assert "clip_x2.mp4" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


@pytest.mark.parametrize(("option", "value", "complaint"), [
    ("-o", "{dir}/x.png", "not a video file name"),
    ("-o", "{dir}/x.txt", "not a video file name"),
    ("--pix-fmt", "no_such_format", "--pix-fmt no_such_format"),
])
def test_a_video_output_that_cannot_be_written_is_refused_before_the_model_loads(
        option, value, complaint, tmp_path, no_model_load, capsys):
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.25, audio=False)
    assert run_main(clip, "-s", "2", option, value.format(dir=tmp_path)) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and complaint in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no work folder left


def test_an_unwritable_output_is_not_blamed_on_another_run(photo, no_model_load, capsys):
    assert run_main(photo, "-s", "2", "-o", "/proc/x.png") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "/proc/x.png: cannot write it" in err and "another upscale run" not in err


@pytest.mark.parametrize("case", ["empty input", "--format bmp", "no --glob match",
                                  "--dry-run"])
def test_an_output_folder_appears_only_when_something_is_written(case, tmp_path, model_file,
                                                                 rng):
    photos = tmp_path / "photos"
    photos.mkdir()
    if case != "empty input":
        write_image(photos / "a.png", rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    extra = {"--format bmp": ["--format", "bmp"], "no --glob match": ["--glob", "*.jpg"],
             "--dry-run": ["--dry-run"]}.get(case, [])
    out = tmp_path / "big"
    code = run_main(photos, "-m", model_file, "-o", f"{out}/", *extra)
    assert code == (0 if case == "--dry-run" else EXIT_USAGE)
    assert not out.exists()


def test_a_full_disk_names_the_file_and_exits_2(photo, model_file, monkeypatch, capsys):
    import errno
    import pathlib

    def no_space(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_bytes", no_space)
    assert run_main(photo, "-m", model_file, "-q") == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "photo_x2.png: cannot write it (No space left on device)" in err
    assert "internal error" not in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.png", "tiny_x2.safetensors"]


def test_eval_json_into_an_unwritable_place_names_the_file(tmp_path, capsys):
    folder = tmp_path / "data"
    write_image(folder / "a.png", np.zeros((16, 16, 3), np.uint8))
    assert run_main("eval", folder, "-s", "2", "--method", "bicubic", "--json",
                    "/proc/r.json") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "/proc/r.json: cannot write it" in err and "internal error" not in err


@pytest.mark.parametrize(("args", "complaint"), [
    (["-s", "inf"], "finite"),
    (["-s", "nan"], "finite"),
    (["-s", "1000"], "at most 16"),
    (["--max-pixels", "-5"], "--max-pixels must be a positive number"),
    (["--crf", "100"], "--crf for libx264 goes from 0 (best) to 51"),
    (["--format", "bmp"], "--format must be one of"),
])
def test_a_bad_value_is_refused_in_one_line_before_the_model_loads(args, complaint, photo,
                                                                   no_model_load, capsys):
    assert run_main(photo, *args) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert complaint in err and len(err.splitlines()) == 1 and "internal error" not in err


def test_debug_shows_the_traceback_of_a_user_error_and_still_exits_2(photo, no_model_load,
                                                                     capsys):
    assert run_main(photo, "-s", "-1", "--debug") == EXIT_USAGE
    assert "Traceback" in capsys.readouterr().err


def test_resume_says_it_is_no_longer_needed_and_the_run_goes_on(photo, model_file, capsys):
    assert run_main(photo, "-m", model_file, "--resume") == 0
    assert "--resume is no longer needed" in capsys.readouterr().err
    assert (photo.parent / "photo_x2.png").is_file()
    assert run_main(photo, "-m", model_file, "--resume", "--restart") == EXIT_USAGE
    assert "contradict" in capsys.readouterr().err


def test_the_help_says_what_every_option_does(capsys):
    assert run_main("run", "--help") == 0
    run_help = " ".join(capsys.readouterr().out.split())
    assert "--debug" in run_help
    assert "no-resume" not in run_help  # --resume is not the default it would claim to be
    assert run_main("eval", "--help") == 0
    eval_help = capsys.readouterr().out
    assert "\\[" not in eval_help and "--debug" in eval_help


def write_gif(path, frames: int):
    import cv2

    pictures = [np.full((6, 8, 3), 40 * i, np.uint8) for i in range(frames)]
    assert cv2.imwritemulti(str(path), pictures) if frames > 1 else cv2.imwrite(str(path),
                                                                                 pictures[0])
    return path


def test_an_animated_gif_is_refused_alone_and_in_a_folder_a_still_one_upscaled(
        tmp_path, model_file, capsys):
    """One behaviour on both roads: a still GIF is an image (its output is a PNG); an
    animated GIF is refused with the reason, since its first frame is not the file."""
    photos = tmp_path / "photos"
    photos.mkdir()
    animated = write_gif(photos / "moving.gif", frames=3)
    write_gif(photos / "still.gif", frames=1)
    assert run_main(animated, "-m", model_file, "-o", tmp_path / "alone.png") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "moving.gif: an animated GIF (3 frames)" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "alone.png").exists()
    assert run_main(photos, "-m", model_file, "-o", tmp_path / "out", "--format", "same") == 1
    out = capsys.readouterr().out
    assert "an animated GIF (3 frames)" in " ".join(out.split())
    assert read_image(tmp_path / "out" / "still_x2.png").shape == (12, 16, 3)
    assert not (tmp_path / "out" / "moving_x2.png").exists()


def test_dry_run_names_the_scale_of_a_network_known_only_once_loaded(tmp_path, model_file,
                                                                     capsys):
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.25, audio=False)
    assert run_main(clip, "-m", model_file, "-o", tmp_path / "named.mp4", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "named.mp4" in out and "dry run at ×2" in out
    assert not (tmp_path / "named.mp4").exists()


def test_a_ray_video_run_checks_its_output_and_dry_runs_as_a_local_one(tmp_path,
                                                                      no_model_load, capsys):
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.25, audio=False)
    args = [clip, "-s", "2", "--ray", "local"]
    assert run_main(*args, "-o", tmp_path / "x.png") == EXIT_USAGE
    assert "not a video file name" in capsys.readouterr().err
    assert run_main(*args, "--dry-run") == 0
    assert "clip_x2.mp4" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
