"""Whichever ffmpeg runs the job (``UPSCALE_FFMPEG``: a path, or ``bundled``), every frame
keeps its timestamp; an ffmpeg too old to be trusted is passed over with a note."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from test_video import ffmpeg, upscale

from upscale.video import probe
from upscale.video.ffmpeg.binary import (
    ENV_OVERRIDE,
    MIN_VERSION,
    bundled_exe,
    ffmpeg_choice,
    ffmpeg_version,
)

# 13 frames 40 ms apart, then 100 ms apart: the clip of the bug report.
STEP_CHANGE = r"setpts='(if(lt(N\,13)\,N*0.04\,0.48+(N-12)*0.1))/TB'"


def make_vfr_clip(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1.2", "-vf", STEP_CHANGE,
           "-fps_mode", "passthrough", "-c:v", "libx264", str(path))
    return path


def worst_timestamp_error(before: Path, after: Path) -> tuple[Fraction, Fraction]:
    """The largest timestamp difference in seconds, and one tick of the coarser time base."""
    source, result = probe(before), probe(after)
    assert result.frame_count == source.frame_count
    errors = [abs(a * result.time_base - b * source.time_base)
              for a, b in zip(result.timestamps, source.timestamps, strict=True)]
    errors.append(abs(result.first_pts - source.first_pts))
    return max(errors), max(result.time_base, source.time_base)


@pytest.mark.parametrize("container", [".mkv", ".mp4"])
def test_variable_frame_rate_timestamps_are_kept_within_one_tick(tmp_path, container):
    source = make_vfr_clip(tmp_path / f"vfr{container}")
    assert probe(source).variable_rate
    output = upscale(source, tmp_path / f"vfr_x2{container}", segment_frames=10)
    assert probe(output).variable_rate
    error, tick = worst_timestamp_error(source, output)
    assert error <= tick, f"worst timestamp error {float(error) * 1000:.3f} ms"


def fake_ffmpeg(folder: Path, version_line: str) -> Path:
    script = folder / "ffmpeg"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def fresh_choice(monkeypatch):
    """Forget the cached choice before and after, so other tests see the real one."""
    ffmpeg_choice.cache_clear()
    yield monkeypatch
    ffmpeg_choice.cache_clear()


def test_an_ffmpeg_older_than_the_minimum_is_passed_over_with_a_note(tmp_path, fresh_choice):
    old = fake_ffmpeg(tmp_path, "ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021")
    fresh_choice.setenv(ENV_OVERRIDE, str(old))
    exe, note = ffmpeg_choice()
    assert exe == bundled_exe()
    assert note is not None and str(old) in note and "4.4" in note
    assert "\n" not in note


def test_a_recent_or_snapshot_ffmpeg_is_used_as_it_is(tmp_path, fresh_choice):
    for line in ("ffmpeg version 5.1.9-0+deb12u1", "ffmpeg version N-118000-g1234abcd"):
        exe = fake_ffmpeg(tmp_path, line)
        ffmpeg_version.cache_clear()
        ffmpeg_choice.cache_clear()
        fresh_choice.setenv(ENV_OVERRIDE, str(exe))
        assert ffmpeg_choice() == (str(exe), None)


def test_bundled_can_be_asked_for_by_name(fresh_choice):
    fresh_choice.setenv(ENV_OVERRIDE, "bundled")
    assert ffmpeg_choice() == (bundled_exe(), None)
    assert ffmpeg_version(bundled_exe()) >= MIN_VERSION
