"""The video branch of ``upscale INPUT``: called by the main command when INPUT probes as video.

Kept as a plain function so the main command (and its options) stay in one
place; this module adds only what a terminal user sees: the output name, the
progress bar (frames done/total, frames per second, ETA) and the notes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..outputs import default_output, place_output, refuse_input_clash
from ..request import InputKind, input_kind, output_scale
from ..video import EncoderSettings, output_suffix, upscale_video
from .console import print_note, stderr

if TYPE_CHECKING:
    from ..run import PreparedNetwork

__all__ = ["default_video_output", "is_video_input", "upscale_video_file", "video_target"]


def is_video_input(path: Path) -> bool:
    """Whether INPUT goes the video way (a media file with no video stream is refused)."""
    return input_kind(path) is InputKind.VIDEO


def default_video_output(input_path: Path, scale: float, codec: str = "libx264") -> Path:
    """``clip.mp4`` at x2 -> ``clip_x2.mp4`` (``.mkv`` when the source container cannot hold it)."""
    return default_output(input_path, scale, output_suffix(input_path, codec))


def video_target(input: Path, output: Path | None, scale: float, codec: str) -> Path:
    """Where INPUT's upscaled video goes (``-o`` a file, a folder, or nothing)."""
    return place_output(default_video_output(input, scale, codec), output)


def upscale_video_file(input: Path, output: Path | None = None, *, prepared: PreparedNetwork,
                       scale: float | None = None, tile: int = 0, tile_pad: int | None = None,
                       settings: EncoderSettings | None = None, restart: bool = False,
                       overwrite: bool = False, batch_size: int | None = None,
                       quiet: bool = False, started: float | None = None,
                       **options) -> Path:
    """Upscale one video file; returns the output path (``options`` go to ``upscale_video``).

    Unfinished work of the same job is always continued; ``restart`` discards it.
    """
    started = time.perf_counter() if started is None else started
    settings = settings or EncoderSettings()
    scale = output_scale(scale, prepared.model)
    target = video_target(input, output, scale, settings.codec)
    refuse_input_clash(target, input)
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
        from rich.progress import TextColumn

        from ..run.progress import counting_bar

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
