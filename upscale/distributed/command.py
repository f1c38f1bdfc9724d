"""A checked request on a Ray cluster: what ``upscale SRC --ray ADDRESS`` runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import UpscaleError
from ..outputs import output_scale
from ..request import InputKind
from ..video.file import upscale_video_file
from .network import NetworkOnly
from .pool import plan_pool
from .ray_folder import upscale_folder_on_ray
from .ray_video import cluster_encoder
from .session import check_address, import_ray, is_client, ray_session, run_on_cluster

if TYPE_CHECKING:
    from ..request import Request


def run_with_ray(request: Request, load_network: Callable[[], Any], *,
                 folder_options: dict[str, Any], actors: int | None = None) -> int:
    """Run the request's folder or video on the cluster at ``request.ray``; the exit code.

    ``folder_options`` are ``upscale_folder``'s, as a local run passes them. A folder
    whose output scale is known without the network (a registry model's) names its
    outputs, and skips finished ones, without loading it.
    """
    address = request.ray
    assert address is not None
    check_address(address)
    import_ray()
    if is_client(address):
        return run_on_cluster(address, run_with_ray, request, load_network,
                              folder_options=folder_options, actors=actors)
    if request.kind is InputKind.FOLDER:
        return upscale_folder_on_ray(address, request.input, request.output, actors=actors,
                                     load_network=load_network, scale=request.known_scale(),
                                     device=request.device, precision=request.precision,
                                     tile=request.tile, tile_pad=request.tile_pad,
                                     quiet=request.quiet, **folder_options)
    if request.kind is not InputKind.VIDEO:
        raise UpscaleError(f"{request.input}: --ray runs folders and videos; upscale one image "
                           "without it")
    # One video: the driver loads the network itself (the naming, progress and the resume
    # fingerprint read it there); only a folder's driver stays free of torch.
    network = load_network()
    scale = output_scale(request.scale, network)
    with ray_session(address) as ray:
        pool = plan_pool(ray, actors=actors, device=request.device)
        encode = cluster_encoder(ray, pool, [ray.put(network)], scale=scale, tile=request.tile,
                                 tile_pad=request.tile_pad, precision=request.precision)
        prepared = NetworkOnly(network, pool.device)
        upscale_video_file(request.input, request.output, prepared=prepared, scale=scale,
                           tile=request.tile, tile_pad=request.tile_pad, quiet=request.quiet,
                           encode=encode, settings=request.encoder, restart=request.restart,
                           overwrite=request.overwrite)
    return 0
