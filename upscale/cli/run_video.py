"""The video branch of ``upscale INPUT``: called by the main command when INPUT probes as video.

Kept as a plain function so the main command (and its options) stay in one
place; this module adds only what a terminal user sees: the output name, the
progress bar (frames done/total, frames per second, ETA) and the notes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, UpscaleError
from ..outputs import default_output, place_output, refuse_existing, refuse_input_clash
from ..video import EncoderSettings, media_kind, output_suffix, upscale_video
from .console import print_note, stderr

if TYPE_CHECKING:
    from ..run import PreparedNetwork

__all__ = ["check_video_target", "default_video_output", "is_video_input", "upscale_video_file",
           "video_target"]


def is_video_input(path: Path) -> bool:
    """Whether INPUT goes the video way; a media file with no video stream is refused here,
    in the words a folder run uses, rather than read as a broken image."""
    kind = media_kind(path)
    if kind == "no video":
        raise InputError(f"{path}: not a readable video (no video stream)")
    return kind == "video"


def default_video_output(input_path: Path, scale: float, codec: str = "libx264") -> Path:
    """``clip.mp4`` at x2 -> ``clip_x2.mp4`` (``.mkv`` when the source container cannot hold it)."""
    return default_output(input_path, scale, output_suffix(input_path, codec))


def video_target(input: Path, output: Path | None, scale: float, codec: str) -> Path:
    """Where INPUT's upscaled video goes (``-o`` a file, a folder, or nothing)."""
    return place_output(default_video_output(input, scale, codec), output)


def check_video_target(input: Path, output: Path | None, scale: float | None, codec: str,
                       overwrite: bool) -> None:
    """Before the network loads: the target clashes with nothing, when it is known yet (``-o``
    names a file, or the scale is known without the network)."""
    if scale is None and (output is None or output.is_dir()):
        return  # the name holds the network's scale: checked once it has loaded
    target = video_target(input, output, scale or 1.0, codec)
    refuse_input_clash(target, input)
    refuse_existing(target, overwrite)


def upscale_video_file(input: Path, output: Path | None = None, *, prepared: PreparedNetwork,
                       scale: float | None = None, tile: int = 0, tile_pad: int | None = None,
                       codec: str = "libx264", crf: int | None = None, preset: str | None = None,
                       pix_fmt: str | None = None, resume: bool = False, restart: bool = False,
                       overwrite: bool = False, batch_size: int | None = None,
                       quiet: bool = False, **options) -> Path:
    """Upscale one video file; returns the output path (``options`` go to ``upscale_video``).

    Unfinished work of the same job is continued whether or not ``resume`` is
    given (it is the default now); ``restart`` discards it.
    """
    if resume and restart:
        raise UpscaleError("--resume and --restart contradict each other: give one")
    started = time.perf_counter()
    scale = float(scale or prepared.model.output_scale)
    target = video_target(input, output, scale, codec)
    refuse_input_clash(target, input)
    settings = EncoderSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt)
    notify = (lambda message: None) if quiet else print_note
    with _ProgressBar(input.name, quiet) as on_progress:
        upscale_video(prepared, input, target, scale=scale, tile=tile, tile_pad=tile_pad,
                      overwrite=overwrite, settings=settings, restart=restart,
                      batch_size=batch_size, on_progress=on_progress, notify=notify, **options)
    if not quiet:
        print_note(f"wrote {target} in {time.perf_counter() - started:.1f} s")
    return target


class _ProgressBar:
    """A rich bar on stderr: frames done/total, fps, ETA; nothing at all when quiet.

    It appears with the first frames, so a file refused before any (not a readable
    video, say) gets its one error line and nothing else.
    """

    def __init__(self, name: str, quiet: bool) -> None:
        self.name, self.quiet, self.progress, self.task = name, quiet, None, None

    def __enter__(self):
        return None if self.quiet else self.update

    def _start(self) -> None:
        from rich.progress import TextColumn  # lazy: the CLI starts without torch

        from ..run.progress import counting_bar  # lazy: the CLI starts without torch

        self.progress = counting_bar(TextColumn("frames"), TextColumn("{task.fields[fps]}"),
                                     console=stderr)
        self.progress.start()
        self.task = self.progress.add_task(self.name, total=None, fps="")

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            self._start()
        speed = self.progress.tasks[0].speed
        self.progress.update(self.task, completed=done, total=total,
                             fps=f"{speed:.1f} fps" if speed else "")

    def __exit__(self, *exc_info) -> None:
        if self.progress is not None:
            self.progress.stop()
