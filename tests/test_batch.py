"""A folder in, a folder out: every good file upscaled as it was, every bad one explained.

The folder is built by the test: nested folders, PNG 8/16-bit, RGBA, gray, a
rotated JPEG with an ICC profile, WebP, and three broken files. The network is
exact nearest-neighbour x2, so every output can be checked pixel for pixel.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import nearest_upsampler, run_folder
from PIL import Image, ImageCms
from rich.console import Console

from upscale.archs import describe
from upscale.imaging import read_image, write_image
from upscale.imaging.metadata import read_metadata

GOOD = {  # input (relative) -> output (relative), default format png
    "top.png": "top_x2.png",
    "photo.jpg": "photo_x2.png",
    "pic.webp": "pic_x2.png",
    "nested/rgba.png": "nested/rgba_x2.png",
    "nested/gray.png": "nested/gray_x2.png",
    "nested/deeper/deep16.png": "nested/deeper/deep16_x2.png",
}
BAD = {  # input -> words its reason must contain
    "zero.png": "empty file",
    "nested/text.jpg": "not an image",
    "nested/deeper/cut.png": "truncated PNG",
}


@functools.cache
def srgb_profile() -> bytes:
    """Made once: a profile records its creation time, so two makings can differ."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_folder(root: Path, rng: np.random.Generator) -> Path:
    src = root / "photos"
    write_image(src / "top.png", rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    write_image(src / "pic.webp", rng.integers(0, 256, (5, 7, 3), dtype=np.uint8))
    rgba = rng.integers(0, 256, (6, 6, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(rng.random((6, 6)) < 0.3, 0, 255)
    write_image(src / "nested" / "rgba.png", rgba)
    write_image(src / "nested" / "gray.png", rng.integers(0, 256, (5, 4), dtype=np.uint8))
    write_image(src / "nested" / "deeper" / "deep16.png",
                rng.integers(0, 65536, (4, 6, 3), dtype=np.uint16))
    # Stored 12 wide x 8 high, tagged "rotate 90° clockwise to view": upright it is 8 x 12.
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0xA002] = 12
    exif.get_ifd(0x8769)[0xA003] = 8
    Image.fromarray(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)).save(
        src / "photo.jpg", "JPEG", quality=95, exif=exif, icc_profile=srgb_profile())
    (src / "zero.png").write_bytes(b"")
    (src / "nested" / "text.jpg").write_text("this is not a JPEG\n")
    whole = (src / "top.png").read_bytes()
    (src / "nested" / "deeper" / "cut.png").write_bytes(whole[: len(whole) // 2])
    return src


def nearest_x2(image: np.ndarray) -> np.ndarray:
    return image.repeat(2, axis=0).repeat(2, axis=1)


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def stamps(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


class Run:
    """One batch run, with what it printed."""

    def __init__(self, src: Path, out: Path, **options) -> None:
        self.loads = 0

        def load():
            self.loads += 1
            return describe(nearest_upsampler(2))

        stdout, stderr = io.StringIO(), io.StringIO()
        options.setdefault("recursive", True)
        self.code = run_folder(
            src, out, load_network=load, device="cpu", precision="fp32",
            stdout=Console(file=stdout, width=240, color_system=None),
            stderr=Console(file=stderr, width=240, color_system=None), **options)
        self.summary, self.messages = stdout.getvalue(), stderr.getvalue()

    def count(self, status: str) -> int:
        match = re.search(rf"^\s*{status}\s*\S\s*(\d+)", self.summary, re.MULTILINE)
        assert match, self.summary
        return int(match.group(1))


@pytest.fixture
def photos(tmp_path, rng) -> Path:
    return make_folder(tmp_path, rng)


def test_every_good_file_is_upscaled_keeping_what_it_is(photos, tmp_path):
    before = fingerprint(photos)
    out = tmp_path / "big"
    run = Run(photos, out)

    assert run.code == 1  # bad files make the batch fail, after everything else was done
    assert run.loads == 1
    assert run.count("done") == len(GOOD)
    assert run.count("failed") == len(BAD)
    for source, target in GOOD.items():
        original, result = read_image(photos / source), read_image(out / target)
        assert result.dtype == original.dtype, source
        if original.ndim == 3 and original.shape[2] == 4:  # colour under clear pixels is filled
            np.testing.assert_array_equal(result[..., 3], nearest_x2(original[..., 3]))
            opaque = nearest_x2(original[..., 3]) == 255
            np.testing.assert_array_equal(result[opaque], nearest_x2(original)[opaque])
        else:
            np.testing.assert_array_equal(result, nearest_x2(original), err_msg=source)
    assert read_image(out / "nested/deeper/deep16_x2.png").dtype == np.uint16
    assert read_image(out / "nested/gray_x2.png").ndim == 2
    assert fingerprint(photos) == before  # inputs are never modified
    made = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert made == set(GOOD.values())  # nothing for bad files, no temporary leftovers


def test_each_bad_file_is_listed_with_its_reason(photos, tmp_path):
    run = Run(photos, tmp_path / "big")
    for source, words in BAD.items():
        row = next((line for line in run.summary.splitlines() if source in line), "")
        assert "failed" in row and words in row, run.summary
        assert source in run.messages  # also reported as it happened


def test_rotated_jpeg_comes_out_upright_with_its_profile_and_updated_exif(photos, tmp_path):
    out = tmp_path / "big"
    Run(photos, out)
    result = read_image(out / "photo_x2.png")
    assert result.shape == (24, 16, 3)  # upright 8 x 12, doubled
    metadata = read_metadata(out / "photo_x2.png")
    assert metadata.icc_profile == srgb_profile()
    exif = Image.Exif()
    exif.load(metadata.exif)
    assert exif[0x0112] == 1  # the pixels are upright now; a viewer must not turn them again
    assert exif[0x010F] == "TestCam"
    assert (exif.get_ifd(0x8769)[0xA002], exif.get_ifd(0x8769)[0xA003]) == (16, 24)


def test_a_second_run_skips_everything_done_and_a_deleted_output_is_redone(photos, tmp_path):
    out = tmp_path / "big"
    Run(photos, out)
    first = stamps(out)

    again = Run(photos, out)
    assert again.count("done") == 0
    assert re.search(rf"skipped\s*\S\s*{len(GOOD)}\s*\S\s*already done", again.summary)
    assert again.count("failed") == len(BAD)  # still broken, still reported
    assert stamps(out) == first

    (out / "nested/gray_x2.png").unlink()
    third = Run(photos, out)
    assert third.count("done") == 1
    after = stamps(out)
    assert "nested/gray_x2.png" in after
    assert {k: v for k, v in after.items() if k != "nested/gray_x2.png"} == {
        k: v for k, v in first.items() if k != "nested/gray_x2.png"}


def test_a_leftover_temporary_file_is_not_mistaken_for_a_finished_output(photos, tmp_path):
    out = tmp_path / "big"
    out.mkdir()
    leftover = out / ".top_x2.png.abcd1234.part"  # what a killed run leaves behind
    leftover.write_bytes(b"half a PNG")
    Run(photos, out, glob="top.png")
    assert read_image(out / "top_x2.png").shape == (12, 10, 3)
    assert not leftover.exists()


def test_nothing_to_do_loads_no_model(photos, tmp_path):
    out = tmp_path / "big"
    Run(photos, out, glob=["*.png", "*.webp"], scale=2)
    for bad in BAD:
        (photos / bad).unlink()
    run = Run(photos, out, glob=["*.png", "*.webp"], scale=2)
    assert run.code == 0
    assert run.loads == 0


def test_same_format_keeps_jpeg_and_webp_with_the_profile(photos, tmp_path):
    out = tmp_path / "same"
    run = Run(photos, out, format="same", quality=90, glob=["*.jpg", "*.webp"], recursive=False)
    assert run.code == 0
    assert read_image(out / "photo_x2.jpg").shape == (24, 16, 3)
    kept = read_metadata(out / "photo_x2.jpg")
    assert kept.icc_profile == srgb_profile()
    exif = Image.Exif()
    exif.load(kept.exif)
    assert exif[0x0112] == 1
    assert read_image(out / "pic_x2.webp").shape == (10, 14, 3)


def test_jpg_format_drops_alpha_but_keeps_the_rest(photos, tmp_path):
    out = tmp_path / "jpg"
    run = Run(photos, out, format="jpg", glob="nested/*")
    assert run.count("done") == 2  # rgba and gray; text.jpg failed, deeper/ not matched
    assert read_image(out / "nested/rgba_x2.jpg").shape == (12, 12, 3)
    assert read_image(out / "nested/gray_x2.jpg").ndim == 2


def test_dry_run_lists_the_plan_and_writes_nothing(photos, tmp_path):
    out = tmp_path / "big"
    run = Run(photos, out, dry_run=True, scale=2)
    assert run.code == 0
    assert not out.exists()
    assert run.loads == 0
    for source, target in GOOD.items():
        row = next(line for line in run.summary.splitlines() if source in line)
        assert target in row and "upscale" in row


def test_a_folder_tells_videos_from_images_by_the_rule_a_single_file_follows(photos, tmp_path):
    """Content first: a video named .dat is a video; a PNG named .mp4, a camera raw (TIFF
    inside) and a song in .mp4 are not; the name decides only where ffmpeg cannot read."""
    from test_video import ffmpeg

    from upscale.video import media_kind

    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=16x12:rate=10:duration=0.3", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-f", "mp4", str(photos / "clip.dat"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.3", "-c:a", "aac",
           str(photos / "song.mp4"))
    (photos / "still.mp4").write_bytes((photos / "top.png").read_bytes())
    Image.new("RGB", (4, 4)).save(photos / "raw.cr2", "TIFF")
    (photos / "broken.mkv").write_bytes(b"\x00\x01 not a video at all")
    (photos / "notes.xmp").write_text("<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>\n")
    expected = {"clip.dat": ("video", "clip_x2.mp4"), "broken.mkv": ("video", "broken_x2.mkv"),
                "top.png": ("image", "top_x2.png"), "still.mp4": (None, None),
                "raw.cr2": (None, None), "song.mp4": ("no video", None),
                "notes.xmp": (None, None)}
    run = Run(photos, tmp_path / "big", dry_run=True, scale=2, recursive=False)
    for name, (kind, target) in expected.items():
        assert media_kind(photos / name) == kind, name
        row = next(line for line in run.summary.splitlines() if name in line)
        if target:
            assert target in row and "upscale" in row, row
        else:
            assert "not an image or video" in row, row


def test_without_recursion_only_the_top_folder_is_read(photos, tmp_path):
    out = tmp_path / "big"
    run = Run(photos, out, recursive=False)
    assert not (out / "nested").exists()
    assert run.count("done") == 3  # top.png, photo.jpg, pic.webp


def test_a_missing_input_folder_is_a_one_line_error(tmp_path):
    from upscale.errors import InputError

    with pytest.raises(InputError, match="nope: no such file or folder"):
        run_folder(tmp_path / "nope", tmp_path / "out",
                   load_network=lambda: describe(nearest_upsampler()))


def test_videos_without_a_video_engine_are_skipped_with_the_reason(photos, tmp_path):
    (photos / "nested" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    run = Run(photos, tmp_path / "big", videos=False)
    row = next(line for line in run.summary.splitlines() if "clip.mp4" in line)
    assert "skipped" in row and "video" in row


def test_videos_go_to_the_video_engine_with_the_same_network(photos, tmp_path):
    from upscale.batch.folder import VideoSupport

    (photos / "nested" / "clip.mp4").write_bytes(b"frames")
    (photos / "broken.mkv").write_bytes(b"")
    calls = []

    def upscale_video(prepared, source, target, *, scale, tile, tile_pad, overwrite, **report):
        calls.append((prepared.model.scale, source.name, scale))
        if source.stat().st_size == 0:
            raise ValueError(f"{source}: no video stream")
        target.write_bytes(b"upscaled " + source.read_bytes())

    engine = VideoSupport(output_suffix=lambda source: ".mkv", upscale=upscale_video)
    out = tmp_path / "big"
    run = Run(photos, out, videos=engine)
    assert (out / "nested" / "clip_x2.mkv").read_bytes() == b"upscaled frames"
    assert sorted(calls) == [(2, "broken.mkv", 2.0), (2, "clip.mp4", 2.0)]
    assert run.loads == 1  # one model for images and videos alike
    row = next(line for line in run.summary.splitlines() if "broken.mkv" in line)
    assert "failed" in row and "ValueError: no video stream" in row


def test_a_tiny_video_in_the_folder_is_upscaled_whole(photos, tmp_path, rng):
    import imageio_ffmpeg

    from upscale.video import probe

    clip = photos / "nested" / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(clip), (16, 12), fps=10, codec="libx264",
                                         pix_fmt_out="yuv420p", macro_block_size=1)
    writer.send(None)
    for _ in range(5):
        writer.send(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8).tobytes())
    writer.close()

    out = tmp_path / "big"
    run = Run(photos, out, glob=["*.mp4", "*.png"])
    info = probe(out / "nested" / "clip_x2.mp4")
    assert (info.width, info.height, info.frame_count) == (32, 24, 5)
    assert run.loads == 1
    assert Run(photos, out, glob="*.mp4").count("done") == 0  # finished videos are skipped too
