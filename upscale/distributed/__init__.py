"""Upscale folders and videos on a Ray cluster, with the same result as a local run.

``upscale SRC -o DST --ray ADDRESS`` (``local``, ``auto`` or ``ray://host:port``)
and the two functions below. The driver plans, names, resumes and reports with
the local code; actors (one per GPU, or one per node's CPUs) each prepare the
network once and upscale files, or segments of a video, from storage every
node sees. Ray is an optional extra (``pip install "upscale[ray]"``) imported
only here, so a local run never loads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .command import run_with_ray
from .session import INSTALL_HINT, check_address, import_ray, is_client, ray_session, run_on_cluster

__all__ = ["INSTALL_HINT", "run_with_ray", "upscale_folder_on_ray", "upscale_video_on_ray"]


def upscale_folder_on_ray(address: str, input_dir: str | os.PathLike,
                          output_dir: str | os.PathLike | None = None, *,
                          actors: int | None = None, **options: Any) -> int:
    """``upscale_folder`` with the files upscaled on the cluster at ``address``; the exit code.

    ``options`` are ``upscale.batch.upscale_folder``'s (``load_network`` included);
    ``actors`` overrides the pool size (default: one per GPU, or one per node).
    """
    from ..batch import upscale_folder
    from .folder import ClusterExecutor

    check_address(address)
    import_ray()
    if is_client(address):
        return run_on_cluster(address, upscale_folder_on_ray, input_dir, output_dir,
                              actors=actors, **options)
    return upscale_folder(input_dir, output_dir,
                          executor=ClusterExecutor(address, actors), **options)


def upscale_video_on_ray(address: str, source: str | os.PathLike, target: str | os.PathLike, *,
                         network: Any, actors: int | None = None, device: str = "auto",
                         **options: Any) -> Path:
    """``upscale_video`` for an unprepared ``network``, its segments made on the cluster."""
    from ..archs import as_model  # imports torch, which a --ray folder run never needs
    from .pool import plan_pool
    from .video import upscale_video_on_cluster

    network = as_model(network)
    if is_client(address):
        return run_on_cluster(address, upscale_video_on_ray, source, target, network=network,
                              actors=actors, device=device, **options)
    with ray_session(address) as ray:
        pool = plan_pool(ray, actors=actors, device=device)
        return upscale_video_on_cluster(ray, pool, network, [ray.put(network)], source, target,
                                        **options)
