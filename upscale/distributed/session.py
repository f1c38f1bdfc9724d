"""Reaching Ray (the one place that imports it), and what a run holds there: its connection,
its actor pool (a GPU each, or a node's CPUs each), and the network, in the object store once.

``--ray local`` starts a runtime for the run; ``auto`` and ``ray://`` join a cluster. A CLI run
loads the network in a Ray worker on the driver's node (same files and caches), so the driver
keeps a reference and its :class:`DriverFacts` and never imports torch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from ..errors import UpscaleError
from ..request import InputKind, Request
from ..video import weights_fingerprint

INSTALL_HINT = 'pip install "upscale[ray]"'
T = TypeVar("T")


def import_ray(address: str) -> ModuleType:
    """The ``ray`` module with Ray Data, to reach ``address``; a one-line error for an address
    other than ``local``, ``auto`` or ``ray://host:port``, or saying how to install Ray."""
    if address not in ("local", "auto") and not is_client(address):
        raise UpscaleError(f"--ray {address}: give local, auto or ray://HOST:PORT")
    try:
        import ray
        import ray.data  # noqa: F401 - the part we need, which plain `ray` lacks
    except ImportError as exc:
        raise UpscaleError(f"--ray needs Ray, which cannot be imported here ({exc}): "
                           f"{INSTALL_HINT}") from exc
    return ray


def check_ray_request(request: Request) -> None:
    """A folder or a video, an address Ray understands, and Ray installed: before any work."""
    assert request.ray is not None
    if request.kind is InputKind.IMAGE:
        raise UpscaleError(f"{request.input}: --ray runs folders and videos; upscale one image "
                           "without it")
    import_ray(request.ray)


def is_client(address: str) -> bool:
    return address.startswith("ray://")


@contextlib.contextmanager
def ray_session(address: str) -> Iterator[ModuleType]:
    """Ray, connected to ``address`` for the block (an existing connection is reused)."""
    ray = import_ray(address)
    connect = not ray.is_initialized()  # else a Python caller (or a test) connected already
    if connect:
        # Through Ray Client the run itself is a task on the cluster: its output is ours.
        options: dict = {"logging_level": logging.WARNING, "log_to_driver": is_client(address)}
        if address == "local":
            options["include_dashboard"] = False
        try:
            ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UpscaleError(f"--ray {address}: cannot connect: {exc}") from exc
    try:
        # our own progress bar replaces Ray Data's bars and execution logs
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        yield ray
    finally:
        if connect:
            ray.shutdown()


def run_on_cluster(address: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function("auto", *args, **kwargs)`` as one task on the cluster of a ``ray://`` address,
    since Ray Data cannot run a dataset from a Ray Client; its output is forwarded here."""
    with ray_session(address) as ray, worker_errors():
        task = ray.remote(num_cpus=0, max_retries=0)(function)
        return ray.get(task.remote("auto", *args, **kwargs))


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """A worker's :class:`UpscaleError` reaches the user as its own line: the innermost error
    of ours in what Ray wraps it in (a task error, then Ray Data's own)."""
    try:
        yield
    except Exception as exc:
        found, seen = None, set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if isinstance(current, UpscaleError) and type(current).__module__.startswith("upscale"):
                found = current
            current = getattr(current, "cause", None) or current.__cause__
        if found is None or found is exc:
            raise
        raise UpscaleError(str(found)) from exc


@dataclass(frozen=True)
class ActorPool:
    """The size of the pool and the resources of each actor."""

    size: int
    num_gpus: float
    num_cpus: int  # also the actor's torch threads

    @property
    def device(self) -> str:
        """Where the actors run the network, as ``prepare_network`` spells it."""
        return "cuda" if self.num_gpus else "cpu"

    def map_options(self, ray: ModuleType, blocks: int) -> dict:
        """``Dataset.map_batches`` arguments for this pool, no larger than its ``blocks``."""
        return {"compute": ray.data.ActorPoolStrategy(size=max(1, min(self.size, blocks))),
                "num_gpus": self.num_gpus, "num_cpus": self.num_cpus}


def plan_pool(ray: ModuleType, *, actors: int | None = None, device: str = "auto") -> ActorPool:
    """The pool for the cluster ``ray`` is connected to."""
    if actors is not None and actors < 1:
        raise UpscaleError(f"--ray actors must be at least 1, not {actors}")
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus and device != "cpu":
        return ActorPool(size=actors or gpus, num_gpus=1, num_cpus=1)
    cpus = [count for node in ray.nodes() if node.get("Alive")
            if (count := node["Resources"].get("CPU", 0)) >= 1]
    if not cpus:
        raise UpscaleError("the Ray cluster has no CPUs or GPUs for workers")
    size = actors or len(cpus)
    per_actor = max(1, int(min(min(cpus), sum(cpus) // size)))
    return ActorPool(size=size, num_gpus=0, num_cpus=per_actor)


@dataclass(frozen=True)
class DriverFacts:
    """What the driver needs to know about the model, learnt where it was loaded."""

    output_scale: float  # the scale outputs are named and made at by default
    fingerprint: str  # the network's part of a video's resume key


@dataclass
class ClusterNetwork:
    """A network in the object store (``ref``, in a list so Ray hands actors the reference),
    and its facts, waited for on first use so that the actors start while it loads."""

    ref: list
    get_facts: Callable[[], DriverFacts]

    @functools.cached_property
    def facts(self) -> DriverFacts:
        """The facts; a load that failed raises its own error here, once."""
        return self.get_facts()

    @property
    def output_scale(self) -> float:
        """As a ``ModelDescriptor`` has it: a folder run names its outputs with it."""
        return self.facts.output_scale


def put_network(ray: ModuleType, network: Any) -> ClusterNetwork:
    """A network this process already holds, into the object store once."""
    model, facts = _load_with_facts(lambda: network)
    return ClusterNetwork([ray.put(model)], lambda: facts)


def load_on_this_node(ray: ModuleType, load_network: Callable[[], Any]) -> ClusterNetwork:
    """``load_network()`` run once by a Ray worker on the driver's node, kept in the store."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    load = ray.remote(_load_with_facts).options(num_cpus=0, num_returns=2,
                                                scheduling_strategy=here)
    network_ref, facts_ref = load.remote(load_network)

    def facts() -> DriverFacts:
        try:
            with worker_errors():  # a missing model is one line, as in a local run
                return ray.get(facts_ref)
        except Exception:
            with contextlib.suppress(Exception):  # the same error: read, so Ray does not log it
                ray.get(network_ref)
            raise

    return ClusterNetwork([network_ref], facts)


def _load_with_facts(load_network: Callable[[], Any]) -> tuple[Any, DriverFacts]:
    """The loaded network as a model, and its facts: run where the network is (loads torch)."""
    from ..archs import as_model

    model = as_model(load_network())
    return model, DriverFacts(model.output_scale, weights_fingerprint(model))
