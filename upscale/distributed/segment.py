"""One segment of a video, made on whichever worker gets it.

The segments are exactly the local run's (same frame ranges, same encoder
settings, same work folder), so a cluster run gives the local result and either
kind of run can resume the other's work. A worker starts decoding at the
keyframe before its segment (ffmpeg's input seek) and ffmpeg's accurate seek
drops the frames before the segment's first, so no worker decodes the whole
film. A segment appears under its final name only once its encoder finished.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from ..errors import UpscaleError
from ..video.decode import FrameReader
from ..video.probe import VideoInfo
from ..video.transcode import FrameFn, TranscodeJob, encode_frames


def seek_seconds(info: VideoInfo, frame: int) -> Fraction:
    """A time just before ``frame`` and after the frame before it, from the file's start.

    Halfway between the two frames' timestamps, so rounding can neither keep
    the previous frame nor drop this one.
    """
    stamps = info.timestamps
    middle = Fraction(stamps[frame] + stamps[frame - 1], 2) if frame > 0 else Fraction(0)
    return info.first_pts + middle * info.time_base


class SeekingReader(FrameReader):
    """A :class:`FrameReader` whose first frame is frame ``first`` of the source."""

    def __init__(self, info: VideoInfo, raw_pix_fmt: str, first: int) -> None:
        if first == 0:
            super().__init__(info, raw_pix_fmt)
        else:
            super().__init__(info, raw_pix_fmt, seek=seek_seconds(info, first),
                             what=f"decoding {info.path.name} from frame {first}")


def segment_length(job: TranscodeJob, segment: int) -> int | None:
    """Frames in ``segment``; None for the last, which runs to the end of the stream."""
    workdir = job.workdir
    return None if segment == workdir.segment_count - 1 else workdir.segment_frames


def expected_frames(job: TranscodeJob, segment: int) -> int:
    """Frames the probe counted in ``segment``."""
    length = segment_length(job, segment)
    first = job.workdir.first_frame(segment)
    return length if length is not None else max(job.info.frame_count - first, 0)


def encode_segment(job: TranscodeJob, segment: int, upscale_frames: FrameFn) -> int:
    """Decode, upscale and encode one segment; return the frames it holds.

    A segment already in place (a retried task whose first attempt finished)
    is not made again.
    """
    workdir, plan = job.workdir, job.plan
    if workdir.segment_path(segment).is_file():
        return expected_frames(job, segment)
    job = dataclasses.replace(job, upscale_frames=upscale_frames)  # this worker's network
    first, wanted = workdir.first_frame(segment), segment_length(job, segment)
    reader = SeekingReader(job.info, plan.raw_pix_fmt, first)

    def batches() -> Iterator[np.ndarray]:
        done = 0
        for batch in reader.batches(job.batch_size):
            if wanted is not None:
                batch = batch[:wanted - done]
            yield batch
            done += len(batch)
            if done == wanted:
                break
        if wanted is None:
            reader.finish()
        else:
            reader.kill()
        if done == 0 or (wanted is not None and done < wanted):  # before the segment closes
            raise UpscaleError(f"{job.info.path}: segment {segment} has only {done} frames; the "
                               "file looks truncated or damaged")

    return encode_frames(job, batches(), first, on_stop=reader.kill)
