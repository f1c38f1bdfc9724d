"""An interrupted video is never work thrown away: the same command continues it, another
run cannot trample it, and nothing is deleted unless ``restart`` says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from test_video import Recorder, assert_no_output, decoded_frames, make_clip, upscale

from upscale.errors import UpscaleError
from upscale.video import EncoderSettings
from upscale.video.segments import work_dir_for

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2 s at 23.976 fps (48 frames) with AAC audio."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture(scope="module")
def upscaled(clip, tmp_path_factory):
    return upscale(clip, tmp_path_factory.mktemp("out") / "clip_x2.mp4", segment_frames=20)


def interrupt_after_first_segment(clip, output) -> KeyboardInterrupt:
    """Ctrl-C while frame 25 of 48 is upscaled: segment 0 (frames 0-19) is finished."""
    with pytest.raises(KeyboardInterrupt) as caught:
        upscale(clip, output, Recorder(stop_after=25), segment_frames=20)
    assert (work_dir_for(output) / "seg_00000.nut").is_file()
    return caught.value


def test_running_the_same_command_again_continues_without_resume(clip, upscaled, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    interrupt_after_first_segment(clip, output)
    recorder = Recorder()
    upscale(clip, output, recorder, segment_frames=20)  # no resume flag: the default now
    assert recorder.frames == 48 - 20
    assert decoded_frames(output) == decoded_frames(upscaled)
    assert not work_dir_for(output).exists()


def test_restart_discards_the_unfinished_work(clip, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    interrupt_after_first_segment(clip, output)
    recorder = Recorder()
    upscale(clip, output, recorder, segment_frames=20, restart=True)
    assert recorder.frames == 48


def test_work_from_other_settings_is_kept_and_named_not_deleted(clip, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    interrupt_after_first_segment(clip, output)
    recorder = Recorder()
    with pytest.raises(UpscaleError) as refused:
        upscale(clip, output, recorder, segment_frames=20, settings=EncoderSettings(crf=30))
    message = str(refused.value)
    assert work_dir_for(output).name in message and "--restart" in message
    assert "\n" not in message
    assert recorder.frames == 0
    assert (work_dir_for(output) / "seg_00000.nut").is_file()
    assert_no_output(output)


def test_ctrl_c_says_what_was_kept_and_how_to_continue(clip, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    interrupted = interrupt_after_first_segment(clip, output)
    message = str(interrupted)
    assert "20 of 48" in message and work_dir_for(output).name in message
    assert "again" in message and "\n" not in message
    assert not any(work_dir_for(output).glob("*.partial.*"))  # only finished work is left


def test_resume_message_gives_the_real_frame_when_only_the_mux_was_left(clip, tmp_path,
                                                                       monkeypatch):
    import upscale.video.job as job

    output = tmp_path / "clip_x2.mp4"
    real_mux = job.mux

    def interrupted_mux(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "mux", interrupted_mux)
    with pytest.raises(KeyboardInterrupt) as caught:
        upscale(clip, output, segment_frames=20)
    assert "48 of 48" in str(caught.value)
    monkeypatch.setattr(job, "mux", real_mux)
    notices: list[str] = []
    recorder = Recorder()
    upscale(clip, output, recorder, segment_frames=20, notify=notices.append)
    assert recorder.frames == 0
    resumed = [n for n in notices if "resuming" in n]
    assert len(resumed) == 1 and "48" in resumed[0] and "60" not in resumed[0]
    assert output.is_file()


def hold_the_output(output) -> subprocess.Popen:
    """Another process that owns ``output`` until it is killed."""
    code = ("import sys; from pathlib import Path; from upscale.outputs import OutputLock\n"
            f"with OutputLock.for_file(Path({str(output)!r})):\n"
            "    print('holding', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_run_on_the_same_output_refuses_at_once(clip, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    holder = hold_the_output(output)
    try:
        recorder = Recorder()
        with pytest.raises(UpscaleError) as refused:
            upscale(clip, output, recorder, segment_frames=20)
        assert output.name in str(refused.value) and "another" in str(refused.value)
        assert recorder.frames == 0
        assert not work_dir_for(output).exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_run_does_not_block(clip, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    holder = hold_the_output(output)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert any(p.name.endswith(".lock") for p in tmp_path.iterdir())  # left behind
    upscale(clip, output, segment_frames=20)
    assert output.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_x2.mp4"]
