"""An uncompressed PNG byte stream, made a band of rows at a time.

libvips streams from Python only formats its build loads from a stream (pyvips-binary
has no PPM or raw loader there). A PNG with *stored* deflate blocks costs about a copy,
keeps 8 and 16 bits and every channel layout, and needs no seeking.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA
MAX_CHUNK = 1 << 30  # well inside PNG's 2³¹-1 byte chunk limit


def chunk(kind: bytes, payload: bytes) -> list[bytes]:
    """One PNG chunk: length and type, data, CRC (in pieces: the data is not copied)."""
    crc = zlib.crc32(payload, zlib.crc32(kind)) & 0xFFFFFFFF
    return [struct.pack(">I", len(payload)) + kind, payload, struct.pack(">I", crc)]


class StoredPng:
    """A ``width``×``height`` PNG of ``channels`` uint8/uint16 channels, row bands in order."""

    def __init__(self, width: int, height: int, channels: int, dtype: np.dtype) -> None:
        self.width, self.height, self.channels = width, height, channels
        self.big_endian = np.dtype(">u2") if np.dtype(dtype) == np.uint16 else np.dtype(np.uint8)
        self.deflate = zlib.compressobj(level=0)
        self.rows_left = height

    def header(self) -> list[bytes]:
        bits = 16 if self.big_endian.itemsize == 2 else 8
        info = struct.pack(">IIBBBBB", self.width, self.height, bits,
                           COLOUR_TYPES[self.channels], 0, 0, 0)
        return [SIGNATURE, *chunk(b"IHDR", info)]

    def band(self, rows: np.ndarray) -> list[bytes]:
        """IDAT chunks holding ``rows`` (n×W×C or n×W), each row with filter type 0."""
        count = len(rows)
        if count > self.rows_left:
            raise ValueError(f"{count} rows given where {self.rows_left} were left")
        self.rows_left -= count
        raw = np.empty((count, 1 + rows[0].size * self.big_endian.itemsize), dtype=np.uint8)
        raw[:, 0] = 0
        raw[:, 1:] = rows.reshape(count, -1).astype(self.big_endian, copy=False).view(np.uint8)
        compressed = self.deflate.compress(raw)
        del raw
        return self._idat(compressed)

    def end(self) -> list[bytes]:
        """The last IDAT and IEND, once every row is in."""
        if self.rows_left:
            raise ValueError(f"the PNG ended with {self.rows_left} rows missing")
        return self._idat(self.deflate.flush()) + chunk(b"IEND", b"")

    @staticmethod
    def _idat(data: bytes) -> list[bytes]:
        return [piece for i in range(0, len(data), MAX_CHUNK)
                for piece in chunk(b"IDAT", data[i:i + MAX_CHUNK])]
