"""The command line, as a user meets it: outputs where expected, one-line errors, nothing lost."""

from __future__ import annotations

import contextlib
import io
import subprocess
import traceback

import numpy as np
import pytest
from helpers import tiny_srvgg
from safetensors.torch import save_file

from upscale.imaging import read_image, write_image


def upscale_cli(*args: str) -> subprocess.CompletedProcess:
    """``upscale ARGS`` through the console entry point, in this process (no interpreter
    start-up per test): exit status and what it printed, as a subprocess would report."""
    from upscale.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(arg) for arg in args])
        except SystemExit as exited:
            status = exited.code if isinstance(exited.code, int) else 1
        except Exception:  # noqa: BLE001 - what --debug lets through, as Python prints it
            traceback.print_exc()
            status = 1
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


@pytest.fixture
def photo(tmp_path, rng):
    return write_image(tmp_path / "photo.jpg", rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))


def test_default_output_sits_beside_the_input(photo, model_file):
    result = upscale_cli(photo, "-m", model_file, "-q")
    assert result.returncode == 0, result.stderr
    out = photo.with_name("photo_x2.png")
    assert read_image(out).shape == (24, 20, 3)


def test_fractional_scale_names_and_sizes_the_output(photo, model_file):
    result = upscale_cli(photo, "-m", model_file, "-s", "1.5", "-q")
    assert result.returncode == 0, result.stderr
    assert read_image(photo.with_name("photo_x1.5.png")).shape == (18, 15, 3)


def test_output_folder_and_jpeg_quality(tmp_path, photo, model_file):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert upscale_cli(photo, "-m", model_file, "-o", out_dir, "-q").returncode == 0
    assert (out_dir / "photo_x2.png").exists()
    assert upscale_cli(photo, "-m", model_file, "-o", tmp_path / "q.jpg", "--quality", "50",
                       "-q").returncode == 0
    assert read_image(tmp_path / "q.jpg").shape == (24, 20, 3)


def test_existing_output_is_kept_without_overwrite(photo, model_file):
    out = photo.with_name("photo_x2.png")
    out.write_bytes(b"precious")
    result = upscale_cli(photo, "-m", model_file)
    assert result.returncode != 0
    assert "already exists" in result.stderr
    assert out.read_bytes() == b"precious"
    assert upscale_cli(photo, "-m", model_file, "--overwrite", "-q").returncode == 0
    assert read_image(out).shape == (24, 20, 3)


def test_the_input_is_never_overwritten(tmp_path, model_file, rng):
    src = write_image(tmp_path / "a.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    before = src.read_bytes()
    result = upscale_cli(src, "-m", model_file, "-o", src, "--overwrite")
    assert result.returncode != 0
    assert src.read_bytes() == before


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_inputs_give_one_line_and_no_traceback(tmp_path, model_file, rng):
    missing = _one_line_error(upscale_cli(tmp_path / "missing.png", "-m", model_file))
    assert "missing.png" in missing and "no such file" in missing

    fake = tmp_path / "fake.jpg"
    fake.write_text("not an image")
    assert "fake.jpg" in _one_line_error(upscale_cli(fake, "-m", model_file))

    good = write_image(tmp_path / "good.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:200])
    assert "cut.png" in _one_line_error(upscale_cli(cut, "-m", model_file))

    unknown = _one_line_error(upscale_cli(good, "-m", "no-such-model"))
    assert "no-such-model" in unknown
    assert not any(p.name.startswith("good_x") for p in tmp_path.iterdir())


def test_debug_shows_the_traceback(tmp_path, model_file):
    result = upscale_cli(tmp_path / "missing.png", "-m", model_file, "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_implicit_run_and_subcommands_share_the_command_line(tmp_path):
    assert "Commands" in upscale_cli("--help").stdout
    listing = upscale_cli("models")
    assert listing.returncode == 0
    assert "realesrgan-x4plus" in listing.stdout


def test_custom_alpha_pair_blends_and_unrelated_pair_warns(tmp_path, photo, model_file):
    other = tmp_path / "other_x2.safetensors"
    save_file(tiny_srvgg(2, seed=7).state_dict(), str(other))
    result = upscale_cli(photo, "--psnr-model", model_file, "--gan-model", other,
                         "--alpha", "0.5", "-o", tmp_path / "blend.png")
    assert result.returncode == 0, result.stderr
    assert "apart" in result.stderr  # the lineage warning, with its distance
    assert read_image(tmp_path / "blend.png").shape == (24, 20, 3)

    refused = _one_line_error(upscale_cli(photo, "--psnr-model", model_file, "--gan-model",
                                          other, "--alpha", "1.5"))
    assert "1.5" in refused


def test_a_video_in_gives_a_video_out_with_every_frame(tmp_path, model_file):
    from test_video import make_clip

    from upscale.video import probe

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.5)
    result = upscale_cli(clip, "-m", model_file, "-q")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "clip_x2.mp4"
    source, upscaled = probe(clip), probe(out)
    assert upscaled.frame_count == source.frame_count > 0
    assert (upscaled.width, upscaled.height) == (2 * source.width, 2 * source.height)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ctrl_c_during_a_video_says_what_was_kept_and_the_same_command_continues(
        tmp_path, model_file, monkeypatch, capsys):
    from test_video import make_clip

    import upscale.execute
    from upscale.cli import main

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.5, audio=False)
    args = [str(clip), "-m", str(model_file), "-q"]

    def ctrl_c_upscaler(*_args, **_options):
        def upscale_frames(frames, **_):
            raise KeyboardInterrupt
        return upscale_frames

    with monkeypatch.context() as patched:
        patched.setattr(upscale.execute, "frame_upscaler", ctrl_c_upscaler)
        with pytest.raises(SystemExit) as exited:
            main(args)
    assert exited.value.code == 130
    err = capsys.readouterr().err.strip()
    work = tmp_path / ".clip_x2.mp4.upscale-work"
    assert len(err.splitlines()) == 1
    assert "interrupted" in err and "0 of 12" in err and work.name in err and "again" in err
    assert (work / "job.json").is_file()
    main(args)
    assert (tmp_path / "clip_x2.mp4").is_file() and not work.exists()


def test_a_video_with_someone_elses_work_folder_needs_restart(tmp_path, model_file):
    from test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=0.25, audio=False)
    work = tmp_path / ".clip_x2.mp4.upscale-work"
    work.mkdir()
    (work / "job.json").write_text('{"source": "another clip"}')
    (work / "seg_00000.nut").write_bytes(b"hours of work")
    refused = _one_line_error(upscale_cli(clip, "-m", model_file, "-q"))
    assert work.name in refused and "--restart" in refused
    assert (work / "seg_00000.nut").read_bytes() == b"hours of work"
    result = upscale_cli(clip, "-m", model_file, "-q", "--restart")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "clip_x2.mp4").is_file() and not work.exists()


def test_an_audio_only_mp4_is_said_to_have_no_video_stream(tmp_path, model_file):
    from test_video import ffmpeg

    song = tmp_path / "song.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-c:a", "aac", str(song))
    error = _one_line_error(upscale_cli(song, "-m", model_file))
    assert "song.mp4" in error and "no video stream" in error
    assert sorted(tmp_path.iterdir()) == sorted([model_file, song])


def test_a_damaged_mp4_is_refused_in_one_line_by_the_video_reader(tmp_path, model_file):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    error = _one_line_error(upscale_cli(junk, "-m", model_file))
    assert "junk.mp4" in error and "not a readable video" in error
    assert sorted(tmp_path.iterdir()) == sorted([model_file, junk])


def test_a_folder_in_gives_a_folder_out_and_a_bad_file_fails_the_run(tmp_path, model_file, rng):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    write_image(photos / "sub" / "b.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    (photos / "broken.jpg").write_text("not a picture")
    result = upscale_cli(photos, "-o", tmp_path / "big", "-r", "-m", model_file, "-q")
    assert result.returncode == 1
    assert "broken.jpg" in result.stdout + result.stderr
    assert read_image(tmp_path / "big" / "a_x2.png").shape == (12, 10, 3)
    assert read_image(tmp_path / "big" / "sub" / "b_x2.png").shape == (8, 8)
    again = upscale_cli(photos, "-o", tmp_path / "big", "-r", "-m", model_file)
    assert "skipped" in again.stdout.lower()
