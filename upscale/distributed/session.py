"""Reaching Ray: the one place that imports it, and the connection a run lives in.

A local run never comes here, so it never imports Ray. ``--ray local`` starts a
runtime on this machine for the run's duration; ``auto`` and ``ray://host:port``
join an existing cluster, and leaving only disconnects from it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

from ..errors import UpscaleError

INSTALL_HINT = 'pip install "upscale[ray]"'
T = TypeVar("T")


def import_ray() -> ModuleType:
    """The ``ray`` module with Ray Data, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the part we need, which plain `ray` lacks
    except ImportError as exc:
        raise UpscaleError(f"--ray needs Ray, which cannot be imported here ({exc}): "
                           f"{INSTALL_HINT}") from exc
    return ray


def check_address(address: str) -> str:
    """``local``, ``auto`` or ``ray://host:port``; anything else is refused up front."""
    if address in ("local", "auto") or address.startswith("ray://"):
        return address
    raise UpscaleError(f"--ray {address}: give local, auto or ray://HOST:PORT")


@contextmanager
def ray_session(address: str) -> Iterator[ModuleType]:
    """Ray, connected to ``address`` for the block (an existing connection is reused)."""
    check_address(address)
    ray = import_ray()
    if ray.is_initialized():  # a Python caller (or a test) connected already
        _quiet_data(ray)
        yield ray
        return
    # Through Ray Client the run itself is a task on the cluster: its output is our output.
    client = address.startswith("ray://")
    options: dict = {"logging_level": logging.WARNING, "log_to_driver": client}
    if address == "local":
        options["include_dashboard"] = False
    try:
        ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UpscaleError(f"--ray {address}: cannot connect: {exc}") from exc
    try:
        _quiet_data(ray)
        yield ray
    finally:
        ray.shutdown()


def is_client(address: str) -> bool:
    return address.startswith("ray://")


def run_on_cluster(address: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` on a cluster node, for a ``ray://`` address.

    Ray Data cannot run a dataset from a Ray Client connection, so there the
    whole driver (plan, dataset, report) runs as one task on the cluster, joining
    it as ``auto``; its progress and summary are forwarded here. Paths must
    mean the same on the cluster, as for any run.
    """
    with ray_session(address) as ray, worker_errors():
        task = ray.remote(num_cpus=0, max_retries=0)(function)
        return ray.get(task.remote("auto", *args, **kwargs))


def _quiet_data(ray: ModuleType) -> None:
    """Our own progress bar replaces Ray Data's bars and execution logs."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


@contextmanager
def worker_errors() -> Iterator[None]:
    """A worker's :class:`UpscaleError` reaches the user as its own line, not a remote traceback.

    Ray wraps what a worker raises (a task error, then Ray Data's own); the
    message a user can act on is the innermost error of ours.
    """
    try:
        yield
    except Exception as exc:
        ours = _innermost_upscale_error(exc)
        if ours is None or ours is exc:
            raise
        raise UpscaleError(str(ours)) from exc


def _innermost_upscale_error(error: BaseException) -> UpscaleError | None:
    found, seen = None, set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UpscaleError) and type(current).__module__.startswith("upscale"):
            found = current
        current = getattr(current, "cause", None) or current.__cause__
    return found

