"""``upscale SRC --ray ADDRESS``: the CLI's one call into the distributed path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UpscaleError
from .session import check_address, import_ray, is_client, run_on_cluster


def run_with_ray(address: str, input: Path, output: Path | None, *,  # noqa: A002 - CLI name
                 load_network: Callable[[], Any], scale: float | None, device: str,
                 precision: str, tile: int, tile_pad: int | None, quiet: bool,
                 folder_options: dict[str, Any], video_options: dict[str, Any],
                 actors: int | None = None) -> int:
    """Run a folder or a video of the CLI on the cluster at ``address``; the exit code.

    ``folder_options`` and ``video_options`` are the CLI's options for each kind
    of input, meaning what they mean locally.
    """
    check_address(address)
    import_ray()
    if is_client(address):
        return run_on_cluster(address, run_with_ray, input, output, load_network=load_network,
                              scale=scale, device=device, precision=precision, tile=tile,
                              tile_pad=tile_pad, quiet=quiet, folder_options=folder_options,
                              video_options=video_options, actors=actors)
    if input.is_dir():
        from . import upscale_folder_on_ray

        return upscale_folder_on_ray(address, input, output, actors=actors,
                                     load_network=load_network, scale=scale, device=device,
                                     precision=precision, tile=tile, tile_pad=tile_pad,
                                     quiet=quiet, **folder_options)
    from ..cli.video import is_video, upscale_video_file

    if not is_video(input):
        raise UpscaleError(f"{input}: --ray runs folders and videos; upscale one image without it")
    from .pool import plan_pool
    from .session import ray_session
    from .video import NetworkOnly, cluster_encoder

    network = load_network()
    scale = scale or network.output_scale
    with ray_session(address) as ray:
        pool = plan_pool(ray, actors=actors, device=device)
        encode = cluster_encoder(ray, pool, [ray.put(network)], scale=scale, tile=tile,
                                 tile_pad=tile_pad, precision=precision)
        upscale_video_file(input, output, prepared=NetworkOnly(network, pool.device),
                           scale=scale, tile=tile, tile_pad=tile_pad, quiet=quiet,
                           encode=encode, **video_options)
    return 0
