"""The command line's video road (here or on Ray): a file's output name, and its frames bar."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import TextColumn

from ..outputs import default_output, place_output
from ..run.progress import counting_bar
from . import output_suffix


def video_target(input: Path, output: Path | None, scale: float, codec: str) -> Path:  # noqa: A002
    """Where INPUT's upscaled video goes (``-o`` a file, a folder, or nothing): by default
    ``clip.mp4`` at x2 -> ``clip_x2.mp4`` (``.mkv`` when the source container cannot hold it)."""
    return place_output(default_output(input, scale, output_suffix(input, codec)), output)


class FrameBar:
    """A rich bar on stderr: frames done/total, fps, ETA; nothing when quiet. It appears with
    the first frames, so a file refused before any gets its one error line and nothing else."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name, self.quiet, self.progress, self.task = name, quiet, None, None

    def __enter__(self):
        return None if self.quiet else self.update

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = counting_bar(TextColumn("frames"), TextColumn("{task.fields[fps]}"),
                                         console=Console(stderr=True))
            self.progress.start()
            self.task = self.progress.add_task(self.name, total=None, fps="")
        speed = self.progress.tasks[0].speed
        self.progress.update(self.task, completed=done, total=total,
                             fps=f"{speed:.1f} fps" if speed else "")

    def __exit__(self, *exc_info) -> None:
        if self.progress is not None:
            self.progress.stop()
