"""Transcoding with a network in the middle: decode -> upscale -> encode, all three at once.

A decoder thread fills a bounded queue with batches of frames, the calling
thread runs the network on them, and an encoder thread feeds the segment
encoders. The queues are short, so memory stays flat, and deep enough that the
network never waits for I/O. Any failure (or Ctrl-C) stops every thread, kills
both ffmpeg processes and removes the half-written segment; finished segments
stay for ``--resume``.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import UpscaleError
from ..stages import StageThread, run_stages
from .decode import FrameReader
from .encode import EncodePlan, pad_frames
from .ffmpeg.commands import encode_command
from .ffmpeg.process import Process
from .probe import VideoInfo
from .segments import WorkDir

# frames (N, H, W, 3) uint8/uint16 -> (N, H', W', 3) of the same dtype; called with
# ``source_bits=`` the video's real depth per channel (10-bit video arrives as uint16)
FrameFn = Callable[..., np.ndarray]
ProgressFn = Callable[[int, int], None]
_QUEUE_BATCHES = 3


@dataclass
class TranscodeJob:
    """One video's frames on their way through the network."""

    info: VideoInfo
    upscale_frames: FrameFn
    plan: EncodePlan
    out_width: int  # what the network path produces, before padding
    out_height: int
    workdir: WorkDir
    batch_size: int = 1
    on_progress: ProgressFn | None = None


def segment_starts(info: VideoInfo, workdir: WorkDir) -> list[Fraction]:
    """Each segment's first timestamp in seconds, relative to the first frame."""
    starts = []
    for index in range(workdir.segment_count):
        frame = workdir.first_frame(index)
        if info.variable_rate:
            starts.append(info.timestamps[frame] * info.time_base)
        else:
            starts.append(Fraction(frame) / info.frame_rate)
    return starts


def segment_pts(info: VideoInfo, first: int, count: int) -> list[int]:
    """Source timestamps of frames ``first..first+count`` relative to the segment start.

    Frames beyond the probed list (a decoder that yields more frames than there
    were packets) continue at the average rate.
    """
    stamps = info.timestamps
    step = 1 / (info.frame_rate * info.time_base)
    pts = [stamps[k] if k < len(stamps) else round(stamps[-1] + (k - len(stamps) + 1) * step)
           for k in range(first, first + count)]
    return [p - pts[0] for p in pts]


class SegmentWriter:
    """Feeds frames to one encoder per segment; finished segments are renamed into place."""

    def __init__(self, job: TranscodeJob, stop: threading.Event) -> None:
        self.job, self.stop = job, stop
        self.current: Process | None = None
        self.segment = -1
        self.finishers: list[StageThread] = []

    def write(self, frame_index: int, frames: np.ndarray) -> None:
        for offset in range(len(frames)):
            segment = self.job.workdir.segment_of(frame_index + offset)
            if segment != self.segment:
                self.close_segment()
                self.open_segment(segment)
            try:
                self.current.popen.stdin.write(memoryview(np.ascontiguousarray(frames[offset])))
            except (BrokenPipeError, OSError) as exc:
                self.current.popen.wait()
                raise UpscaleError(self.current.error_message()) from exc

    def open_segment(self, segment: int) -> None:
        workdir, plan = self.job.workdir, self.job.plan
        pts = None
        if plan.variable_rate:
            first = workdir.first_frame(segment)
            count = workdir.segment_frames
            if segment == workdir.segment_count - 1:
                # the last segment also takes any frames the decoder finds beyond the probe
                count = max(self.job.info.frame_count - first, 0) + 1
            pts = segment_pts(self.job.info, first, count)
        partial = workdir.partial_path(segment)
        self.current = Process(encode_command(plan, partial.name, pts),
                               f"encoding segment {segment}", cwd=str(workdir.path),
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.segment = segment

    def close_segment(self) -> None:
        if self.current is None:
            return
        process, segment = self.current, self.segment
        self.current = None
        process.popen.stdin.close()

        def finish() -> None:
            process.wait_ok()
            self.job.workdir.partial_path(segment).replace(self.job.workdir.segment_path(segment))

        finisher = StageThread(finish, self.stop, f"finish-{segment}")
        finisher.start()
        self.finishers.append(finisher)

    def join(self) -> None:
        for finisher in self.finishers:
            finisher.join()
            if finisher.error is not None:
                raise finisher.error

    def abort(self) -> None:
        if self.current is not None:
            self.current.kill()
            self.job.workdir.partial_path(self.segment).unlink(missing_ok=True)
            self.current = None
        for finisher in self.finishers:
            finisher.join(timeout=10)


def encode_all(job: TranscodeJob, first_segment: int) -> int:
    """Encode every segment from ``first_segment`` on; return the frames decoded in all."""
    start_frame = job.workdir.first_frame(first_segment)
    reader = FrameReader(job.info, job.plan.raw_pix_fmt)

    def batches() -> Iterator[np.ndarray]:
        yield from reader.batches(job.batch_size, skip=start_frame)
        reader.finish()

    encode_frames(job, batches(), start_frame, on_stop=reader.kill)
    return reader.decoded


def encode_frames(job: TranscodeJob, batches: Iterable[np.ndarray], first_frame: int, *,
                  on_stop: Callable[[], None]) -> int:
    """Upscale and encode ``batches`` (the frames from ``first_frame`` on) into the job's
    segments, decode, network and encode at once; returns the frames encoded.

    This is :func:`upscale.stages.run_stages` for a local run and a Ray segment alike. A
    failure or Ctrl-C calls ``on_stop`` (the decoder is killed), kills the encoder and
    removes the half-written segment; finished segments stay for a re-run.
    """
    stop = threading.Event()
    writer = SegmentWriter(job, stop)
    expected = (job.out_height, job.out_width)
    next_frame = first_frame

    def upscale(batch: np.ndarray) -> np.ndarray:
        result = job.upscale_frames(batch, source_bits=job.info.bit_depth)
        if result.shape[1:3] != expected or result.dtype != batch.dtype:
            raise UpscaleError(f"the frame upscaler returned {result.shape} {result.dtype}; "
                               f"expected {expected} {batch.dtype}")
        return pad_frames(result, job.plan.width, job.plan.height)

    def encode(frames: np.ndarray) -> None:
        nonlocal next_frame
        writer.write(next_frame, frames)
        next_frame += len(frames)
        if job.on_progress:
            job.on_progress(next_frame, max(job.info.frame_count, next_frame))

    def finish_encoding() -> None:
        writer.close_segment()
        writer.join()

    def abandon() -> None:
        on_stop()
        writer.abort()

    run_stages(batches, upscale, encode, depth=_QUEUE_BATCHES, name="video",
               finish_writing=finish_encoding, on_stop=abandon, stop=stop)
    return next_frame - first_frame
