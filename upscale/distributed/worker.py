"""The actors: each prepares the network once, from the one copy in Ray's object store, then
upscales what it is sent: rows of image files, through a local run's steps, or segments of
a video, made exactly as a local run makes them so that either kind resumes the other's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..batch.folder import ImageSteps
from ..batch.plan import Job, Kind, Status
from ..batch.prefetch import run_overlapped
from ..batch.report import failure_reason
from ..errors import UpscaleError
from ..files import Picture
from ..request import Request
from ..video import frame_upscaler
from ..video.decode import FrameReader
from ..video.transcode import TranscodeJob, encode_frames


class NetworkWorker:
    """Holds one prepared network for the actor's lifetime."""

    def __init__(self, network_ref: list, *, device: str, precision: str, threads: int) -> None:
        # Here: the driver imports this module but must not load torch, nor Ray before a run.
        import ray
        import torch

        from ..run import prepare_network

        if device == "cpu" or not torch.cuda.is_available():
            torch.set_num_threads(threads)
        self.prepared, self.missing_network = None, ""
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
                 scale: float, settings: Request) -> None:
        super().__init__(network_ref, device=device, precision=settings.precision, threads=threads)
        self.steps = None if self.prepared is None else ImageSteps(
            self.prepared, Path(output_dir), scale, settings)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, list]:
        if self.steps is None:
            # A failed load stops the driver, in its own words; a lost copy fails these files.
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
    """Whether an earlier attempt of this task already wrote ``target``: a new one did not
    exist at planning, a replaced one had the plan's ``stamp``."""
    try:
        now = file_stamp(target)
    except OSError:
        return False
    return not replace or now != stamp


class SegmentWorker(NetworkWorker):
    """Encode whole segments of one video into its work folder."""

    def __init__(self, network_ref: list, job_ref: list, *, device: str, precision: str,
                 threads: int, scale: float, tile: int, tile_pad: int | None) -> None:
        import ray

        super().__init__(network_ref, device=device, precision=precision, threads=threads)
        if self.prepared is None:  # a video starts only after its network loaded: a lost copy
            raise RuntimeError(self.missing_network)  # Ray restarts the actor and retries
        self.job = dataclasses.replace(ray.get(job_ref[0]), upscale_frames=frame_upscaler(
            self.prepared, scale, tile=tile, tile_pad=tile_pad))  # this worker's network

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, list]:
        return {"frames": [encode_segment(self.job, int(segment)) for segment in rows["segment"]]}


def expected_frames(job: TranscodeJob, segment: int) -> int:
    """Frames the probe counted in ``segment``."""
    workdir = job.workdir
    if segment < workdir.segment_count - 1:
        return workdir.segment_frames
    return max(job.info.frame_count - workdir.first_frame(segment), 0)


def encode_segment(job: TranscodeJob, segment: int) -> int:
    """Make one segment (unless a retried task's first attempt did); the frames it holds."""
    workdir = job.workdir
    if workdir.segment_path(segment).is_file():
        return expected_frames(job, segment)
    first = workdir.first_frame(segment)
    wanted = None if segment == workdir.segment_count - 1 else workdir.segment_frames  # None: all
    reader = FrameReader(job.info, job.plan.raw_pix_fmt, first)

    def batches() -> Iterator[np.ndarray]:
        done = 0
        for batch in reader.batches(job.batch_size):
            if wanted is not None:
                batch = batch[:wanted - done]
            yield batch
            done += len(batch)
            if done == wanted:
                break
        if wanted is None:
            reader.finish()
        else:
            reader.kill()
        if done == 0 or (wanted is not None and done < wanted):  # before the segment closes
            raise UpscaleError(f"{job.info.path}: segment {segment} has only {done} frames; the "
                               "file looks truncated or damaged")

    return encode_frames(job, batches(), first, on_stop=reader.kill)
