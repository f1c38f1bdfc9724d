"""Video: a clip goes in, a larger clip comes out that plays exactly like the original.

Clips are made here with ffmpeg's lavfi sources (testsrc2 + a sine tone), and
the network is a tiny random-init SRVGGNetCompact run with torch directly.
Clips are made and inspected with the ffmpeg bundled with imageio-ffmpeg (so
fixtures may use options older ffmpegs lack); the code under test runs the one
it chooses, which ``UPSCALE_FFMPEG`` sets (a path, or ``bundled``). No ffprobe.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from helpers import tiny_srvgg

from upscale.errors import UpscaleError
from upscale.outputs import output_size, partial_files
from upscale.video import EncoderSettings, media_kind, probe, run_video
from upscale.video.encode import is_rgb
from upscale.video.segments import work_dir_for

SUBTITLES = "1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,000 --> 00:00:01,900\nworld\n"
CHAPTERS = (";FFMETADATA1\ntitle=Test clip\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\n"
            "title=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n")


FIXTURE_FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> str:
    """The bundled ffmpeg, for making and inspecting clips (not the code under test)."""
    proc = subprocess.run([FIXTURE_FFMPEG, "-hide_banner", "-nostdin", "-y", *args],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def make_clip(path: Path, *, size: str = "64x48", rate: str = "24000/1001", seconds: float = 2,
              audio: bool = True, extra: tuple[str, ...] = (), pattern: str = "testsrc2",
              video_codec: tuple[str, ...] = (
                  "-c:v", "libx264", "-pix_fmt", "yuv420p")) -> Path:
    inputs = ["-f", "lavfi", "-i", f"{pattern}=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    ffmpeg(*inputs, *extra, *video_codec, *(["-c:a", "aac"] if audio else []), str(path))
    return path


class Recorder:
    """A tiny network as a frame function, remembering what it was given."""

    def __init__(self, scale: float = 2, stop_after: int | None = None) -> None:
        self.net = tiny_srvgg(scale=2)
        self.scale = scale
        self.stop_after = stop_after
        self.frames = 0
        self.dtypes: set[np.dtype] = set()
        self.source_bits: set[int] = set()
        self.not_multiple_of_256 = False

    def __call__(self, frames: np.ndarray, source_bits: int = 8) -> np.ndarray:
        if self.stop_after is not None and self.frames >= self.stop_after:
            raise KeyboardInterrupt
        self.frames += len(frames)
        self.dtypes.add(frames.dtype)
        self.source_bits.add(source_bits)
        if frames.dtype == np.uint16:
            self.not_multiple_of_256 |= bool(np.any(frames % 256))
        peak = 65535.0 if frames.dtype == np.uint16 else 255.0
        x = torch.from_numpy(frames.astype(np.float32) / peak).permute(0, 3, 1, 2)
        with torch.no_grad():
            y = self.net(x).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        y = (y * peak + 0.5).astype(frames.dtype)
        target = output_size(frames.shape[2], frames.shape[1], self.scale)
        if target != (y.shape[2], y.shape[1]):
            from upscale.imaging.resize import resize_to
            y = np.stack([resize_to(frame, *target) for frame in y])
        return y

    def out_size(self, width: int, height: int) -> tuple[int, int]:
        return output_size(width, height, self.scale)


def first_frame(path: Path, size: str) -> np.ndarray:
    """The first frame as RGB, decoded by ffmpeg itself."""
    raw = subprocess.run([FIXTURE_FFMPEG, "-v", "error", "-noautorotate", "-i", str(path),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    w, h = map(int, size.split("x"))
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(float)


def upscale(source: Path, output: Path, recorder: Recorder | None = None, **options) -> Path:
    recorder = recorder or Recorder()
    return run_video(source, output, recorder, out_size=recorder.out_size, **options)


def packets(path: Path, selector: str) -> list[tuple[str, str]]:
    """(size, crc) of every packet of the selected streams: the bytes, not the timing."""
    lines = ffmpeg("-i", str(path), "-map", selector, "-c", "copy", "-f", "framecrc", "-")
    return [tuple(f.strip() for f in line.split(",")[4:6])
            for line in lines.splitlines() if line and not line.startswith("#")]


def decoded_frames(path: Path) -> list[str]:
    lines = ffmpeg("-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-")
    return [line.split(",")[-1] for line in lines.splitlines() if not line.startswith("#")]


def assert_no_output(output: Path) -> None:
    assert not output.exists()
    assert partial_files(output) == []


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """2 s at 23.976 fps with AAC audio, SRT subtitles, chapters, a title, BT.709 tags, 90°."""
    folder = tmp_path_factory.mktemp("clip")
    (folder / "subs.srt").write_text(SUBTITLES)
    (folder / "meta.txt").write_text(CHAPTERS)
    plain = make_clip(folder / "plain.mp4", extra=(
        "-vf", "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"))
    source = folder / "clip.mkv"
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-i", str(folder / "subs.srt"),
           "-i", str(folder / "meta.txt"), "-map", "0", "-map", "1", "-map_metadata", "2",
           "-map_chapters", "2", "-c", "copy", "-c:s", "srt", str(source))
    return source


@pytest.fixture(scope="module")
def upscaled(clip, tmp_path_factory) -> Path:
    return upscale(clip, tmp_path_factory.mktemp("out") / "clip_x2.mp4", segment_frames=20)


def test_every_frame_is_kept_at_the_same_rate_and_duration(clip, upscaled):
    before, after = probe(clip), probe(upscaled)
    assert after.frame_count == before.frame_count == 48
    assert after.frame_rate == Fraction(24000, 1001)
    assert not after.variable_rate
    assert abs(after.duration - before.duration) <= 1 / 23.976
    assert (after.width, after.height) == (128, 96)


def test_audio_is_copied_bit_for_bit(clip, upscaled):
    assert packets(upscaled, "0:a") == packets(clip, "0:a")
    assert len(packets(clip, "0:a")) > 50


def test_subtitles_chapters_and_title_are_carried(upscaled):
    text = ffmpeg("-i", str(upscaled), "-map", "0:s:0", "-f", "srt", "-")
    assert "hello" in text and "world" in text
    info = probe(upscaled)
    assert [s.codec for s in info.streams if s.kind == "subtitle"] == ["mov_text"]
    assert info.chapters == 2
    header = subprocess.run([FIXTURE_FFMPEG, "-hide_banner", "-i", str(upscaled)],
                            capture_output=True, text=True).stderr
    assert "Test clip" in header


def test_rotation_and_colour_tags_are_carried(clip, upscaled):
    before, after = probe(clip), probe(upscaled)
    assert before.rotation == after.rotation == 90
    assert (after.color_space, after.color_primaries, after.color_transfer, after.color_range) == (
        "bt709", "bt709", "bt709", "tv")


def test_colours_survive_the_round_trip_through_rgb(clip, upscaled):
    """Decode matrix and encode matrix agree: a 2x2 block average matches the source pixel."""
    small, big = first_frame(clip, "64x48"), first_frame(upscaled, "128x96")
    means_small = small.reshape(-1, 3).mean(0)
    means_big = big.reshape(-1, 3).mean(0)
    # a random tiny net changes colours a little; a wrong matrix shifts them a lot more
    assert np.all(np.abs(means_small - means_big) < 40)


def test_ten_bit_source_reaches_the_network_with_more_than_eight_bits(tmp_path):
    source = make_clip(tmp_path / "deep.mkv", seconds=0.5, audio=False,
                       video_codec=("-c:v", "libx264", "-pix_fmt", "yuv420p10le"))
    recorder = Recorder()
    output = upscale(source, tmp_path / "deep_x2.mkv", recorder)
    assert recorder.dtypes == {np.dtype(np.uint16)}
    assert recorder.source_bits == {10}  # what decides fp16 (enough for 10 bits) or fp32
    assert recorder.not_multiple_of_256
    assert probe(output).bit_depth == 10


def make_odd_clip(path: Path) -> Path:
    """321x241, 4 frames: testsrc (testsrc2 rounds to even sizes), 4:4:4 so x264 takes it."""
    return make_clip(path, size="321x241", rate="25", seconds=0.16, audio=False,
                     pattern="testsrc", video_codec=("-c:v", "libx264", "-pix_fmt", "yuv444p"))


def test_odd_input_size_at_one_and_a_half(tmp_path):
    source = make_odd_clip(tmp_path / "odd.mkv")
    info = probe(upscale(source, tmp_path / "odd_x1.5.mp4", Recorder(scale=1.5)))
    assert (info.width, info.height) == (482, 362)
    assert info.frame_count == 4


def test_odd_output_size_is_padded_once_with_a_notice(tmp_path):
    source = make_odd_clip(tmp_path / "odd.mkv")
    notices: list[str] = []
    info = probe(run_video(source, tmp_path / "same.mp4", lambda frames, **_: frames.copy(),
                           out_size=lambda w, h: (w, h), notify=notices.append,
                           settings=EncoderSettings(pix_fmt="yuv420p")))
    assert (info.width, info.height) == (322, 242)
    assert len([n for n in notices if "padded" in n]) == 1


def test_clip_without_audio(tmp_path):
    """Also: what a killed run left half-written for this output is cleared, not kept."""
    source = make_clip(tmp_path / "silent.mp4", seconds=1, audio=False)
    leftover = tmp_path / ".silent_x2.mp4.abcd1234.part.mp4"
    leftover.write_bytes(b"half a video")
    output = upscale(source, tmp_path / "silent_x2.mp4")
    assert not leftover.exists()
    info = probe(output)
    assert info.frame_count == probe(source).frame_count == 24
    assert [s.kind for s in info.streams] == ["video"]


def test_variable_frame_rate_keeps_every_timestamp(tmp_path):
    source = tmp_path / "vfr.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24:duration=1.5", "-vf",
           r"setpts='(N/24+if(gte(N\,12)\,0.05*(N-11)\,0))/TB'", "-fps_mode", "passthrough",
           "-c:v", "libx264", str(source))
    before = probe(source)
    assert before.variable_rate
    after = probe(upscale(source, tmp_path / "vfr_x2.mkv", segment_frames=10))
    assert after.variable_rate
    assert after.timestamps == before.timestamps


def test_truncated_file_gives_a_clear_error_and_no_output(clip, tmp_path):
    whole = make_clip(tmp_path / "whole.mp4", seconds=1)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    output = tmp_path / "broken_x2.mp4"
    with pytest.raises(UpscaleError, match="broken.mp4"):
        upscale(broken, output)
    assert_no_output(output)


@pytest.mark.parametrize("name, extra", [("cut.mkv", ()), ("cut.mp4", ("-movflags", "+faststart"))])
def test_a_file_cut_short_fails_naming_it_instead_of_encoding_what_is_left(tmp_path, name,
                                                                          extra):
    """Indexed up front (faststart MP4, MKV), a cut file still opens and decodes in part."""
    whole = make_clip(tmp_path / f"whole{Path(name).suffix}", seconds=2, extra=extra)
    cut = tmp_path / name
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    output = tmp_path / f"cut_x2{Path(name).suffix}"
    recorder = Recorder()
    with pytest.raises(UpscaleError, match=f"{name}.*truncated") as refused:
        upscale(cut, output, recorder)
    assert "\n" not in str(refused.value)
    assert recorder.frames == 0
    assert_no_output(output)


def test_audio_longer_than_the_video_is_not_taken_for_a_cut_file(tmp_path):
    source = tmp_path / "credits.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24:duration=0.5", "-f", "lavfi",
           "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(source))
    output = upscale(source, tmp_path / "credits_x2.mp4")
    assert probe(output).frame_count == 12


def test_garbage_under_a_video_name_fails_as_a_broken_video(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all" * 100)
    assert media_kind(junk) == "video"  # ffmpeg cannot read it: its name decides
    with pytest.raises(UpscaleError, match="junk.mp4"):
        upscale(junk, tmp_path / "junk_x2.mp4")
    assert_no_output(tmp_path / "junk_x2.mp4")


def test_video_is_recognised_by_content_not_name(clip, tmp_path, sample_image):
    disguised = tmp_path / "clip.dat"
    disguised.write_bytes(clip.read_bytes())
    assert media_kind(disguised) == "video"
    image = tmp_path / "butterfly.mp4"
    image.write_bytes(sample_image.read_bytes())
    assert media_kind(image) != "video"


def test_encoder_error_reports_ffmpegs_message_and_leaves_no_output(clip, tmp_path):
    output = tmp_path / "bad.mp4"
    with pytest.raises(UpscaleError, match="(?i)preset"):
        upscale(clip, output, settings=EncoderSettings(preset="no-such-preset"))
    assert_no_output(output)


def test_interrupted_then_resumed_equals_uninterrupted(clip, upscaled, tmp_path):
    output = tmp_path / "clip_x2.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale(clip, output, Recorder(stop_after=25), segment_frames=20)
    assert_no_output(output)
    assert (work_dir_for(output) / "seg_00000.nut").is_file()

    recorder = Recorder()
    upscale(clip, output, recorder, segment_frames=20)
    assert recorder.frames == 48 - 20  # the finished segment was not redone
    assert decoded_frames(output) == decoded_frames(upscaled)
    assert packets(output, "0:a") == packets(clip, "0:a")
    assert not work_dir_for(output).exists()


def test_an_rgb_source_is_encoded_as_yuv_with_a_real_matrix(tmp_path):
    """An RGB video (ffv1 bgr0 here; PNG or qtrle in a container alike) reports colour space
    "gbr", which no YUV encoder takes: the output is tagged bt709, the matrix it was made with."""
    source = make_clip(tmp_path / "rgb.mkv", seconds=0.25, audio=False,
                       video_codec=("-c:v", "ffv1", "-pix_fmt", "bgr0"))
    assert probe(source).color_space == "gbr"  # the premise
    output = upscale(source, tmp_path / "rgb_x2.mp4")
    assert probe(output).color_space == "bt709"
    small, big = first_frame(source, "64x48"), first_frame(output, "128x96")
    assert np.all(np.abs(small.reshape(-1, 3).mean(0) - big.reshape(-1, 3).mean(0)) < 40)


class Doubler:
    """Each pixel as a 2×2 block: a frame function whose exact output is known."""

    def __call__(self, frames: np.ndarray, source_bits: int = 8) -> np.ndarray:
        return frames.repeat(2, axis=1).repeat(2, axis=2)

    @staticmethod
    def out_size(width: int, height: int) -> tuple[int, int]:
        return 2 * width, 2 * height


def every_frame(path: Path, width: int, height: int) -> np.ndarray:
    """All frames as 8-bit RGB, decoded by ffmpeg itself."""
    raw = subprocess.run([FIXTURE_FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


@pytest.mark.parametrize(("source_pix_fmt", "settings"), [
    ("bgr0", EncoderSettings(codec="ffv1")),  # an RGB source stays RGB
    ("yuv444p", EncoderSettings(codec="ffv1", pix_fmt="bgr0")),
    ("yuv444p", EncoderSettings(codec="libx264rgb", crf=0)),
], ids=["rgb-source-ffv1", "ffv1-bgr0", "libx264rgb-crf0"])
def test_a_lossless_rgb_master_holds_exactly_the_upscaled_frames(tmp_path, source_pix_fmt,
                                                                 settings):
    """An archivist's master: the network's RGB frames stored as they are, no YUV matrix,
    no chroma subsampling, tagged RGB at full range (the encoders' -colorspace spells it
    "rgb", ffmpeg reports "gbr")."""
    source = make_clip(tmp_path / "source.mkv", seconds=0.25, audio=False,
                       video_codec=("-c:v", "ffv1", "-pix_fmt", source_pix_fmt))
    output = run_video(source, tmp_path / "master.mkv", Doubler(), out_size=Doubler.out_size,
                       settings=settings)
    made = probe(output)
    assert is_rgb(made.pix_fmt) and (made.color_space, made.color_range) == ("gbr", "pc")
    given = every_frame(source, 64, 48)
    assert len(given) == 6
    np.testing.assert_array_equal(every_frame(output, 128, 96), Doubler()(given))


def test_colour_tags_survive_a_codec_that_keeps_none_in_its_stream(tmp_path):
    """ffv1 stores no colour tags of its own, and the segments' container (nut) none either:
    the final file gets them from the plan, as an H.264 output gets them from its stream."""
    source = make_clip(tmp_path / "bt709.mkv", seconds=0.25, audio=False, extra=(
        "-vf", "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"),
        video_codec=("-c:v", "ffv1", "-pix_fmt", "yuv420p"))
    output = upscale(source, tmp_path / "bt709_x2.mkv", settings=EncoderSettings(codec="ffv1"))
    made = probe(output)
    assert (made.color_space, made.color_primaries, made.color_transfer, made.color_range) == (
        "bt709", "bt709", "bt709", "tv")
