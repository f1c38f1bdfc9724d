"""Carry the ICC profile and EXIF of an input over to its upscaled output.

OpenCV decodes and encodes pixels but drops everything else, so a photo with a
wide-gamut profile would come out with shifted colours and no camera data.
Pillow reads the metadata (it only parses headers, the pixels are OpenCV's);
the metadata is then spliced into OpenCV's encoded bytes as chunks/segments,
so the pixel data is never re-encoded (a JPEG is compressed exactly once).

EXIF is updated on the way: the pixels were already turned upright on read,
so the orientation tag becomes 1, and the size fields give the new size.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path

from PIL import Image

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION = 0x0112
IMAGE_WIDTH, IMAGE_LENGTH = 0x0100, 0x0101
EXIF_IFD = 0x8769
PIXEL_X_DIMENSION, PIXEL_Y_DIMENSION = 0xA002, 0xA003


WHOLE_FILE_BYTES = 64 << 20  # files read whole for their metadata, at most


@dataclass(frozen=True)
class ImageMetadata:
    """What an image file carries besides pixels (None where it carries nothing)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # TIFF-structured, without the JPEG "Exif\0\0" prefix

    def __bool__(self) -> bool:
        return bool(self.icc_profile or self.exif)

    def for_size(self, width: int, height: int) -> ImageMetadata:
        """The metadata for an upright ``width`` x ``height`` copy of the picture."""
        if not self.exif:
            return self
        return replace(self, exif=_updated_exif(self.exif, width, height))


def read_metadata(source: str | os.PathLike | bytes) -> ImageMetadata:
    """ICC profile and EXIF of an image file or its bytes; empty when unreadable.

    Missing or broken metadata never stops an upscale: the pixels are what matter. A file
    over :data:`WHOLE_FILE_BYTES` is not read whole (it may be streamed in bounded memory):
    its headers are, and a PNG's eXIf chunk placed after the pixels is not looked for.
    """
    if not isinstance(source, bytes) and Path(source).stat().st_size > WHOLE_FILE_BYTES:
        opened, data = Path(source), b""
    else:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        opened = BytesIO(data)
    try:
        with Image.open(opened) as img:
            icc = img.info.get("icc_profile") or None
            exif = img.info.get("exif")
            if exif is None and data.startswith(PNG_SIGNATURE) and b"eXIf" in data:
                exif = img.getexif().tobytes()  # an eXIf chunk after the pixels
    except Exception:  # noqa: BLE001 - unreadable metadata means no metadata
        return ImageMetadata()
    if isinstance(exif, bytes) and exif.startswith(EXIF_HEADER):
        exif = exif[len(EXIF_HEADER):]
    return ImageMetadata(icc_profile=icc, exif=exif or None)


def _updated_exif(exif: bytes, width: int, height: int) -> bytes:
    """Orientation reset to upright and size fields set, other tags kept."""

    parsed = Image.Exif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF, then reads none
            parsed.load(exif)
        if not len(parsed):
            return b""
        if ORIENTATION in parsed:
            parsed[ORIENTATION] = 1
        if IMAGE_WIDTH in parsed:
            parsed[IMAGE_WIDTH] = width
        if IMAGE_LENGTH in parsed:
            parsed[IMAGE_LENGTH] = height
        if EXIF_IFD in parsed:
            sub = parsed.get_ifd(EXIF_IFD)
            sub[PIXEL_X_DIMENSION] = width
            sub[PIXEL_Y_DIMENSION] = height
        updated = parsed.tobytes()
    except Exception:  # noqa: BLE001 - EXIF we cannot rewrite is dropped, not kept stale
        return b""
    return updated[len(EXIF_HEADER):] if updated.startswith(EXIF_HEADER) else updated


def embed_metadata(encoded: bytes, suffix: str, metadata: ImageMetadata,
                   width: int, height: int) -> bytes:
    """``encoded`` with ``metadata`` spliced in, if the format can hold it.

    ``width`` x ``height`` is the encoded picture's size (used for the EXIF size
    fields and a WebP canvas header). Formats without a place for metadata
    (BMP, and TIFF here) come back unchanged.
    """
    if not metadata:
        return encoded
    metadata = metadata.for_size(width, height)
    suffix = suffix.lower()
    if suffix == ".png":
        return _png_with(encoded, metadata)
    if suffix in (".jpg", ".jpeg"):
        return _jpeg_with(encoded, metadata)
    if suffix == ".webp":
        return _webp_with(encoded, metadata, width, height)
    return encoded


# --- PNG: iCCP and eXIf chunks right after IHDR -------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_with(encoded: bytes, metadata: ImageMetadata) -> bytes:
    if not encoded.startswith(PNG_SIGNATURE):
        return encoded
    ihdr_length = struct.unpack(">I", encoded[8:12])[0]
    after_ihdr = 8 + 12 + ihdr_length
    chunks = b""
    if metadata.icc_profile:
        payload = b"ICC Profile\x00\x00" + zlib.compress(metadata.icc_profile)
        chunks += _png_chunk(b"iCCP", payload)
    if metadata.exif:
        chunks += _png_chunk(b"eXIf", metadata.exif)
    return encoded[:after_ihdr] + chunks + encoded[after_ihdr:]


# --- JPEG: APP1 Exif and APP2 ICC_PROFILE segments after SOI/APP0 ----------------------------

JPEG_SEGMENT_MAX = 65533  # payload bytes a segment can hold after its length field
ICC_MARKER = b"ICC_PROFILE\x00"


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _jpeg_with(encoded: bytes, metadata: ImageMetadata) -> bytes:
    if not encoded.startswith(b"\xff\xd8"):
        return encoded
    position = 2
    if encoded[2:4] == b"\xff\xe0":  # JFIF APP0 stays first, as JFIF readers expect
        position = 4 + struct.unpack(">H", encoded[4:6])[0]
    segments = b""
    if metadata.exif and len(EXIF_HEADER) + len(metadata.exif) <= JPEG_SEGMENT_MAX:
        segments += _jpeg_segment(0xE1, EXIF_HEADER + metadata.exif)
    if metadata.icc_profile:
        room = JPEG_SEGMENT_MAX - len(ICC_MARKER) - 2
        pieces = [metadata.icc_profile[i:i + room]
                  for i in range(0, len(metadata.icc_profile), room)]
        if len(pieces) <= 255:
            for number, piece in enumerate(pieces, start=1):
                header = ICC_MARKER + bytes([number, len(pieces)])
                segments += _jpeg_segment(0xE2, header + piece)
    return encoded[:position] + segments + encoded[position:]


# --- WebP: the extended (VP8X) layout with ICCP and EXIF chunks ------------------------------

VP8X_ICC, VP8X_ALPHA, VP8X_EXIF = 0x20, 0x10, 0x08


def _riff_chunks(body: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 0
    while position + 8 <= len(body):
        kind = body[position:position + 4]
        size = struct.unpack("<I", body[position + 4:position + 8])[0]
        chunks.append((kind, body[position + 8:position + 8 + size]))
        position += 8 + size + (size & 1)
    return chunks


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    padding = b"\x00" if len(payload) & 1 else b""
    return kind + struct.pack("<I", len(payload)) + payload + padding


def _vp8l_has_alpha(payload: bytes) -> bool:
    """The alpha-is-used bit of a lossless bitstream header."""
    return len(payload) >= 5 and bool((struct.unpack("<I", payload[1:5])[0] >> 28) & 1)


def _webp_with(encoded: bytes, metadata: ImageMetadata, width: int, height: int) -> bytes:
    if encoded[:4] != b"RIFF" or encoded[8:12] != b"WEBP":
        return encoded
    chunks = [c for c in _riff_chunks(encoded[12:]) if c[0] not in (b"ICCP", b"EXIF")]
    if chunks and chunks[0][0] == b"VP8X":
        flags, canvas = chunks[0][1][0], chunks[0][1][4:10]
        chunks = chunks[1:]
    else:
        alpha = any(kind == b"VP8L" and _vp8l_has_alpha(data) for kind, data in chunks)
        flags = VP8X_ALPHA if alpha else 0
        canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    out = []
    if metadata.icc_profile:
        flags |= VP8X_ICC
        out.append(_riff_chunk(b"ICCP", metadata.icc_profile))
    out.extend(_riff_chunk(kind, data) for kind, data in chunks)
    if metadata.exif:
        flags |= VP8X_EXIF
        out.append(_riff_chunk(b"EXIF", metadata.exif))
    body = b"WEBP" + _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + canvas) + b"".join(out)
    return b"RIFF" + struct.pack("<I", len(body)) + body
