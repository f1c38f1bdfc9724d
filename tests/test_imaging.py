"""Reading and writing images keeps what the user's file holds, and refuses damage."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from upscale.errors import InputError, UpscaleError
from upscale.imaging import bleed_transparent_colour, read_image, write_image


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((9, 7, 3), np.uint8), ((9, 7, 3), np.uint16), ((9, 7), np.uint8), ((9, 7), np.uint16),
     ((9, 7, 4), np.uint8), ((9, 7, 4), np.uint16)],
)
def test_png_round_trip_keeps_pixels_depth_and_channels(tmp_path, rng, shape, dtype):
    top = np.iinfo(dtype).max
    image = rng.integers(0, top + 1, size=shape, dtype=np.int64).astype(dtype)
    path = write_image(tmp_path / "a.png", image)
    back = read_image(path)
    assert back.dtype == dtype
    assert back.shape == shape
    np.testing.assert_array_equal(back, image)


def test_channel_order_is_rgb(tmp_path):
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    write_image(tmp_path / "red.png", red)
    with Image.open(tmp_path / "red.png") as img:
        assert img.getpixel((0, 0))[:3] == (255, 0, 0)
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [255, 0, 0]


def test_jpeg_quality_changes_the_file_and_16_bit_becomes_8_bit(tmp_path, rng):
    image = rng.integers(0, 65536, size=(32, 32, 3)).astype(np.uint16)
    low = write_image(tmp_path / "low.jpg", image, quality=10)
    high = write_image(tmp_path / "high.jpg", image, quality=95)
    assert low.stat().st_size < high.stat().st_size
    assert read_image(high).dtype == np.uint8


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    image = np.zeros((2, 2, 3), np.uint8)
    path = write_image(tmp_path / "out.png", image)
    before = path.read_bytes()
    with pytest.raises(UpscaleError, match="already exists"):
        write_image(path, image + 1)
    assert path.read_bytes() == before
    write_image(path, image + 1, overwrite=True)
    assert read_image(path)[0, 0, 0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp files left


def test_exif_orientation_is_applied(tmp_path):
    # A 4 wide x 2 tall picture whose EXIF says "rotate 90° clockwise to view".
    pixels = np.zeros((2, 4, 3), np.uint8)
    pixels[0, 0] = (255, 255, 255)  # top-left corner is white
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif, quality=100)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buffer.getvalue())
    upright = read_image(path)
    assert upright.shape[:2] == (4, 2)
    # After a clockwise turn the old top-left corner is at the top-right.
    assert upright[0, 1].mean() > 200
    assert upright[0, 0].mean() < 100


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.png", b"", "empty file"),
        ("text.jpg", b"this is not an image\n", "not an image"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_image(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_png_and_jpeg_are_refused(tmp_path, rng):
    image = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    for suffix in (".png", ".jpg"):
        good = write_image(tmp_path / f"good{suffix}", image)
        cut = tmp_path / f"cut{suffix}"
        data = good.read_bytes()
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(InputError, match="truncated|damaged"):
            read_image(cut)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_bleeding_fills_hidden_colour_and_keeps_opaque_pixels():
    colour = np.zeros((16, 16, 3), np.uint8)
    alpha = np.zeros((16, 16), np.uint8)
    colour[4:12, 4:12] = (200, 30, 10)
    alpha[4:12, 4:12] = 255
    filled = bleed_transparent_colour(colour, alpha)
    np.testing.assert_array_equal(filled[4:12, 4:12], colour[4:12, 4:12])
    # Transparent pixels now carry the visible colour instead of black.
    assert np.abs(filled[0, 0].astype(int) - (200, 30, 10)).max() <= 2
