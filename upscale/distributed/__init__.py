"""Upscale folders and videos on a Ray cluster, with the same result as a local run.

``upscale SRC -o DST --ray ADDRESS`` (``local``, ``auto`` or ``ray://host:port``)
and the two functions below. The driver plans, names, resumes and reports with
the local code; actors (one per GPU, or one per node's CPUs) each prepare the
network once and upscale files, or segments of a video, from storage every
node sees. Ray is an optional extra (``pip install "upscale[ray]"``) imported
only when a run uses it, so a local run never loads it; a folder's driver
never imports torch either.
"""

from __future__ import annotations

from .command import check_ray_request, cluster_video_engine
from .ray_folder import upscale_folder_on_ray
from .ray_video import upscale_video_on_ray
from .session import INSTALL_HINT, is_client, run_on_cluster

__all__ = ["INSTALL_HINT", "check_ray_request", "cluster_video_engine", "is_client",
           "run_on_cluster", "upscale_folder_on_ray", "upscale_video_on_ray"]
