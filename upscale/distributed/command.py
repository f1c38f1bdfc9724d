"""``upscale SRC --ray ADDRESS``: the CLI's one call into the distributed path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UpscaleError
from ..outputs import output_scale
from ..request import InputKind, input_kind
from ..video.file import upscale_video_file
from .network import NetworkOnly
from .pool import plan_pool
from .ray_folder import upscale_folder_on_ray
from .ray_video import cluster_encoder
from .session import check_address, import_ray, is_client, ray_session, run_on_cluster


def run_with_ray(address: str, input: Path, output: Path | None, *,  # noqa: A002 - CLI name
                 load_network: Callable[[], Any], scale: float | None, device: str,
                 precision: str, tile: int, tile_pad: int | None, quiet: bool,
                 folder_options: dict[str, Any], video_options: dict[str, Any],
                 actors: int | None = None, known_scale: float | None = None) -> int:
    """Run a folder or a video of the CLI on the cluster at ``address``; the exit code.

    ``folder_options`` and ``video_options`` are the CLI's options for each kind
    of input, meaning what they mean locally. ``known_scale`` is the output
    scale when it is known without loading the network (a registry model's):
    a folder then names its outputs, and skips finished ones, without loading it.
    """
    check_address(address)
    import_ray()
    if is_client(address):
        return run_on_cluster(address, run_with_ray, input, output, load_network=load_network,
                              scale=scale, device=device, precision=precision, tile=tile,
                              tile_pad=tile_pad, quiet=quiet, folder_options=folder_options,
                              video_options=video_options, actors=actors,
                              known_scale=known_scale)
    if input.is_dir():
        return upscale_folder_on_ray(address, input, output, actors=actors,
                                     load_network=load_network, scale=scale or known_scale,
                                     device=device, precision=precision, tile=tile,
                                     tile_pad=tile_pad, quiet=quiet, **folder_options)
    if input_kind(input) is not InputKind.VIDEO:
        raise UpscaleError(f"{input}: --ray runs folders and videos; upscale one image without it")
    # One video: the driver loads the network itself (the CLI's naming, progress and the
    # resume fingerprint read it there); only a folder's driver stays free of torch.
    network = load_network()
    scale = output_scale(scale, network)
    with ray_session(address) as ray:
        pool = plan_pool(ray, actors=actors, device=device)
        encode = cluster_encoder(ray, pool, [ray.put(network)], scale=scale, tile=tile,
                                 tile_pad=tile_pad, precision=precision)
        upscale_video_file(input, output, prepared=NetworkOnly(network, pool.device),
                           scale=scale, tile=tile, tile_pad=tile_pad, quiet=quiet,
                           encode=encode, **video_options)
    return 0
