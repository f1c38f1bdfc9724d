"""A video file's output name, and what a terminal user sees while it is made: a frames bar.

The command line's video road (:func:`upscale.execute.execute`, here or on Ray) uses both.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import TextColumn

from ..outputs import default_output, place_output
from ..run.progress import counting_bar
from . import output_suffix


def default_video_output(input_path: Path, scale: float, codec: str = "libx264") -> Path:
    """``clip.mp4`` at x2 -> ``clip_x2.mp4`` (``.mkv`` when the source container cannot hold it)."""
    return default_output(input_path, scale, output_suffix(input_path, codec))


def video_target(input: Path, output: Path | None, scale: float, codec: str) -> Path:  # noqa: A002
    """Where INPUT's upscaled video goes (``-o`` a file, a folder, or nothing)."""
    return place_output(default_video_output(input, scale, codec), output)


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
