"""One video on a cluster: the local video job (``upscale.video.run_engine``), with only its
missing segments made by actors, so local and cluster runs resume each other's segments.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..outputs import output_scale
from ..video import VideoEngine, default_batch_size, run_engine
from ..video.transcode import TranscodeJob
from .session import is_client, plan_pool, put_network, ray_session, run_on_cluster, worker_errors
from .worker import SegmentWorker, expected_frames

if TYPE_CHECKING:
    from ..model import ModelDescriptor
    from ..request import Request
    from .session import ActorPool, ClusterNetwork


def upscale_video_on_cluster(ray: ModuleType, pool: ActorPool, network: ClusterNetwork,
                             source: str | os.PathLike, target: str | os.PathLike, *,
                             scale: float | None = None, tile: int = 0,
                             tile_pad: int | None = None, precision: str = "auto",
                             batch_size: int | None = None, **options: Any) -> Path:
    """``upscale_video`` with each segment made by an actor of ``pool``."""
    scale = output_scale(scale, network)
    engine = cluster_engine(ray, pool, network.ref, scale=scale, tile=tile, tile_pad=tile_pad,
                            precision=precision, batch_size=batch_size)
    return run_engine(engine, source, target, scale=scale, tile=tile,
                      fingerprint=network.facts.fingerprint, **options)


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


@contextlib.contextmanager
def cluster_video_engine(request: Request, network: ModelDescriptor,
                         scale: float) -> Iterator[VideoEngine]:
    """The command line's video engine: actors of the cluster at ``request.ray``."""
    assert request.ray is not None
    with ray_session(request.ray) as ray:
        yield cluster_engine(ray, plan_pool(ray, device=request.device), [ray.put(network)],
                             scale=scale, tile=request.tile, tile_pad=request.tile_pad,
                             precision=request.precision)


def cluster_engine(ray: ModuleType, pool: ActorPool, network_ref: list, *, scale: float,
                   tile: int, tile_pad: int | None, precision: str,
                   batch_size: int | None = None) -> VideoEngine:
    """An engine whose ``encode`` makes the missing segments on ``pool``, none here."""
    worker_options = {"device": pool.device, "precision": precision, "threads": pool.num_cpus,
                      "scale": scale, "tile": tile, "tile_pad": tile_pad}

    def encode(job: TranscodeJob, first_segment: int) -> int:
        workdir = job.workdir
        wanted = [segment for segment in range(first_segment, workdir.segment_count)
                  if not workdir.segment_path(segment).is_file()]
        decoded = workdir.first_frame(first_segment) + sum(
            expected_frames(job, segment) for segment in range(first_segment, workdir.segment_count)
            if segment not in wanted)
        if not wanted:
            return decoded
        shipped = dataclasses.replace(job, upscale_frames=None, on_progress=None)
        segments = ray.data.from_items([{"segment": segment} for segment in wanted],
                                       override_num_blocks=len(wanted))
        results = segments.map_batches(
            SegmentWorker, batch_size=1, batch_format="numpy",
            fn_constructor_args=(network_ref, [ray.put(shipped)]),
            fn_constructor_kwargs=worker_options, **pool.map_options(ray, len(wanted)))
        with worker_errors():
            for row in results.iter_rows():
                decoded += int(row["frames"])
                if job.on_progress:
                    job.on_progress(decoded, max(job.info.frame_count, decoded))
        return decoded

    return VideoEngine(None, batch_size or default_batch_size(pool.device), encode)
