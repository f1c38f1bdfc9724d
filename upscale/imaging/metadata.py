"""Carry the ICC profile and EXIF of an input over to its upscaled output.

OpenCV drops both (a wide-gamut photo would shift colour); they are spliced into its encoded
bytes, never re-encoding pixels. EXIF gets orientation 1 (read upright) and the new size.
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
from PIL.ExifTags import IFD, Base

from .stored_png import SIGNATURE as PNG_SIGNATURE
from .stored_png import chunk

EXIF_HEADER = b"Exif\x00\x00"
WHOLE_FILE_BYTES = 64 << 20  # files read whole for their metadata, at most


@dataclass(frozen=True)
class ImageMetadata:
    """What an image file carries besides pixels (None where it carries nothing)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # TIFF-structured, without the JPEG "Exif\0\0" prefix

    def __bool__(self) -> bool:
        return bool(self.icc_profile or self.exif)

    def for_size(self, width: int, height: int) -> ImageMetadata:
        """The metadata for an upright ``width`` x ``height`` copy of the picture: EXIF that
        cannot be rewritten is dropped, not kept stale."""
        if not self.exif:
            return self
        parsed = Image.Exif()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF, reads none
                parsed.load(self.exif)
            for tag, value in ((Base.Orientation, 1), (Base.ImageWidth, width),
                               (Base.ImageLength, height)):
                if tag in parsed:
                    parsed[tag] = value
            if IFD.Exif in parsed:
                parsed.get_ifd(IFD.Exif).update({Base.ExifImageWidth: width,
                                                 Base.ExifImageHeight: height})
            exif = parsed.tobytes().removeprefix(EXIF_HEADER) if len(parsed) else b""
        except Exception:  # noqa: BLE001
            exif = b""
        return replace(self, exif=exif)


def read_metadata(source: str | os.PathLike | bytes) -> ImageMetadata:
    """ICC profile and EXIF of an image file or its bytes; empty when unreadable (the pixels
    are what matter). A file over :data:`WHOLE_FILE_BYTES` is not read whole: a PNG's eXIf
    chunk after its pixels is then not looked for."""
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
    if isinstance(exif, bytes):
        exif = exif.removeprefix(EXIF_HEADER)
    return ImageMetadata(icc_profile=icc, exif=exif or None)


def embed_metadata(encoded: bytes, suffix: str, metadata: ImageMetadata | None,
                   width: int, height: int) -> bytes:
    """``encoded`` (a ``width`` x ``height`` picture) with ``metadata`` spliced in; formats
    without a place for it (BMP, and TIFF here) come back unchanged."""
    splice = _SPLICES.get(suffix.lower())
    if not metadata or splice is None:
        return encoded
    return splice(encoded, metadata.for_size(width, height), width, height)


def _png_with(encoded: bytes, metadata: ImageMetadata, width: int, height: int) -> bytes:
    """iCCP and eXIf chunks right after IHDR."""
    after_ihdr = 8 + 12 + struct.unpack(">I", encoded[8:12])[0]
    chunks = []
    if metadata.icc_profile:
        chunks += chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(metadata.icc_profile))
    if metadata.exif:
        chunks += chunk(b"eXIf", metadata.exif)
    return encoded[:after_ihdr] + b"".join(chunks) + encoded[after_ihdr:]


JPEG_SEGMENT_MAX = 65533  # payload bytes a segment can hold after its length field
ICC_MARKER = b"ICC_PROFILE\x00"


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _jpeg_with(encoded: bytes, metadata: ImageMetadata, width: int, height: int) -> bytes:
    """APP1 Exif and APP2 ICC_PROFILE segments after SOI (and JFIF's APP0, which stays first)."""
    position = 2
    if encoded[2:4] == b"\xff\xe0":
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
                segments += _jpeg_segment(0xE2, ICC_MARKER + bytes([number, len(pieces)]) + piece)
    return encoded[:position] + segments + encoded[position:]


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
    return kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def _webp_with(encoded: bytes, metadata: ImageMetadata, width: int, height: int) -> bytes:
    """The extended (VP8X) layout, with ICCP and EXIF chunks."""
    chunks = [c for c in _riff_chunks(encoded[12:]) if c[0] not in (b"ICCP", b"EXIF")]
    if chunks and chunks[0][0] == b"VP8X":
        flags, canvas = chunks[0][1][0], chunks[0][1][4:10]
        chunks = chunks[1:]
    else:
        # a lossless bitstream's alpha-is-used bit: bit 28 of its header after the signature
        alpha = any(kind == b"VP8L" and len(data) >= 5 and data[4] & 0x10 for kind, data in chunks)
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


_SPLICES = {".png": _png_with, ".jpg": _jpeg_with, ".jpeg": _jpeg_with, ".webp": _webp_with}
