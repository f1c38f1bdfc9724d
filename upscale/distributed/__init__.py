"""Folders and videos on a Ray cluster (``--ray local|auto|ray://host:port``), with a local
run's result: the driver plans, resumes and reports with the local code, and actors upscale
files or video segments. Ray is an optional extra, imported only when a run uses it.
"""

from __future__ import annotations

from .ray_folder import upscale_folder_on_ray
from .ray_video import cluster_video_engine, upscale_video_on_ray
from .session import INSTALL_HINT, check_ray_request, is_client, run_on_cluster

__all__ = ["INSTALL_HINT", "check_ray_request", "cluster_video_engine", "is_client",
           "run_on_cluster", "upscale_folder_on_ray", "upscale_video_on_ray"]
