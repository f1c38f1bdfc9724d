"""Reading a video's frames as raw RGB arrays through an ffmpeg pipe.

Frames come out in presentation order, every decoded frame exactly once
(passthrough: nothing duplicated or dropped to fit a rate), in the stored
orientation (rotation is carried as metadata instead), converted to RGB with
the source's own matrix and range so the encoder can convert back exactly.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from .ffmpeg.commands import decode_command
from .ffmpeg.process import Process
from .probe import VideoInfo


class FrameReader:
    """Iterate batches of (N, H, W, 3) frames; uint16 when ``raw_pix_fmt`` is rgb48le.

    ``seek``: start at this time (seconds from the file's start) rather than the first
    frame; ``what`` names the work in an error message.
    """

    def __init__(self, info: VideoInfo, raw_pix_fmt: str, seek: Fraction | None = None,
                 what: str | None = None) -> None:
        self.info = info
        self.dtype = np.uint16 if raw_pix_fmt == "rgb48le" else np.uint8
        self.frame_shape = (info.height, info.width, 3)
        self.process = Process(decode_command(info, raw_pix_fmt, seek),
                               what or "decoding " + info.path.name,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.decoded = 0

    def batches(self, batch_size: int, skip: int = 0) -> Iterator[np.ndarray]:
        """Frames from index ``skip`` on, ``batch_size`` at a time (the last may be short)."""
        while True:
            batch = np.empty((batch_size, *self.frame_shape), dtype=self.dtype)
            filled = 0
            while filled < batch_size:
                if not self._read_into(batch[filled]):
                    break
                self.decoded += 1
                if self.decoded > skip:
                    filled += 1
            if filled:
                yield batch[:filled]
            if filled < batch_size:
                return

    def _read_into(self, frame: np.ndarray) -> bool:
        view = memoryview(frame).cast("B")
        stdout = self.process.popen.stdout
        got = 0
        while got < len(view):
            n = stdout.readinto(view[got:])
            if not n:
                return False
            got += n
        return True

    def finish(self) -> None:
        """Wait for the decoder; raise with ffmpeg's message if it failed."""
        self.process.wait_ok()

    def kill(self) -> None:
        self.process.kill()
