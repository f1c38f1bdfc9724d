"""The network on a cluster: in the object store once, plus the few facts the driver needs.

The driver plans, names and reports; it never runs the network, so it need not
hold one. A CLI run loads the network in a Ray worker on the driver's own node
(same files, same download cache, same converted weights) and keeps only a
reference to it and its :class:`DriverFacts`: the driver never imports torch,
which keeps a folder run's driver small. A Python caller that already holds a
network puts it in the object store itself (:func:`put_network`). Either way the
actors all read that one stored copy, so no node downloads or converts again.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..video import weights_fingerprint
from .session import worker_errors


@dataclass(frozen=True)
class DriverFacts:
    """What the driver needs to know about the model, learnt where it was loaded."""

    output_scale: float  # the scale outputs are named and made at by default
    fingerprint: str  # the network's part of a video's resume key


def driver_facts(network: Any) -> DriverFacts:
    """The one place the distributed path reads facts from a model (or a bare network)."""
    # Imported here: it loads torch, and runs where the network is (a worker, or a Python
    # caller that holds one), never in a CLI folder run's driver.
    from ..archs import as_model

    model = as_model(network)
    return DriverFacts(output_scale=model.output_scale, fingerprint=weights_fingerprint(model))


class ClusterNetwork:
    """A network in the object store, and its facts.

    ``ref`` is a one-item list holding the ``ObjectRef``: passed in a list, Ray
    hands actors the reference rather than fetching the network for the call.
    ``facts`` may still be on their way from the worker that loads the network:
    they are waited for on first use, so actors can start while it loads.
    """

    def __init__(self, ref: list, facts: DriverFacts | Callable[[], DriverFacts]) -> None:
        self.ref = ref
        self._facts = facts

    @functools.cached_property
    def facts(self) -> DriverFacts:
        """The facts; a load that failed raises its own error here, once."""
        return self._facts if isinstance(self._facts, DriverFacts) else self._facts()

    @property
    def output_scale(self) -> float:
        """As a ``ModelDescriptor`` has it: a folder run names its outputs with it."""
        return self.facts.output_scale


def put_network(ray: ModuleType, network: Any) -> ClusterNetwork:
    """A network this process already holds, into the object store once."""
    from ..archs import as_model

    model = as_model(network)
    return ClusterNetwork([ray.put(model)], driver_facts(model))


def load_on_this_node(ray: ModuleType, load_network: Callable[[], Any]) -> ClusterNetwork:
    """``load_network()`` run once by a Ray worker on the driver's node, kept in the store.

    On the driver's node it sees the driver's files and caches, as a local load
    would; only its facts come back to this process, when first asked for.
    """
    # Ray is optional: imported only here, once a Ray session exists.
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
    from ..archs import as_model

    model = as_model(load_network())
    return model, driver_facts(model)
