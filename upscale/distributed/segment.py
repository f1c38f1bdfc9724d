"""One segment of a video, made on whichever worker gets it.

The segments are exactly the local run's (same frame ranges, same encoder
settings, same work folder), so a cluster run gives the local result and either
kind of run can resume the other's work. A worker starts decoding at the
keyframe before its segment (ffmpeg's input seek) and ffmpeg's accurate seek
drops the frames before the segment's first, so no worker decodes the whole
film. A segment appears under its final name only once its encoder finished.
"""

from __future__ import annotations

import threading
from fractions import Fraction

from ..errors import UpscaleError
from ..video.decode import FrameReader
from ..video.encode import pad_frames
from ..video.probe import VideoInfo
from ..video.transcode import FrameFn, SegmentWriter, TranscodeJob


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
    first, wanted = workdir.first_frame(segment), segment_length(job, segment)
    expected = (job.out_height, job.out_width)
    stop = threading.Event()
    reader = SeekingReader(job.info, plan.raw_pix_fmt, first)
    writer = SegmentWriter(job, stop)
    done = 0
    try:
        for batch in reader.batches(job.batch_size):
            if wanted is not None:
                batch = batch[:wanted - done]
            result = upscale_frames(batch, source_bits=job.info.bit_depth)
            if result.shape[1:3] != expected or result.dtype != batch.dtype:
                raise UpscaleError(f"the frame upscaler returned {result.shape} {result.dtype}; "
                                   f"expected {expected} {batch.dtype}")
            writer.write(first + done, pad_frames(result, plan.width, plan.height))
            done += len(batch)
            if done == wanted:
                break
        if wanted is None:
            reader.finish()
        else:
            reader.kill()
        if done == 0 or (wanted is not None and done < wanted):
            raise UpscaleError(f"{job.info.path}: segment {segment} has only {done} frames; the "
                               "file looks truncated or damaged")
        writer.close_segment()
        writer.join()
    except BaseException:
        stop.set()
        reader.kill()
        writer.abort()
        raise
    return done
