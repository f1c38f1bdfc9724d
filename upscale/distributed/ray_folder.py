"""A folder on a cluster: the local plan and report, with the files upscaled by actors.

Images go out as a Ray Dataset of paths (never pixels), a status row per file streams back;
then videos run segment by segment. Workers load the network: the driver never imports torch.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from contextlib import ExitStack
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rich.console import Console

from .. import loading
from ..batch import upscale_folder
from ..batch.folder import VideoSupport
from ..batch.naming import OutputNaming, make_output_folders
from ..batch.plan import Job, Kind, Status
from ..batch.report import Outcomes, failure_reason, file_progress, frame_progress, progress_note
from ..outputs import output_scale
from . import session
from .ray_video import upscale_video_on_cluster
from .worker import ImageWorker, file_stamp

if TYPE_CHECKING:
    from ..request import Request
    from .session import ActorPool, ClusterNetwork

ROWS_PER_BLOCK = 8  # small blocks: even spread over actors, little lost to a dead one
MAX_BLOCKS = 4096  # beyond this, per-block bookkeeping costs more than it balances


def upscale_folder_on_ray(request: Request, *, load_network: Callable[[], Any] | None = None,
                          actors: int | None = None, **options: Any) -> int:
    """``upscale_folder`` (and its ``options``) with the files upscaled on the cluster at
    ``request.ray``; the exit code. ``load_network`` runs once, pickled to a Ray worker on
    this node, and only if it must; ``actors`` overrides the pool size."""
    assert request.ray is not None
    session.import_ray(request.ray)
    load_network = load_network or functools.partial(loading.load_choice, request.network)
    if session.is_client(request.ray):  # Ray Data cannot run from a client: the driver goes there
        return session.run_on_cluster(request.ray, lambda address: upscale_folder_on_ray(
            dataclasses.replace(request, ray=address), load_network=load_network, actors=actors))
    with ClusterExecutor(request.ray, actors, load_network) as executor:
        if request.known_scale is None:  # the output names need it: learnt where it loads
            scale = output_scale(None, executor.network())
            request = dataclasses.replace(request, scale=scale, known_scale=scale)
        return upscale_folder(request, load_network=executor.network, executor=executor,
                              **options)


class ClusterExecutor(ExitStack):
    """Runs a folder's planned jobs on a Ray cluster, connecting only when it must (a re-run
    that finds everything done, the scale known, never does); leaving it ends the session."""

    def __init__(self, address: str, actors: int | None,
                 load_network: Callable[[], Any]) -> None:
        super().__init__()
        self.address, self.actors, self.load_network = address, actors, load_network
        self.ray: ModuleType | None = None
        self._network: ClusterNetwork | None = None

    def connect(self) -> ModuleType:
        if self.ray is None:
            self.ray = self.enter_context(session.ray_session(self.address))
        return self.ray

    def network(self) -> ClusterNetwork:
        """The network in the object store, loaded on first use (actors start while it loads)."""
        if self._network is None:
            self._network = session.load_on_this_node(self.connect(), self.load_network)
        return self._network

    def __call__(self, todo: list[Job], network: ClusterNetwork, naming: OutputNaming,
                 outcomes: Outcomes, video: VideoSupport | None, stderr: Console,
                 settings: Request) -> None:
        """Images through the actor pool, then videos segment by segment."""
        pool = session.plan_pool(self.connect(), actors=self.actors, device=settings.device)
        progress, task, finished = file_progress(stderr, outcomes, len(todo), quiet=settings.quiet)

        images = [job for job in todo if job.kind is Kind.IMAGE]
        videos = [job for job in todo if job.kind is Kind.VIDEO]
        with progress:
            if images:
                progress.update(task, current=f"{len(images)} images on {pool.size} actors")
                try:
                    for index, status, reason in self.run_images(images, pool, network.ref,
                                                                 naming, settings):
                        network.facts  # noqa: B018 - rows come once it loaded, or its error
                        finished(images[index], status, reason)
                except Exception:
                    network.facts  # noqa: B018 - a failed load is the cause: its own line
                    raise
            for job in videos:
                assert job.target is not None
                progress.update(task, current=str(job.relative))
                try:
                    make_output_folders(job.target, naming.output_dir)
                    upscale_video_on_cluster(
                        self.ray, pool, network, job.source, job.target,
                        scale=naming.scale, tile=settings.tile, tile_pad=settings.tile_pad,
                        precision=settings.precision, overwrite=job.replace,
                        on_progress=frame_progress(progress, task, job),
                        notify=progress_note(progress, settings.quiet))
                except Exception as exc:  # noqa: BLE001 - one file's failure is not the batch's
                    finished(job, Status.FAILED, failure_reason(job, exc))
                else:
                    finished(job, Status.DONE)
            progress.update(task, current="")

    def run_images(self, images: list[Job], pool: ActorPool, network_ref: list,
                   naming: OutputNaming, settings: Request):
        """Yield (position in ``images``, status, reason) as actors finish files."""
        rows = [{"index": index, "source": str(job.source), "relative": str(job.relative),
                 "target": str(job.target), "replace": job.replace,
                 "stamp": file_stamp(job.target) if job.replace else ""}
                for index, job in enumerate(images)]
        spread = max(-(-len(rows) // ROWS_PER_BLOCK), 4 * pool.size)
        blocks = max(1, min(len(rows), spread, MAX_BLOCKS))
        dataset = self.ray.data.from_items(rows, override_num_blocks=blocks)
        del rows
        results = dataset.map_batches(
            ImageWorker, batch_size=1, batch_format="numpy",
            fn_constructor_args=(network_ref,),
            fn_constructor_kwargs={
                "device": pool.device, "threads": pool.num_cpus,
                "output_dir": str(naming.output_dir), "scale": naming.scale,
                "settings": settings},
            **pool.map_options(self.ray, blocks))
        with session.worker_errors():  # an actor that cannot start (no such device) is one line
            for row in results.iter_rows():
                yield int(row["index"]), str(row["status"]), str(row["reason"])

