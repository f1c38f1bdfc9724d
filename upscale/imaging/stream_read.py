"""Read an image file a band of rows at a time, in memory that does not grow with its height.

libvips, opened for sequential access, decodes rows on demand; used only where its pixels
are :func:`~.read.read_image`'s (PNG, JPEG, TIFF, WebP; 8/16 bits; any channels; upright).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyvips

from ..errors import InputError
from .read import check_pixel_count, error_reason, looks_truncated

STREAMED_LOADERS = ("pngload", "jpegload", "tiffload", "webpload")
STREAMED_FORMATS = {"uchar": np.dtype(np.uint8), "ushort": np.dtype(np.uint16)}
STREAMED_INTERPRETATIONS = ("srgb", "b-w", "rgb16", "grey16")
TAIL_BYTES = 1024  # enough to see a PNG's IEND or a JPEG's end-of-image marker


@dataclass(frozen=True)
class RowSource:
    """An image file's size and pixel layout, and a reader of its rows in order."""

    path: Path
    width: int
    height: int
    channels: int
    dtype: np.dtype
    read_next: Callable[[int], np.ndarray]  # the next n rows, n×W×C


def open_rows(path: str | os.PathLike, *, max_pixels: int | None = None) -> RowSource | None:
    """The file's rows, read on demand; None where only reading it whole gives
    :func:`~.read.read_image`'s pixels. A damaged file is refused in one line, as there."""
    path = Path(path)
    if not path.is_file():
        return None
    check_pixel_count(path, max_pixels)
    with path.open("rb") as file:
        head = file.read(16)
        file.seek(max(0, path.stat().st_size - TAIL_BYTES))
        tail = file.read()
    if problem := looks_truncated(head + tail):
        raise InputError(f"{path}: {problem}")
    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential", fail_on="error")
        loader = image.get("vips-loader")
    except pyvips.Error:
        return None  # the whole-file reader says what is wrong with it
    orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    if (not loader.startswith(STREAMED_LOADERS) or image.format not in STREAMED_FORMATS
            or image.interpretation not in STREAMED_INTERPRETATIONS
            or not 1 <= image.bands <= 4 or orientation != 1):
        return None
    # OpenCV reads gray+alpha as RGBA: so do these rows
    channels = 4 if image.bands == 2 else image.bands
    return RowSource(path, image.width, image.height, channels,
                     STREAMED_FORMATS[image.format], _row_reader(image, path))


def _row_reader(image, path: Path) -> Callable[[int], np.ndarray]:
    """Successive bands of ``image``'s rows (libvips keeps only what is being decoded)."""
    region = pyvips.Region.new(image)  # fetched in this thread, strictly top to bottom
    dtype = STREAMED_FORMATS[image.format]
    top = 0

    def read_next(count: int) -> np.ndarray:
        nonlocal top
        count = min(count, image.height - top)
        try:
            data = region.fetch(0, top, image.width, count)
        except pyvips.Error as exc:
            raise InputError(f"{path}: cannot be decoded ({error_reason(exc)})") from exc
        top += count
        rows = np.frombuffer(data, dtype=dtype).reshape(count, image.width, image.bands)
        return rows[:, :, [0, 0, 0, 1]] if image.bands == 2 else rows

    return read_next


def alpha_is_opaque(path: str | os.PathLike) -> bool:
    """Whether the file's alpha (last channel) is opaque everywhere, in one bounded pass."""
    image = pyvips.Image.new_from_file(str(path), access="sequential")
    top = 65535 if image.format == "ushort" else 255
    return image.extract_band(image.bands - 1).min() >= top
