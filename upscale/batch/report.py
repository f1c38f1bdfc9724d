"""What a batch tells its user: one live progress line (stderr), then a summary (stdout)
that lists every file not done, so an overnight run's problems are all in one place."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from ..errors import UpscaleError
from ..outputs import format_scale
from ..run.progress import counting_bar
from .plan import ALREADY_DONE, Action, Job, Status

STATUS_STYLE = {Status.DONE: "green", Status.SKIPPED: "yellow", Status.FAILED: "bold red"}
ACTION_STYLE = {Action.UPSCALE: "green", Action.SKIP: "yellow", Action.FAIL: "bold red"}


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: Status
    reason: str = ""


class Outcomes:
    """Thread-safe record of what happened to each file (stages report from threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Outcome] = []

    def add(self, job: Job, status: Status | str, reason: str = "") -> None:
        """``status`` as a word too: Ray's result rows carry plain strings."""
        with self._lock:
            self.items.append(Outcome(job, Status(status), reason))

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.items if outcome.status == status)


def failure_reason(job: Job, error: BaseException) -> str:
    """The message without the file name the table shows; anything but a user's error (a
    bug, a device out of memory) keeps its type name as a clue."""
    message = str(error) or type(error).__name__
    for prefix in (f"{job.source}: ", f"{job.target}: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if isinstance(error, UpscaleError):
        return message
    return f"{type(error).__name__}: {message}"


class ThroughputColumn(ProgressColumn):
    """Files per second, or seconds per file when files are slow."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-- files/s", style="progress.data.speed")
        text = f"{speed:.2f} files/s" if speed >= 1 else f"{1 / speed:.1f} s/file"
        return Text(text, style="progress.data.speed")


def file_progress(console: Console, outcomes: Outcomes, total: int, *, quiet: bool
                  ) -> tuple[Progress, TaskID, Callable[[Job, Status, str], None]]:
    """The batch's bar, its task, and ``finished(job, status, reason)``: the one way a
    file's result is recorded, printed when it failed, and counted on the bar."""
    progress = counting_bar(ThroughputColumn(), console=console, disable=quiet,
                            tail=(TextColumn("{task.fields[current]}", style="dim"),))
    task = progress.add_task("upscaling", total=total, current="")

    def finished(job: Job, status: Status, reason: str = "") -> None:
        outcomes.add(job, status, reason)
        if status == Status.FAILED and not quiet:
            progress.console.print(f"[bold red]failed[/bold red] {job.relative}: {reason}",
                                   highlight=False, soft_wrap=True)
        progress.advance(task)

    return progress, task, finished


def summary_tables(outcomes: list[Outcome]) -> list[Table]:
    """A count per result and reason, then one row per file not done (except 'already done')."""
    counts = Table(show_edge=False)
    counts.add_column("result")
    counts.add_column("files", justify="right")
    counts.add_column("reason")
    for status in Status:
        mine = [o for o in outcomes if o.status is status]
        if not mine and status is not Status.DONE:
            continue
        reasons = Counter(_short(o.reason) for o in mine if o.reason)
        if status is Status.FAILED:
            detail = "each file below"
        elif len(reasons) == 1:
            detail = next(iter(reasons))
        else:
            detail = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        counts.add_row(Text(str(status), style=STATUS_STYLE[status]), str(len(mine)), detail)
    tables = [counts]
    listed = [o for o in outcomes if o.status is not Status.DONE and o.reason != ALREADY_DONE]
    if listed:
        files = Table(show_edge=False, title_justify="left")
        files.add_column("file", overflow="fold")
        files.add_column("result")
        files.add_column("reason", overflow="fold")
        for outcome in sorted(listed, key=lambda o: (o.status is not Status.FAILED,
                                                     str(o.job.relative))):
            files.add_row(str(outcome.job.relative),
                          Text(str(outcome.status), style=STATUS_STYLE[outcome.status]),
                          outcome.reason)
        tables.append(files)
    return tables


def _short(reason: str) -> str:
    """Group similar reasons in the counts table: 'not an image or video (.txt)' -> kind."""
    return reason.split(" (")[0] if reason.startswith("not an image or video") else reason


def plan_table(jobs: list[Job], output_root: Path, scale: float) -> Table:
    """What --dry-run prints for any input (one image, a video, a folder, here or on Ray):
    each file, its output, and what would happen."""
    table = Table(title=f"dry run at ×{format_scale(scale)} into {output_root}: nothing was "
                  "written", title_justify="left", show_edge=False)
    table.add_column("file", overflow="fold")
    table.add_column("output", overflow="fold")
    table.add_column("action", overflow="fold")
    for job in jobs:
        target = str(job.target.relative_to(output_root)) if job.target else ""
        action = "replace" if job.action is Action.UPSCALE and job.replace else str(job.action)
        if job.reason:
            action += f": {job.reason}"
        table.add_row(str(job.relative), target, Text(action, style=ACTION_STYLE[job.action]))
    return table


def frame_progress(progress: Progress, task: TaskID, job: Job) -> Callable[[int, int], None]:
    """A video's frames, shown on the batch's progress line."""
    def show(done: int, total: int) -> None:
        progress.update(task, current=f"{job.relative} (frame {done}/{total})")
    return show


def progress_note(progress: Progress, quiet: bool) -> Callable[[str], None]:
    """A note printed above the batch's progress line (nothing when quiet)."""
    def show(message: str) -> None:
        if not quiet:
            progress.console.print(f"[dim]note:[/dim] {message}", highlight=False, soft_wrap=True)
    return show
