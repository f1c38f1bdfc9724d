"""A checked request on a Ray cluster: what ``upscale SRC --ray ADDRESS`` runs.

A folder's files are spread over actors (:mod:`.ray_folder`); a video takes the local
road (:func:`upscale.execute.execute`) with its segments made by actors
(:func:`cluster_video_engine`). For a ``ray://`` address the whole run happens on the
cluster (:func:`run_on_cluster`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import UpscaleError
from ..request import InputKind
from ..video import default_batch_size
from ..video.job import VideoEngine
from .pool import plan_pool
from .ray_video import cluster_encoder, made_by_actors
from .session import check_address, import_ray, ray_session

if TYPE_CHECKING:
    from ..model import ModelDescriptor
    from ..request import Request


def check_ray_request(request: Request) -> None:
    """A folder or a video, an address Ray understands, and Ray installed: before any work."""
    assert request.ray is not None
    if request.kind is InputKind.IMAGE:
        raise UpscaleError(f"{request.input}: --ray runs folders and videos; upscale one image "
                           "without it")
    check_address(request.ray)
    import_ray()


@contextlib.contextmanager
def cluster_video_engine(request: Request, network: ModelDescriptor, scale: float,
                         actors: int | None = None) -> Iterator[VideoEngine]:
    """A video's segments made by actors of the cluster at ``request.ray`` (the driver,
    which loaded the network for the naming and the resume key, shares it once)."""
    assert request.ray is not None
    with ray_session(request.ray) as ray:
        pool = plan_pool(ray, actors=actors, device=request.device)
        encode = cluster_encoder(ray, pool, [ray.put(network)], scale=scale, tile=request.tile,
                                 tile_pad=request.tile_pad, precision=request.precision)
        yield VideoEngine(made_by_actors, default_batch_size(pool.device), encode)

