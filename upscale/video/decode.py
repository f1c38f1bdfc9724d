"""A video's frames as raw RGB arrays through an ffmpeg pipe: every decoded frame once, in the
stored orientation, with the source's own matrix and range so the encoder converts back exactly.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from .ffmpeg.binary import Process
from .ffmpeg.commands import decode_command
from .probe import VideoInfo


class FrameReader:
    """Iterate batches of (N, H, W, 3) frames, from frame ``first`` on (by an input seek, so
    a cluster's worker never decodes the whole film); uint16 when ``raw_pix_fmt`` is rgb48le."""

    def __init__(self, info: VideoInfo, raw_pix_fmt: str, first: int = 0) -> None:
        self.dtype = np.uint16 if raw_pix_fmt == "rgb48le" else np.uint8
        self.frame_shape = (info.height, info.width, 3)
        seek, what = None, "decoding " + info.path.name
        if first:
            # halfway to the frame before: rounding can neither keep that one nor drop this one
            stamps = info.timestamps
            seek = info.first_pts + Fraction(stamps[first] + stamps[first - 1], 2) * info.time_base
            what += f" from frame {first}"
        self.process = Process(decode_command(info, raw_pix_fmt, seek), what,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.decoded = 0

    def batches(self, batch_size: int, skip: int = 0) -> Iterator[np.ndarray]:
        """Frames from index ``skip`` on, ``batch_size`` at a time (the last may be short)."""
        while True:
            batch = np.empty((batch_size, *self.frame_shape), dtype=self.dtype)
            filled = 0
            while filled < batch_size:
                # a buffered pipe's readinto fills the frame unless the stream ends first
                view = memoryview(batch[filled]).cast("B")
                if self.process.popen.stdout.readinto(view) < len(view):
                    break
                self.decoded += 1
                if self.decoded > skip:
                    filled += 1
            if filled:
                yield batch[:filled]
            if filled < batch_size:
                return

    def finish(self) -> None:
        """Wait for the decoder; raise with ffmpeg's message if it failed."""
        self.process.wait_ok()

    def kill(self) -> None:
        self.process.kill()
