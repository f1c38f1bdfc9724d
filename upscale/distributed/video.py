"""One video on a cluster: the local video job, with its segments made by actors.

Probing, the segment plan, the work folder, resume, concatenation and muxing
are the local code's (``upscale.video.upscale_video``); only the step that
makes the missing segments is replaced, by a Ray Dataset of segment numbers
mapped over an actor pool. Finished segments stay in the work folder, so an
interrupted run (or a restarted cluster) resumes from every finished segment.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..video import upscale_video
from ..video.transcode import TranscodeJob
from .pool import ActorPool
from .segment import expected_frames
from .session import worker_errors
from .worker import SegmentWorker


@dataclass(frozen=True)
class NetworkOnly:
    """What the video job reads from a prepared network, without preparing it here.

    The driver never runs the network: it needs only its weights (for the
    resume fingerprint) and where the actors will run it (for the batch size).
    """

    model: Any  # the ModelDescriptor
    device: str


def upscale_video_on_cluster(ray: ModuleType, pool: ActorPool, network: Any, network_ref: list,
                             source: str | os.PathLike, target: str | os.PathLike, *,
                             scale: float | None = None, tile: int = 0,
                             tile_pad: int | None = None, precision: str = "auto",
                             **options: Any) -> Path:
    """Like ``upscale_video``, with each segment made by an actor of ``pool``."""
    scale = float(scale or network.output_scale)
    encode = cluster_encoder(ray, pool, network_ref, scale=scale, tile=tile, tile_pad=tile_pad,
                             precision=precision)
    return upscale_video(NetworkOnly(network, pool.device), source, target, scale=scale,
                         tile=tile, tile_pad=tile_pad, encode=encode, **options)


def cluster_encoder(ray: ModuleType, pool: ActorPool, network_ref: list, *, scale: float,
                    tile: int, tile_pad: int | None, precision: str
                    ) -> Callable[[TranscodeJob, int], int]:
    """The ``encode`` step of ``run_video`` that makes segments on ``pool``."""
    worker_options = {"device": pool.device, "precision": precision, "threads": pool.threads,
                      "scale": scale, "tile": tile, "tile_pad": tile_pad}

    def encode(job: TranscodeJob, first_segment: int) -> int:
        return encode_on_cluster(ray, pool, network_ref, job, first_segment, worker_options)

    return encode


def encode_on_cluster(ray: ModuleType, pool: ActorPool, network_ref: list,
                      job: TranscodeJob, first_segment: int, worker_options: dict) -> int:
    """Make every missing segment from ``first_segment`` on; return the frames decoded."""
    workdir = job.workdir
    wanted = [segment for segment in range(first_segment, workdir.segment_count)
              if not workdir.segment_path(segment).is_file()]
    decoded = workdir.first_frame(first_segment) + sum(
        expected_frames(job, segment) for segment in range(first_segment, workdir.segment_count)
        if segment not in wanted)
    report: Callable[[int, int], None] = job.on_progress or (lambda done, total: None)
    if not wanted:
        return decoded
    shipped = dataclasses.replace(job, upscale_frames=None, on_progress=None)
    job_ref = [ray.put(shipped)]
    segments = ray.data.from_items([{"segment": segment} for segment in wanted],
                                   override_num_blocks=len(wanted))
    results = segments.map_batches(
        SegmentWorker, batch_size=1, batch_format="numpy",
        fn_constructor_args=(network_ref, job_ref), fn_constructor_kwargs=worker_options,
        **pool.map_options(ray))
    total = job.info.frame_count
    with worker_errors():
        for row in results.iter_rows():
            decoded += int(row["frames"])
            report(decoded, max(total, decoded))
    return decoded
