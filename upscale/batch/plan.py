"""Decide, before any pixel is touched, what happens to each file of a batch: upscale, skip
or fail, with the reason. An output at its final name is complete (outputs are renamed into
place), so it is skipped; an empty one is not trusted and is redone."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import video
from ..errors import UpscaleError
from ..outputs import already_exists, input_clash, is_same_file
from .naming import OutputNaming, make_output_folders

ALREADY_DONE = "already done"


class Word(str, enum.Enum):
    """A state that prints as its word (in tables, and across Ray as a plain string)."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


class Kind(Word):
    """How a file is upscaled: as one image, or frame by frame as a video."""

    IMAGE = "image"
    VIDEO = "video"


class Action(Word):
    """What the plan does with a file."""

    UPSCALE = "upscale"
    SKIP = "skip"
    FAIL = "fail"


class Status(Word):
    """What happened to a file."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass
class Job:
    """One input file and what the batch will do with it."""

    source: Path
    relative: Path  # the source relative to the input folder, for display
    kind: Kind | None  # None: not a file this batch upscales
    target: Path | None = None
    action: Action = Action.UPSCALE
    reason: str = ""
    replace: bool = False  # the target exists and is to be replaced

    def skip(self, reason: str) -> None:
        self.action, self.reason = Action.SKIP, reason

    def fail(self, reason: str) -> None:
        self.action, self.reason = Action.FAIL, reason


def image_or_video(path: Path) -> Kind | None:
    """An image, a video, or None: the rule a single file follows."""
    kind = video.media_kind(path)
    return Kind(kind) if kind in ("image", "video") else None


def make_plan(files: list[Path], input_dir: Path, naming: OutputNaming, *,
              video_suffix: Callable[[Path], str] | None, skip_existing: bool,
              overwrite: bool) -> list[Job]:
    """One job per file, in the order found; ``video_suffix`` None: videos are skipped."""
    jobs = [Job(path, path.relative_to(input_dir), image_or_video(path)) for path in files]
    sources = {os.path.realpath(job.source): job for job in jobs}
    targets: dict[str, Job] = {}
    for job in jobs:
        if job.kind is None:
            job.skip(f"not an image or video ({job.source.suffix or 'no extension'})")
            continue
        if job.kind is Kind.VIDEO and video_suffix is None:
            job.skip("video: this run does not upscale videos")
            continue
        suffix = (video_suffix(job.source) if job.kind is Kind.VIDEO
                  else naming.image_suffix(job.source))
        try:
            job.target = naming.target(job.relative, suffix)
        except UpscaleError as exc:
            job.fail(str(exc))
            continue
        key = os.path.realpath(job.target)
        if is_same_file(job.target, job.source):
            job.fail(input_clash())
        elif key in targets:
            job.fail(f"same output name as {targets[key].relative}: {job.target.name}")
        else:
            targets[key] = job
    for key, producer in targets.items():
        other = sources.get(key)
        if other is not None and other is not producer and other.action is Action.UPSCALE:
            # An earlier run wrote into the input folder: that file is an output, not an input.
            other.skip(f"it is the output of {producer.relative}")
    for job in jobs:
        if job.action is Action.UPSCALE:
            _decide_existing(job, naming.output_dir, sources,
                             skip_existing=skip_existing, overwrite=overwrite)
    return jobs


def _decide_existing(job: Job, output_dir: Path, sources: dict[str, Job], *,
                     skip_existing: bool, overwrite: bool) -> None:
    target = job.target
    assert target is not None
    try:
        make_output_folders(target, output_dir, create=False)
    except UpscaleError as exc:
        job.fail(str(exc).removeprefix(f"{target}: "))
        return
    if not target.exists():
        return
    if target.is_dir():
        job.fail(f"the output {target} is a folder")
        return
    if os.path.realpath(target) in sources and overwrite:
        job.fail(input_clash(str(sources[os.path.realpath(target)].relative)))
        return
    complete = target.stat().st_size > 0
    if overwrite or not complete:
        job.replace = True
    elif skip_existing:
        job.skip(ALREADY_DONE)
    else:
        job.fail(already_exists(target))
