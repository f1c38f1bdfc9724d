"""Decode image files into RGB(A) numpy arrays, refusing anything damaged."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.ExifTags import Base

from ..errors import InputError
from ..limits import DEFAULT_MAX_PIXELS
from ._cv2 import cv2
from .stored_png import SIGNATURE as PNG_SIGNATURE

GIF_SUFFIX = ".gif"  # read (a still one), never written: its outputs are PNG
PILLOW_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError)


def _refuse_animation(path: Path, data: bytes) -> None:
    """An animated GIF is refused, in a folder as alone: its first frame is not the file."""
    if not data.startswith(b"GIF8"):
        return
    try:
        with Image.open(BytesIO(data)) as img:
            frames = getattr(img, "n_frames", 1)
    except PILLOW_ERRORS:
        return  # the decoder says what is wrong with it
    if frames > 1:
        raise InputError(f"{path}: an animated GIF ({frames} frames); only still images are "
                         f"upscaled: convert it to a video first (ffmpeg -i {path.name} "
                         f"{path.stem}.mp4)")


def _decode_gif(data: bytes) -> np.ndarray | None:
    """A still GIF as OpenCV would give it (BGR, or BGRA when it has transparency)."""
    try:
        with Image.open(BytesIO(data)) as img:
            mode = "RGBA" if "transparency" in img.info else "RGB"
            rgb = np.asarray(img.convert(mode))
    except PILLOW_ERRORS:
        return None
    return rgb[:, :, [2, 1, 0, 3][: rgb.shape[2]]]


def looks_truncated(data: bytes) -> str | None:
    """Catch truncation that decoders paper over with grey rows."""
    if data.startswith(PNG_SIGNATURE) and b"IEND" not in data[-64:]:
        return "truncated PNG (no IEND chunk)"
    if data.startswith(b"\xff\xd8") and b"\xff\xd9" not in data[-1024:]:
        return "truncated JPEG (no end-of-image marker)"
    return None


_pil_limit_lock = threading.Lock()


@contextmanager
def _header(path: Path) -> Iterator[Image.Image]:
    """The file opened by Pillow, its bomb limit lifted: ours applies and names the size."""
    with _pil_limit_lock:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path) as img:
                yield img
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as the header declares it; None where Pillow cannot parse it."""
    try:
        with _header(path) as img:
            return img.size
    except PILLOW_ERRORS:
        return None


def header_layout(path: Path) -> tuple[int, int, int, int] | None:
    """(width, height, channels, bytes per sample) of the picture as it will be upscaled
    (turned upright), from the file's header alone; None where Pillow cannot parse it."""
    try:
        with _header(path) as img:
            width, height = img.size
            channels = len(img.getbands())
            sample_bytes = 2 if img.mode.startswith("I") or "16" in img.mode else 1
            turned = int(img.getexif().get(Base.Orientation, 1)) in (5, 6, 7, 8)
    except PILLOW_ERRORS:
        return None
    if turned:
        width, height = height, width
    return width, height, max(channels, 3) if channels != 1 else 1, sample_bytes


def check_pixel_count(path: Path, max_pixels: int | None) -> None:
    """Refuse, from the header alone, an image too large to upscale in this memory."""
    size = header_size(path) if max_pixels else None
    if size is not None and size[0] * size[1] > max_pixels:
        width, height = size
        raise InputError(
            f"{path}: {width}×{height} is {width * height / 1e6:.0f} megapixels, over the "
            f"{max_pixels / 1e6:g} MP limit; raise it with --max-pixels if this machine "
            "has the memory")


def read_image(path: str | os.PathLike, *,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image as stored: uint8/uint16 (float32 for float formats), RGB(A) or 2-D gray,
    turned upright as its EXIF says; one declaring over ``max_pixels`` is refused undecoded."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    check_pixel_count(path, max_pixels)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not data:
        raise InputError(f"{path}: empty file")
    if problem := looks_truncated(data):
        raise InputError(f"{path}: {problem}")
    _refuse_animation(path, data)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV refuses some sizes with an assertion, not None
        raise InputError(f"{path}: cannot be decoded ({error_reason(exc)})") from exc
    if image is None and data.startswith(b"GIF8"):  # OpenCV before 4.11 has no GIF decoder
        image = _decode_gif(data)
    if image is None or image.size == 0:
        raise InputError(f"{path}: not an image, or the file is damaged")
    image = _apply_orientation(image, data)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        image = _normalise_dtype(image, path)
    return np.ascontiguousarray(image)


def error_reason(exc: BaseException) -> str:
    """The line of a decoder's or encoder's error that says what went wrong (its last)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _apply_orientation(image: np.ndarray, data: bytes) -> np.ndarray:
    """Rotate/flip as the EXIF tag says: IMREAD_UNCHANGED leaves that to us."""
    if b"Exif" not in data[:65536]:
        return image
    try:
        with Image.open(BytesIO(data)) as img:
            orientation = int(img.getexif().get(Base.Orientation, 1))
    except Exception:  # noqa: BLE001 - no readable EXIF simply means upright
        return image
    # the views that show it upright: orientations 3, 4, 6, 7 flip the rows, 2, 3, 7, 8 the
    # columns, and 5 to 8 then swap rows for columns
    if orientation in (3, 4, 6, 7):
        image = image[::-1]
    if orientation in (2, 3, 7, 8):
        image = image[:, ::-1]
    return image.swapaxes(0, 1) if orientation in (5, 6, 7, 8) else image


def _normalise_dtype(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype == np.float64:
        return image.astype(np.float32)
    if image.dtype == np.int16:
        return (image.astype(np.int32) + 32768).astype(np.uint16)
    raise InputError(f"{path}: unsupported pixel type {image.dtype}")
