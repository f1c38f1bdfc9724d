"""The work folder beside the output: finished segments, so that a re-run continues.

A segment is renamed into place once encoded, the same as an uninterrupted run's; ``job.json``
records what made them, so other work is never mixed in, nor deleted without ``--restart``.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

from ..errors import UpscaleError
from .probe import VideoInfo

DEFAULT_SEGMENT_FRAMES = 300
_JOB = "job.json"


def work_dir_for(output: Path) -> Path:
    """``clip_x2.mp4`` -> ``.clip_x2.mp4.upscale-work`` beside it."""
    return output.with_name(f".{output.name}.upscale-work")


class WorkDir:
    """Segment files and the job description (``job.json``) of one output."""

    def __init__(self, path: Path, job: dict, frame_count: int,
                 segment_frames: int = DEFAULT_SEGMENT_FRAMES) -> None:
        if segment_frames < 1:
            raise UpscaleError("segment length must be at least one frame")
        self.path = path
        self.job = {**job, "frame_count": frame_count, "segment_frames": segment_frames}
        self.frame_count = frame_count
        self.segment_frames = segment_frames

    @property
    def segment_count(self) -> int:
        return max(1, -(-self.frame_count // self.segment_frames))

    def segment_of(self, frame: int) -> int:
        return min(frame // self.segment_frames, self.segment_count - 1)

    def first_frame(self, segment: int) -> int:
        return segment * self.segment_frames

    def segment_path(self, segment: int) -> Path:
        return self.path / f"seg_{segment:05d}.nut"

    def partial_path(self, segment: int) -> Path:
        return self.path / f"seg_{segment:05d}.partial.nut"

    def finished_prefix(self) -> int:
        """How many segments, counting from the first, are complete."""
        done = 0
        while done < self.segment_count and self.segment_path(done).is_file():
            done += 1
        return done

    def prepare(self, restart: bool = False) -> int:
        """Make the folder ready; the first segment still to encode. Other work is named in
        the error, never deleted unless ``restart`` (which discards any)."""
        if self.path.exists() and not restart:
            try:
                recorded = json.loads((self.path / _JOB).read_text())
            except (OSError, ValueError):
                recorded = None
            if recorded == self.job:
                for partial in self.path.glob("*.partial.*"):
                    partial.unlink()
                return self.finished_prefix()
            if isinstance(recorded, dict) or any(self.path.glob("seg_*[0-9].nut")):
                raise UpscaleError(
                    f"{self.path}: unfinished work from another source, model or settings is "
                    "kept there; use --restart to discard it, or move it away")
        self.remove()
        self.path.mkdir(parents=True)
        staged = self.path / f"{_JOB}.partial"
        staged.write_text(json.dumps(self.job, indent=1, sort_keys=True))
        staged.replace(self.path / _JOB)
        return 0

    def frames_done(self) -> int:
        """Frames in the finished segments that a later run will keep."""
        return min(self.first_frame(self.finished_prefix()), self.frame_count)

    def write_concat(self, info: VideoInfo) -> Path:
        """An ffconcat list whose durations (the gaps between segment starts, rounded so that
        the rounding never accumulates) put every segment at its own start time."""
        frames = [self.first_frame(index) for index in range(self.segment_count)]
        micros = [round(1_000_000 * (info.timestamps[frame] * info.time_base if info.variable_rate
                                     else Fraction(frame) / info.frame_rate)) for frame in frames]
        lines = ["ffconcat version 1.0"]
        for index in range(self.segment_count):
            lines.append(f"file '{self.segment_path(index).name}'")
            if index + 1 < self.segment_count:
                gap = micros[index + 1] - micros[index]
                lines.append(f"duration {gap // 1_000_000}.{gap % 1_000_000:06d}")
        path = self.path / "segments.ffconcat"
        path.write_text("\n".join(lines) + "\n")
        return path

    def remove(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)
