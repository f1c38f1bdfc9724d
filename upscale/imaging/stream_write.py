"""Encode an image a band of rows at a time, as the rows are computed.

The rows reach libvips as a stream (:mod:`.stored_png`) from a queue a band deep, and
its encoder, in a thread of its own, works on one band while the next is computed.
PNG, JPEG and TIFF hold only the rows being encoded; libwebp takes the whole picture
(bounded by its 16383×16383 limit). libvips writes no BMP: that is encoded whole.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from ..errors import UpscaleError
from ..stages import StageThread, Stopped, get, put
from .metadata import EXIF_HEADER, ImageMetadata
from .read import error_reason
from .stored_png import StoredPng
from .write import check_quality_for, fit_to_format

STREAMED_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
ROWS_PER_PIECE = 64  # rows handed to the encoder at a time (views of a computed band)
PIECES_AHEAD = 24  # pieces computed but not yet encoded: about one band of a large image
# zlib level 2 with the Sub filter: OpenCV's size at its speed (it uses level 1, Sub and
# run-length matching, which libvips lacks); 12000×2000 of an upscaled photo: 8 MB in
# 0.54 s here, 8 MB in 0.62 s there (level 1 with Sub: 14 MB, level 3: 0.9 s).
PNG_COMPRESSION, PNG_SUB_FILTER = 2, 0x10
JPEG_QUALITY = 95  # OpenCV's default, so both roads write the same file
BIGTIFF_FROM = 4_000_000_000  # bytes of pixels past which a classic TIFF's offsets overflow
_END = object()


def streams_to(suffix: str) -> bool:
    """Whether images of this suffix are written band by band."""
    return suffix.lower() in STREAMED_SUFFIXES


def saver_options(suffix: str, quality: int | None, pixel_bytes: int) -> dict[str, Any]:
    """libvips saver options that match what :func:`~.write.encode_image` writes."""
    check_quality_for(suffix, quality)
    if suffix == ".png":
        return {"compression": PNG_COMPRESSION, "filter": PNG_SUB_FILTER}
    if suffix in (".jpg", ".jpeg"):
        return {"Q": quality or JPEG_QUALITY, "subsample_mode": "on"}  # 4:2:0, as OpenCV
    if suffix == ".webp":  # OpenCV writes lossless WebP unless given a quality
        return {"lossless": True} if quality is None else {"Q": quality}
    return {"compression": "lzw", "bigtiff": pixel_bytes > BIGTIFF_FROM}


def _stored_png(pieces: queue.Queue, stop: threading.Event, width: int,
                height: int) -> Iterator[bytes]:
    """The rows from the queue, as the bytes of a stored PNG."""
    png = None
    while (rows := get(pieces, stop)) is not _END:
        if png is None:
            png = StoredPng(width, height, rows.shape[2], rows.dtype)
            yield from png.header()
        yield from png.band(rows)
    if png is not None:
        yield from png.end()


def _reader(chunks: Iterator[bytes]) -> Callable[[int], bytes]:
    """libvips's read callback: the next bytes of ``chunks``, at most ``length`` of them."""
    left = memoryview(b"")

    def read(length: int) -> bytes:
        nonlocal left
        try:
            while not left:
                left = memoryview(next(chunks))
        except (StopIteration, Stopped):
            return b""  # the end, or the producer failed: libvips sees a truncated stream
        piece, left = left[:length], left[length:]
        return bytes(piece)

    return read


def write_bands(path: Path, bands: Iterable[np.ndarray], width: int, height: int, *,
                quality: int | None = None, metadata: ImageMetadata | None = None) -> None:
    """Encode ``bands`` (n×W×C rows, top to bottom, ``height`` in all) to ``path`` as they come."""
    suffix = path.suffix.lower()
    stop = threading.Event()
    waiting: queue.Queue = queue.Queue(maxsize=PIECES_AHEAD)

    def encode() -> None:
        source = pyvips.SourceCustom()
        source.on_read(_reader(_stored_png(waiting, stop, width, height)))
        image = pyvips.Image.new_from_source(source, "", access="sequential").copy()
        if metadata and suffix not in (".tif", ".tiff"):  # where embed_metadata puts it
            kept = metadata.for_size(width, height)
            if kept.icc_profile:
                image.set_type(pyvips.GValue.blob_type, "icc-profile-data", kept.icc_profile)
            if kept.exif:
                image.set_type(pyvips.GValue.blob_type, "exif-data", EXIF_HEADER + kept.exif)
        pixel_bytes = width * height * image.bands * (2 if image.format == "ushort" else 1)
        image.write_to_file(str(path), **saver_options(suffix, quality, pixel_bytes))

    encoder = StageThread(encode, stop, f"encode-{path.name}")
    encoder.start()
    try:
        for band in bands:
            fitted = fit_to_format(band, suffix)
            del band
            for top in range(0, len(fitted), ROWS_PER_PIECE):
                put(waiting, fitted[top: top + ROWS_PER_PIECE], stop)
            del fitted
        put(waiting, _END, stop)
        encoder.join()
    except Stopped:
        encoder.join()
    except BaseException:
        stop.set()
        encoder.join()
        raise
    if encoder.error is not None:
        raise UpscaleError(f"{path}: could not be written ({error_reason(encoder.error)})")

