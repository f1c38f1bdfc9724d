"""Encode arrays to image files, atomically: a crash leaves nothing or the whole file,
never a truncated one that a re-run would mistake for done."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import UpscaleError
from ..limits import check_quality
from ..notes import note
from ..outputs import write_bytes_atomically
from ._cv2 import cv2
from .metadata import ImageMetadata, embed_metadata

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
NO_ALPHA = (".jpg", ".jpeg", ".bmp")
LOSSY = (".jpg", ".jpeg", ".webp")


def check_quality_for(suffix: str, quality: int | None) -> None:
    """Refuse a quality out of range; note one given for a lossless format."""
    check_quality(quality)
    if quality is not None and suffix not in LOSSY:
        note(f"--quality applies to JPEG and WebP; {suffix.lstrip('.').upper()} is "
             "written losslessly")


def flatten_onto_white(image: np.ndarray, suffix: str) -> np.ndarray:
    """RGBA to RGB for formats without alpha: transparent areas become white, not the
    colours hidden under them (which the alpha bleed made deliberately meaningless)."""
    top = np.iinfo(image.dtype).max
    alpha = image[:, :, 3:]
    if alpha.min() == top:
        return image[:, :, :3]
    note(f"{suffix.lstrip('.').upper()} cannot hold transparency: transparent areas were "
         "flattened onto white (write PNG or WebP to keep them)")
    weight = alpha.astype(np.float32) / top
    flat = image[:, :, :3].astype(np.float32) * weight + top * (1.0 - weight)
    return np.clip(flat + 0.5, 0, top).astype(image.dtype)


def fit_to_format(image: np.ndarray, suffix: str) -> np.ndarray:
    """Pixels the format of (lower-case) ``suffix`` holds: float to 16 bits, 16 bits to 8
    where only 8 are kept, alpha flattened where there is none (any rows alike)."""
    if image.dtype == np.float32:
        image = (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    if image.dtype == np.uint16 and suffix in EIGHT_BIT_ONLY:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4 and suffix in NO_ALPHA:
        image = flatten_onto_white(image, suffix)
    return image


def encode_image(array: np.ndarray, suffix: str, *, quality: int | None = None) -> bytes:
    """Encode to the format named by ``suffix``, fitting depth and alpha to what it holds."""
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise UpscaleError(f"cannot write {suffix!r} images; use one of "
                           f"{', '.join(IMAGE_SUFFIXES)}")
    image = fit_to_format(array, suffix)
    if image.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    check_quality_for(suffix, quality)
    params: list[int] = []
    if quality is not None and suffix in LOSSY:
        flag = cv2.IMWRITE_WEBP_QUALITY if suffix == ".webp" else cv2.IMWRITE_JPEG_QUALITY
        params = [flag, int(quality)]
    ok, encoded = cv2.imencode(suffix, image, params)
    if not ok:
        raise UpscaleError(f"could not encode a {image.shape} {image.dtype} image as {suffix}")
    return encoded.tobytes()


def write_image(path: str | os.PathLike, array: np.ndarray, *, quality: int | None = None,
                overwrite: bool = False, metadata: ImageMetadata | None = None) -> Path:
    """Encode ``array`` (RGB(A)/gray, uint8/uint16/float32) to ``path`` atomically, with
    ``metadata`` (ICC profile, EXIF) where the format can hold it."""
    path = Path(path)
    data = encode_image(array, path.suffix, quality=quality)
    data = embed_metadata(data, path.suffix, metadata, array.shape[1], array.shape[0])
    write_bytes_atomically(path, data, overwrite=overwrite)
    return path
