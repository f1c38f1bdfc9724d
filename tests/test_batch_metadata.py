"""Colour profile and camera data survive the upscale, without touching a single pixel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from upscale.imaging import read_image, write_image
from upscale.imaging.metadata import ImageMetadata, embed_metadata, read_metadata
from upscale.imaging.write import encode_image


@pytest.fixture(scope="module")
def metadata() -> ImageMetadata:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 8  # rotated: must become 1, since outputs are written upright
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0xA002] = 3
    exif.get_ifd(0x8769)[0xA003] = 2
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    return ImageMetadata(icc_profile=profile, exif=exif.tobytes())


CASES = [  # suffix, quality, channels, dtype
    (".png", None, 3, np.uint8),
    (".png", None, 4, np.uint16),
    (".png", None, None, np.uint8),
    (".jpg", 90, 3, np.uint8),
    (".jpg", None, None, np.uint8),
    (".webp", None, 3, np.uint8),  # lossless: a plain VP8L file until metadata arrives
    (".webp", None, 4, np.uint8),
    (".webp", 80, 3, np.uint8),  # lossy
    (".webp", 80, 4, np.uint8),  # lossy with a separate alpha chunk
]


@pytest.mark.parametrize(("suffix", "quality", "channels", "dtype"), CASES)
def test_profile_and_exif_are_kept_and_pixels_are_identical(tmp_path, rng, metadata, suffix,
                                                            quality, channels, dtype):
    shape = (20, 30) if channels is None else (20, 30, channels)
    image = rng.integers(0, np.iinfo(dtype).max + 1, size=shape).astype(dtype)
    plain = write_image(tmp_path / f"plain{suffix}", image, quality=quality)
    tagged = write_image(tmp_path / f"tagged{suffix}", image, quality=quality, metadata=metadata)

    np.testing.assert_array_equal(read_image(tagged), read_image(plain))
    kept = read_metadata(tagged)
    assert kept.icc_profile == metadata.icc_profile
    exif = Image.Exif()
    exif.load(kept.exif)
    assert exif[0x0112] == 1
    assert exif[0x010F] == "TestCam"
    sub = exif.get_ifd(0x8769)
    assert (sub[0xA002], sub[0xA003]) == (30, 20)
    assert sub[0x9003] == "2024:05:06 07:08:09"
    with Image.open(tagged) as img:  # another reader agrees on size and mode
        img.load()
        assert img.size == (30, 20)


def test_formats_without_room_for_metadata_are_written_unchanged(metadata, rng):
    image = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    encoded = encode_image(image, ".bmp")
    assert embed_metadata(encoded, ".bmp", metadata, 4, 4) == encoded


def test_files_without_metadata_or_with_broken_exif_give_none(tmp_path, rng):
    plain = write_image(tmp_path / "plain.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    assert not read_metadata(plain)
    assert not read_metadata(b"not an image at all")
    broken = ImageMetadata(exif=b"MM\x00*garbage")
    encoded = encode_image(np.zeros((4, 4, 3), np.uint8), ".png")
    out = embed_metadata(encoded, ".png", broken, 4, 4)
    assert read_image_bytes(out).shape == (4, 4, 3)
    assert read_metadata(out).exif is None  # dropped rather than carried over stale


def test_a_profile_larger_than_one_jpeg_segment_is_split_and_rejoined(rng):
    profile = bytes(rng.integers(0, 256, 150_000, dtype=np.uint8))
    encoded = encode_image(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), ".jpg")
    out = embed_metadata(encoded, ".jpg", ImageMetadata(icc_profile=profile), 8, 8)
    assert read_metadata(out).icc_profile == profile


def read_image_bytes(data: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
