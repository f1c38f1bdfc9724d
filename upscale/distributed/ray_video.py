"""One video on a cluster: the local video job, with its segments made by actors.

Probing, the segment plan, the work folder, resume, concatenation and muxing
are the local code's (``upscale.video.run_video``); only the step that makes
the missing segments is replaced, by a Ray Dataset of segment numbers mapped
over an actor pool. Finished segments stay in the work folder, so an
interrupted run (or a restarted cluster) resumes from every finished segment.
The driver holds no network, only its :class:`ClusterNetwork` facts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..outputs import output_scale
from ..video import VideoEngine, default_batch_size, run_engine
from ..video.job import Encode
from ..video.transcode import TranscodeJob
from .network import ClusterNetwork, put_network
from .pool import ActorPool, plan_pool
from .segment import expected_frames
from .session import is_client, ray_session, run_on_cluster, worker_errors
from .worker import SegmentWorker


def upscale_video_on_cluster(ray: ModuleType, pool: ActorPool, network: ClusterNetwork,
                             source: str | os.PathLike, target: str | os.PathLike, *,
                             scale: float | None = None, tile: int = 0,
                             tile_pad: int | None = None, precision: str = "auto",
                             batch_size: int | None = None, **options: Any) -> Path:
    """``upscale_video`` with each segment made by an actor of ``pool``: the same last step
    (:func:`upscale.video.run_engine`), so local and cluster runs resume each other."""
    scale = output_scale(scale, network)
    encode = cluster_encoder(ray, pool, network.ref, scale=scale, tile=tile, tile_pad=tile_pad,
                             precision=precision)
    engine = VideoEngine(made_by_actors, batch_size or default_batch_size(pool.device), encode)
    return run_engine(engine, source, target, scale=scale, tile=tile,
                      fingerprint=network.facts.fingerprint, **options)


def made_by_actors(frames: np.ndarray, source_bits: int) -> np.ndarray:
    """The frame function of a cluster run: the actors upscale the frames, never the driver."""
    raise AssertionError("on a cluster the actors upscale the frames, never the driver")


def cluster_encoder(ray: ModuleType, pool: ActorPool, network_ref: list, *, scale: float,
                    tile: int, tile_pad: int | None, precision: str
                    ) -> Encode:
    """The ``encode`` step of ``run_video`` that makes segments on ``pool``."""
    worker_options = {"device": pool.device, "precision": precision, "threads": pool.threads,
                      "scale": scale, "tile": tile, "tile_pad": tile_pad}

    def encode(job: TranscodeJob, first_segment: int) -> int:
        return encode_on_cluster(ray, pool, network_ref, job, first_segment, worker_options)

    return encode


def encode_on_cluster(ray: ModuleType, pool: ActorPool, network_ref: list, job: TranscodeJob,
                      first_segment: int, worker_options: dict) -> int:
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


def upscale_video_on_ray(address: str, source: str | os.PathLike, target: str | os.PathLike, *,
                         network: Any, actors: int | None = None, device: str = "auto",
                         **options: Any) -> Path:
    """``upscale_video`` for an unprepared ``network``, its segments made on the cluster."""
    if is_client(address):
        return run_on_cluster(address, upscale_video_on_ray, source, target, network=network,
                              actors=actors, device=device, **options)
    with ray_session(address) as ray:
        pool = plan_pool(ray, actors=actors, device=device)
        return upscale_video_on_cluster(ray, pool, put_network(ray, network), source, target,
                                        **options)
