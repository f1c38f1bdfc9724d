"""How many actors, and what each one takes: a GPU each, or a node's CPUs each.

Each actor holds one prepared network. On a cluster with GPUs, one actor per
GPU; on CPUs alone, one actor per node, using that node's cores (torch's own
threads do the parallel work inside it). ``actors`` overrides the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ..errors import UpscaleError


@dataclass(frozen=True)
class ActorPool:
    """The size of the pool and the resources of each actor."""

    size: int
    num_gpus: float
    num_cpus: float

    @property
    def device(self) -> str:
        """Where the actors run the network, as ``prepare_network`` spells it."""
        return "cuda" if self.num_gpus else "cpu"

    @property
    def threads(self) -> int:
        return max(1, int(self.num_cpus))

    def map_options(self, ray: ModuleType) -> dict:
        """Keyword arguments for ``Dataset.map_batches`` that make this pool."""
        return {"compute": ray.data.ActorPoolStrategy(size=self.size),
                "num_gpus": self.num_gpus, "num_cpus": self.num_cpus}


def plan_pool(ray: ModuleType, *, actors: int | None = None, device: str = "auto") -> ActorPool:
    """The pool for the cluster ``ray`` is connected to."""
    if actors is not None and actors < 1:
        raise UpscaleError(f"--ray actors must be at least 1, not {actors}")
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus and device != "cpu":
        return ActorPool(size=actors or gpus, num_gpus=1, num_cpus=1)
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    cpus = [node["Resources"].get("CPU", 0) for node in nodes]
    cpus = [count for count in cpus if count >= 1]
    if not cpus:
        raise UpscaleError("the Ray cluster has no CPUs or GPUs for workers")
    size = actors or len(cpus)
    per_actor = max(1, min(min(cpus), sum(cpus) // size))
    return ActorPool(size=size, num_gpus=0, num_cpus=per_actor)
