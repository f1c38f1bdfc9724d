"""One video file in, one out, with what a terminal user sees: its name and a frames bar.

The command line, and the driver of a Ray run, call :func:`upscale_video_file`; the
frames themselves go through :func:`upscale.video.upscale_video`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import TextColumn

from ..notes import note
from ..outputs import default_output, output_scale, place_output, refuse_input_clash
from ..run.progress import counting_bar
from . import output_suffix, upscale_video
from .encode import EncoderSettings

if TYPE_CHECKING:
    from ..run import PreparedNetwork


def default_video_output(input_path: Path, scale: float, codec: str = "libx264") -> Path:
    """``clip.mp4`` at x2 -> ``clip_x2.mp4`` (``.mkv`` when the source container cannot hold it)."""
    return default_output(input_path, scale, output_suffix(input_path, codec))


def video_target(input: Path, output: Path | None, scale: float, codec: str) -> Path:  # noqa: A002
    """Where INPUT's upscaled video goes (``-o`` a file, a folder, or nothing)."""
    return place_output(default_video_output(input, scale, codec), output)


def upscale_video_file(input: Path, output: Path | None = None, *,  # noqa: A002
                       prepared: PreparedNetwork, scale: float | None = None, tile: int = 0,
                       tile_pad: int | None = None, settings: EncoderSettings | None = None,
                       restart: bool = False, overwrite: bool = False,
                       batch_size: int | None = None, quiet: bool = False, **options) -> Path:
    """Upscale one video file with a frames bar on stderr; returns the output path.

    Unfinished work of the same job is always continued; ``restart`` discards it.
    ``options`` go to :func:`upscale.video.upscale_video`.
    """
    settings = settings or EncoderSettings()
    scale = output_scale(scale, prepared.model)
    target = video_target(input, output, scale, settings.codec)
    refuse_input_clash(target, input)
    with FrameBar(input.name, quiet) as on_progress:
        upscale_video(prepared, input, target, scale=scale, tile=tile, tile_pad=tile_pad,
                      overwrite=overwrite, settings=settings, restart=restart,
                      batch_size=batch_size, on_progress=on_progress,
                      notify=(lambda message: None) if quiet else note, **options)
    return target


class FrameBar:
    """A rich bar on stderr: frames done/total, fps, ETA; nothing at all when quiet.

    It appears with the first frames, so a file refused before any (not a readable
    video, say) gets its one error line and nothing else.
    """

    def __init__(self, name: str, quiet: bool) -> None:
        self.name, self.quiet, self.progress, self.task = name, quiet, None, None

    def __enter__(self):
        return None if self.quiet else self.update

    def _start(self) -> None:
        self.progress = counting_bar(TextColumn("frames"), TextColumn("{task.fields[fps]}"),
                                     console=Console(stderr=True))
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
