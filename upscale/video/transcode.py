"""Decode -> upscale -> encode, all three at once, joined by short queues: memory stays flat
and the network never waits for I/O. A failure or Ctrl-C stops every thread, kills both ffmpeg
processes and removes the half-written segment; finished ones stay.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import UpscaleError
from ..stages import StageThread, run_stages
from .decode import FrameReader
from .encode import EncodePlan, pad_frames
from .ffmpeg.binary import Process
from .ffmpeg.commands import encode_command
from .probe import VideoInfo
from .segments import WorkDir

# frames (N, H, W, 3) -> (N, H', W', 3) of the same dtype, ``source_bits=`` the real depth
FrameFn = Callable[..., np.ndarray]
ProgressFn = Callable[[int, int], None]
_QUEUE_BATCHES = 3


@dataclass
class TranscodeJob:
    """One video's frames on their way through the network."""

    info: VideoInfo
    upscale_frames: FrameFn | None  # None on a cluster: the actors have their own
    plan: EncodePlan
    out_width: int  # what the network path produces, before padding
    out_height: int
    workdir: WorkDir
    batch_size: int = 1
    on_progress: ProgressFn | None = None


def segment_pts(info: VideoInfo, workdir: WorkDir, segment: int) -> list[int]:
    """Source timestamps of ``segment``'s frames from its start; the last segment also takes
    frames beyond the probed list (more decoded than packets), at the average rate."""
    first, count = workdir.first_frame(segment), workdir.segment_frames
    if segment == workdir.segment_count - 1:
        count = max(info.frame_count - first, 0) + 1
    stamps = info.timestamps
    step = 1 / (info.frame_rate * info.time_base)
    pts = [stamps[k] if k < len(stamps) else round(stamps[-1] + (k - len(stamps) + 1) * step)
           for k in range(first, first + count)]
    return [p - pts[0] for p in pts]


class SegmentWriter:
    """Feeds frames to one encoder per segment; finished segments are renamed into place."""

    def __init__(self, job: TranscodeJob, next_frame: int, stop: threading.Event) -> None:
        self.job, self.next_frame, self.stop = job, next_frame, stop
        self.current: Process | None = None
        self.segment = -1
        self.finishers: list[StageThread] = []

    def write(self, frames: np.ndarray) -> None:
        for frame in frames:
            segment = self.job.workdir.segment_of(self.next_frame)
            if segment != self.segment:
                self.close_segment()
                self.open_segment(segment)
            try:
                self.current.popen.stdin.write(memoryview(np.ascontiguousarray(frame)))
            except (BrokenPipeError, OSError) as exc:
                self.current.popen.wait()
                raise UpscaleError(self.current.error_message()) from exc
            self.next_frame += 1
        if self.job.on_progress:
            self.job.on_progress(self.next_frame, max(self.job.info.frame_count, self.next_frame))

    def open_segment(self, segment: int) -> None:
        workdir, info = self.job.workdir, self.job.info
        pts = segment_pts(info, workdir, segment) if info.variable_rate else None
        partial = workdir.partial_path(segment)
        self.current = Process(encode_command(self.job.plan, partial.name, pts),
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

    def finish(self) -> None:
        self.close_segment()
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
    """Upscale and encode ``batches`` (frames ``first_frame`` on) into the job's segments,
    here and on Ray alike; the frames encoded. A failure or Ctrl-C also calls ``on_stop``."""
    stop = threading.Event()
    writer = SegmentWriter(job, first_frame, stop)
    expected = (job.out_height, job.out_width)

    def upscale(batch: np.ndarray) -> np.ndarray:
        result = job.upscale_frames(batch, source_bits=job.info.bit_depth)
        if result.shape[1:3] != expected or result.dtype != batch.dtype:
            raise UpscaleError(f"the frame upscaler returned {result.shape} {result.dtype}; "
                               f"expected {expected} {batch.dtype}")
        return pad_frames(result, job.plan.width, job.plan.height)

    def abandon() -> None:
        on_stop()
        writer.abort()

    run_stages(batches, upscale, writer.write, depth=_QUEUE_BATCHES, name="video",
               finish_writing=writer.finish, on_stop=abandon, stop=stop)
    return writer.next_frame - first_frame
