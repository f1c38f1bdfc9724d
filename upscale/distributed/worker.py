"""The actors: each prepares the network once, then upscales what it is sent.

The network arrives as one object in Ray's object store (put there once, by
the driver or by the worker that loaded it), so no node downloads or converts
weights again. Image workers take rows of file paths, run them through a local run's
steps (:class:`~upscale.batch.folder.ImageSteps`, overlapped as there) and return
small status rows; segment workers take segment numbers of one video and return
how many frames they encoded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..batch.folder import ImageSteps, JobSettings
from ..batch.plan import Job, Kind, Status
from ..batch.prefetch import run_overlapped
from ..batch.report import failure_reason
from ..files import Picture
from ..video.frame_upscaler import frame_upscaler
from .segment import encode_segment


class NetworkWorker:
    """Holds one prepared network for the actor's lifetime."""

    def __init__(self, network_ref: list, *, device: str, precision: str, threads: int) -> None:
        # Here, not at the top: the driver imports this module but must not load torch
        # (its memory) nor Ray before a run asks for it (an optional extra).
        import ray
        import torch

        from ..run import prepare_network

        if device == "cpu" or not torch.cuda.is_available():
            torch.set_num_threads(threads)
        self.prepared = None
        self.missing_network = ""
        try:
            model = ray.get(network_ref[0])
        except Exception as error:  # noqa: BLE001 - the driver says why the load failed
            # Raising here would make Ray restart the actor forever, printing tracebacks.
            self.missing_network = f"the network did not reach this worker ({error})"[:300]
            return
        self.prepared = prepare_network(model, device=device, precision=precision)


class ImageWorker(NetworkWorker):
    """Upscale image files with a local run's steps, and say what happened to each."""

    def __init__(self, network_ref: list, *, device: str, threads: int, output_dir: str,
                 scale: float, settings: JobSettings) -> None:
        super().__init__(network_ref, device=device, precision=settings.precision,
                         threads=threads)
        self.steps = None if self.prepared is None else ImageSteps(
            self.prepared, Path(output_dir), scale, settings)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, list]:
        if self.steps is None:
            # A failed load stops the driver at the first row, in the load's own words; a
            # copy lost on its way here fails these files, for a re-run to do.
            count = len(rows["index"])
            return {"index": list(rows["index"]), "status": [Status.FAILED.value] * count,
                    "reason": [self.missing_network] * count}
        outcome: dict[int, tuple[str, str]] = {}
        todo = []
        for index, source, relative, target, replace, stamp in zip(
                rows["index"], rows["source"], rows["relative"], rows["target"], rows["replace"],
                rows["stamp"], strict=True):
            job = Job(Path(source), Path(relative), Kind.IMAGE, Path(target), replace=bool(replace))
            if written_by_this_run(Path(target), bool(replace), str(stamp)):
                outcome[int(index)] = Status.DONE.value, ""  # a retried task's finished write
            else:
                todo.append((int(index), job))

        def write(item: tuple[int, Job], picture: Picture) -> None:
            self.steps.write(item[1], picture)
            outcome[item[0]] = Status.DONE.value, ""

        def failed(item: tuple[int, Job], stage: str, error: BaseException) -> None:
            outcome[item[0]] = Status.FAILED.value, failure_reason(item[1], error)

        run_overlapped(todo, read=lambda item: self.steps.read(item[1]),
                       compute=lambda item, picture: self.steps.compute(item[1], picture),
                       write=write, on_failure=failed, depth=min(len(todo) - 1, 2))
        indices = sorted(outcome)
        return {"index": indices, "status": [outcome[index][0] for index in indices],
                "reason": [outcome[index][1] for index in indices]}


def file_stamp(path: Path) -> str:
    """Size and modification time of an existing output, as the plan saw it."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def written_by_this_run(target: Path, replace: bool, stamp: str) -> bool:
    """True when ``target`` is already this run's output (outputs only appear complete).

    A new output's target did not exist when the plan was made; one being
    replaced had the plan's ``stamp``. Anything else there now was renamed into
    place by an earlier attempt of the same task.
    """
    try:
        now = file_stamp(target)
    except OSError:
        return False
    return now != stamp if replace else True


class SegmentWorker(NetworkWorker):
    """Encode whole segments of one video into its work folder."""

    def __init__(self, network_ref: list, job_ref: list, *, device: str, precision: str,
                 threads: int, scale: float, tile: int, tile_pad: int | None) -> None:
        import ray

        super().__init__(network_ref, device=device, precision=precision, threads=threads)
        if self.prepared is None:  # a video starts only after its network loaded: a lost copy
            raise RuntimeError(self.missing_network)  # Ray restarts the actor and retries
        self.job = ray.get(job_ref[0])
        self.upscale_frames = frame_upscaler(self.prepared, scale, tile=tile, tile_pad=tile_pad)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, list]:
        segments = [int(segment) for segment in rows["segment"]]
        frames = [encode_segment(self.job, segment, self.upscale_frames) for segment in segments]
        return {"segment": segments, "frames": frames, "pid": [os.getpid()] * len(segments)}
