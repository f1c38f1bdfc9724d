"""Any image size in bounded memory: large pictures stream in bands, with today's pixels.

A picture is streamed when it is large (``files.STREAM_FROM_*``); these tests lower
those thresholds so that small pictures, quick to upscale, take the streamed road, and
compare what it writes with what the in-memory road writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import pyvips
from helpers import nearest_upsampler, run_main, tiny_rrdbnet, tiny_srvgg
from PIL import Image, ImageCms

import upscale.files as files
from upscale.imaging import read_image, write_image
from upscale.imaging._cv2 import cv2
from upscale.imaging.metadata import read_metadata
from upscale.run import prepare_network, run_network
from upscale.run.bands import ArrayRows
from upscale.run.engine import stream_network

EXIT_USAGE = 2
REPO = Path(__file__).resolve().parents[1]


def photo_like(rng, width: int, height: int, channels: int = 3) -> np.ndarray:
    """Smooth random colour, as an upscaler sees in photos (noise would test only noise)."""
    small = rng.integers(0, 256, (max(2, height // 10), max(2, width // 10), channels),
                         dtype=np.uint8)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return big.reshape(height, width, channels)


@pytest.fixture
def streamed(monkeypatch):
    """Every picture takes the streamed road."""
    monkeypatch.setattr(files, "STREAM_FROM_INPUT_PIXELS", 1)
    monkeypatch.setattr(files, "STREAM_FROM_OUTPUT_PIXELS", 1)


def upscale_both(tmp_path, monkeypatch, image, suffix, *, network=None, scale=None,
                 quality=None, metadata_from=None, streams=True):
    """(in-memory, streamed) outputs of the same input (``streams``: whether the second
    really streams)."""
    source = tmp_path / "in.png"
    if metadata_from is None:
        write_image(source, image)
    else:
        source = metadata_from
    prepared = prepare_network(network or tiny_srvgg(2), "cpu", "fp32")
    outputs = {}
    for road, threshold in (("memory", 10**15), ("streamed", 1)):
        monkeypatch.setattr(files, "STREAM_FROM_INPUT_PIXELS", threshold)
        monkeypatch.setattr(files, "STREAM_FROM_OUTPUT_PIXELS", threshold)
        picture = files.read_picture(source)
        assert isinstance(picture, files.FilePicture) == (road == "streamed" and streams)
        target = tmp_path / f"{road}{suffix}"
        result = files.upscale_file(prepared, source, target, scale=scale, tile=40,
                                    quality=quality)
        assert isinstance(result, files.StreamedPicture) == (road == "streamed" and streams)
        outputs[road] = target
    return outputs["memory"], outputs["streamed"]


@pytest.mark.parametrize("case", ["rgb8", "rgb16", "gray8", "gray16", "rgb8 x2 of x4"])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_streamed_lossless_outputs_equal_the_in_memory_ones(case, suffix, tmp_path, rng,
                                                            monkeypatch):
    image = photo_like(rng, 150, 130, 1 if case.startswith("gray") else 3)
    if case.startswith("gray"):
        image = image[:, :, 0]
    if "16" in case:
        image = image.astype(np.uint16) * 257 + rng.integers(0, 257, image.shape, np.uint16)
    network, scale = (tiny_srvgg(4), 2) if "x4" in case else (None, None)
    memory, streamed_out = upscale_both(tmp_path, monkeypatch, image, suffix, network=network,
                                        scale=scale)
    expected, got = read_image(memory), read_image(streamed_out)
    assert got.dtype == expected.dtype == image.dtype
    np.testing.assert_array_equal(got, expected)


def test_streamed_webp_is_lossless_and_equal_as_by_default(tmp_path, rng, monkeypatch):
    memory, streamed_out = upscale_both(tmp_path, monkeypatch, photo_like(rng, 90, 70), ".webp")
    np.testing.assert_array_equal(read_image(streamed_out), read_image(memory))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b) ** 2)
    return 99.0 if error == 0 else 10 * np.log10(255.0**2 / error)


@pytest.mark.parametrize("quality", [None, 80])
def test_streamed_jpeg_is_encoded_as_the_in_memory_one(quality, tmp_path, rng, monkeypatch):
    """Both are libjpeg-turbo at the same quality and 4:2:0: equal but for the encoder's
    rounding of band edges, far within what the quality loses anyway."""
    image = photo_like(rng, 160, 120)
    memory, streamed_out = upscale_both(tmp_path, monkeypatch, image, ".jpg", quality=quality)
    expected, got = read_image(memory), read_image(streamed_out)
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert psnr(got, expected) > 50
    assert abs(memory.stat().st_size - streamed_out.stat().st_size) < 0.02 * memory.stat().st_size


def test_streamed_alpha_is_upscaled_and_visible_colour_matches(tmp_path, rng, monkeypatch):
    """The transparent colour is bled a band at a time (with a margin), not over the whole
    picture: the pixels that show (opaque in the input) agree within a level; alpha is
    upscaled exactly as in memory."""
    colour = photo_like(rng, 170, 330)
    alpha = np.zeros((330, 170), np.uint8)
    alpha[40:120, 30:150] = 255
    alpha[200:300, 10:60] = 128
    image = np.dstack([colour, alpha])
    memory, streamed_out = upscale_both(tmp_path, monkeypatch, image, ".png")
    expected, got = read_image(memory).astype(int), read_image(streamed_out).astype(int)
    np.testing.assert_array_equal(got[:, :, 3], expected[:, :, 3])
    shown = np.repeat(np.repeat(alpha > 0, 2, axis=0), 2, axis=1)
    assert np.abs(got[:, :, :3] - expected[:, :, :3]).max(axis=2)[shown].max() <= 1


def test_an_opaque_alpha_stays_opaque(tmp_path, rng, monkeypatch):
    image = np.dstack([photo_like(rng, 60, 50), np.full((50, 60), 255, np.uint8)])
    memory, streamed_out = upscale_both(tmp_path, monkeypatch, image, ".png")
    np.testing.assert_array_equal(read_image(streamed_out), read_image(memory))


def test_icc_and_exif_are_carried(tmp_path, rng, monkeypatch):
    source = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Streaming Camera Co"  # Make
    exif.get_ifd(0x8769)[0xA002] = 80  # PixelXDimension: becomes the output's
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(photo_like(rng, 80, 60)).save(source, exif=exif, icc_profile=icc, quality=95)
    for suffix in (".png", ".jpg", ".webp"):
        memory, streamed_out = upscale_both(tmp_path, monkeypatch, None, suffix,
                                            metadata_from=source)
        kept = read_metadata(streamed_out)
        assert kept.icc_profile == icc == read_metadata(memory).icc_profile, suffix
        parsed = Image.Exif()
        parsed.load(b"Exif\x00\x00" + kept.exif)
        assert parsed[0x010F] == "Streaming Camera Co", suffix
        assert parsed.get_ifd(0x8769)[0xA002] == 160, suffix


def test_a_rotated_photo_is_read_whole_and_comes_out_as_before(tmp_path, rng, monkeypatch):
    source = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    Image.fromarray(photo_like(rng, 80, 50)).save(source, exif=exif, quality=95)
    memory, streamed_out = upscale_both(tmp_path, monkeypatch, None, ".png",
                                        metadata_from=source, streams=False)
    np.testing.assert_array_equal(read_image(streamed_out), read_image(memory))
    assert read_image(streamed_out).shape[:2] == (160, 100)


def test_each_band_is_reported_as_it_finishes(rng):
    """The progress callback moves at least once per band of output rows, not once per image."""
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    image = rng.integers(0, 256, (200, 90, 3), dtype=np.uint8)
    events: list[str] = []
    bands = stream_network(prepared, ArrayRows(image), image.shape, image.dtype, tile=48,
                           progress=lambda done, total: events.append("tile"))
    for band in bands:
        events.append("band")
        assert band.shape[1:] == (180, 3)
    assert events.count("band") == 5  # 200 rows in tiles of at most 48: 5 rows of tiles
    assert events[0] == "tile"
    assert all(events[i - 1] == "tile" for i, event in enumerate(events) if event == "band")


def test_blended_seams_are_rounded_once(rng):
    """Where tiles blend (the context is shorter than the network's reach) their shares are
    added in float32 and rounded once: a level from the whole-image result at most (rounding
    every share gave 2), and none where the tiles compute the same values."""
    prepared = prepare_network(tiny_rrdbnet(2), "cpu", "fp32")
    image = photo_like(rng, 96, 72)
    whole = run_network(prepared, image)
    for pad in (8, 12, 32):
        tiled = run_network(prepared, image, tile=16, tile_pad=pad)
        assert np.abs(tiled.astype(int) - whole).max() <= 1, pad
    agreeing = prepare_network(nearest_upsampler(2), "cpu", "fp32")
    for dtype in (np.uint8, np.uint16):
        image = rng.integers(0, np.iinfo(dtype).max + 1, (40, 56, 3)).astype(dtype)
        np.testing.assert_array_equal(run_network(agreeing, image, tile=8, tile_pad=2),
                                      run_network(agreeing, image))


def test_a_picture_opened_once_can_be_upscaled_twice(streamed, tmp_path, rng):
    source = write_image(tmp_path / "in.png", photo_like(rng, 60, 40))
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    picture = files.read_picture(source)
    assert isinstance(picture, files.FilePicture)
    for name in ("one.png", "two.png"):
        files.write_picture(tmp_path / name, files.upscale_picture(prepared, picture, tile=16))
    first = read_image(tmp_path / "one.png")
    assert first.shape == (80, 120, 3)
    np.testing.assert_array_equal(read_image(tmp_path / "two.png"), first)


def test_a_folder_streams_its_large_images_with_the_same_pixels(tmp_path, rng, monkeypatch,
                                                               model_file):
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "colour.png", photo_like(rng, 70, 50))
    write_image(photos / "gray.png", photo_like(rng, 40, 60, 1)[:, :, 0])
    streamed_files = []
    real_write_bands = files.write_bands
    monkeypatch.setattr(files, "write_bands", lambda path, *args, **kwargs: (
        streamed_files.append(path), real_write_bands(path, *args, **kwargs))[1])
    outputs = {}
    for road, threshold in (("memory", 10**15), ("streamed", 1)):
        monkeypatch.setattr(files, "STREAM_FROM_INPUT_PIXELS", threshold)
        monkeypatch.setattr(files, "STREAM_FROM_OUTPUT_PIXELS", threshold)
        outputs[road] = tmp_path / road
        assert run_main(photos, "-m", model_file, "-o", f"{outputs[road]}/", "-q") == 0
    assert len(streamed_files) == 2
    for name in ("colour_x2.png", "gray_x2.png"):
        np.testing.assert_array_equal(read_image(outputs["streamed"] / name),
                                      read_image(outputs["memory"] / name))


# --- limits: refused in one line before any work, with no lock and no output left ---

def refused(args: list, target: Path, capsys) -> str:
    started = time.perf_counter()
    assert run_main(*args) == EXIT_USAGE
    assert time.perf_counter() - started < 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "internal error" not in err
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}")]
    assert not target.exists() and not leftovers
    return err


def test_a_14000_square_png_is_refused_by_the_output_limit(tmp_path, capsys):
    source = tmp_path / "huge.png"
    pyvips.Image.black(14000, 14000).cast("uchar").pngsave(str(source), compression=9)
    assert source.stat().st_size < 1_000_000
    err = refused([source], tmp_path / "huge_x2.png", capsys)  # the default model is ×4
    assert "huge.png" in err and "56000×56000" in err and "--max-output-pixels" in err


def test_the_output_pixel_limit_can_be_lowered_and_raised(tmp_path, rng, capsys, model_file):
    source = write_image(tmp_path / "small.png", photo_like(rng, 30, 20))
    target = tmp_path / "small_x2.png"
    err = refused([source, "-m", model_file, "-s", "2", "--max-output-pixels", "2000"], target,
                  capsys)
    assert "60×40" in err and "2400" not in err and "--max-output-pixels" in err
    assert run_main(source, "-m", model_file, "-s", "2", "-q", "--max-output-pixels", "2400") == 0
    assert read_image(target).shape == (40, 60, 3)


def test_in_a_folder_a_file_over_the_output_limit_fails_alone_before_any_work(
        tmp_path, rng, capsys, model_file):
    photos = tmp_path / "photos"
    write_image(photos / "small.png", photo_like(rng, 20, 10))
    write_image(photos / "large.png", photo_like(rng, 30, 20))
    out = tmp_path / "out"
    assert run_main(photos, "-m", model_file, "-o", f"{out}/", "--max-output-pixels",
                    "1000") == 1
    summary = " ".join(capsys.readouterr().out.split())
    assert "60×40" in summary and "--max-output-pixels" in summary
    assert sorted(p.name for p in out.iterdir()) == ["small_x2.png"]


def test_webp_over_16383_pixels_is_refused(tmp_path, capsys):
    source = tmp_path / "wide.png"
    pyvips.Image.black(4100, 10).cast("uchar").pngsave(str(source))
    err = refused([source, "-o", tmp_path / "wide.webp"], tmp_path / "wide.webp", capsys)
    assert "16400×40" in err and "WEBP holds at most 16383×16383" in err


def test_an_output_larger_than_the_free_disk_space_is_refused(tmp_path, rng, capsys,
                                                              monkeypatch):
    import shutil

    source = write_image(tmp_path / "photo.png", photo_like(rng, 400, 300))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: usage._replace(free=1_000_000))
    err = refused([source, "-s", "4"], tmp_path / "photo_x4.png", capsys)
    assert "GB free" in err and "photo.png" in err


def test_an_absurd_scale_is_refused_at_once(tmp_path, rng, capsys):
    source = write_image(tmp_path / "tiny.png", photo_like(rng, 64, 64))
    err = refused([source, "-s", "1000"], tmp_path / "tiny_x1000.png", capsys)
    assert "at most 16" in err


# --- bounded memory, measured: a 16000×16000 input in a child process ---

BIG_SIDE = 16000
# The input alone is 256 MB and its ×2 output 1 GB, so the in-memory road needs over 1.5 GB
# with torch's ~300 MB; streamed, it measured 490-530 MB.
MEMORY_CAP_MB = 750
# The child's peak is counted from after a warm-up run (the CPU engine's first use: kernels
# compiled, engine chosen, once per machine and not about the image): Linux resets the
# resident high-water mark (VmHWM) when "5" is written to /proc/self/clear_refs.
CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import torch
    from upscale.archs.srvgg import SRVGGNetCompact
    from upscale.files import upscale_file
    from upscale.run import prepare_network, run_network
    torch.manual_seed(0)
    network = SRVGGNetCompact(in_channels=1, out_channels=1, num_feat=4, num_conv=1, scale=2)
    prepared = prepare_network(network.eval(), "cpu", "fp32")
    run_network(prepared, np.zeros((300, 300, 1), np.uint8))
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    result = upscale_file(prepared, sys.argv[1], sys.argv[2], max_pixels=None)
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print(json.dumps({"peak_mb": int(status) / 1024, "road": type(result).__name__}))
""")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")
def test_a_16000_square_input_is_upscaled_in_bounded_memory(tmp_path):
    source, target = tmp_path / "big.png", tmp_path / "big_x2.png"
    ramp = pyvips.Image.xyz(BIG_SIDE, BIG_SIDE)
    gray = ((ramp[0] * 7 + ramp[1] * 3) % 251).cast("uchar")
    gray.pngsave(str(source), compression=1)
    done = subprocess.run([sys.executable, "-c", CHILD, str(source), str(target)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["road"] == "StreamedPicture"
    assert measured["peak_mb"] < MEMORY_CAP_MB, f"peak RSS {measured['peak_mb']:.0f} MB"

    out = pyvips.Image.new_from_file(str(target), access="sequential")
    assert (out.width, out.height, out.bands) == (2 * BIG_SIDE, 2 * BIG_SIDE, 1)
    top, left, side = 20_000, 30_000, 200  # output pixels, well inside the picture
    got = out.crop(left, top, side, side).numpy()
    margin = 16  # input pixels of context around the crop: more than the network sees
    y0, x0 = top // 2 - margin, left // 2 - margin
    crop_in = gray.crop(x0, y0, side // 2 + 2 * margin, side // 2 + 2 * margin).numpy()
    import torch

    from upscale.archs.srvgg import SRVGGNetCompact
    torch.manual_seed(0)
    network = SRVGGNetCompact(in_channels=1, out_channels=1, num_feat=4, num_conv=1, scale=2)
    whole = run_network(prepare_network(network.eval(), "cpu", "fp32"), crop_in[:, :, None])
    expected = whole[2 * margin: 2 * margin + side, 2 * margin: 2 * margin + side, 0]
    np.testing.assert_array_equal(got, expected)
