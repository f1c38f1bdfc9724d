"""``hf://owner/repo[@revision]/path/file`` sources, through ``huggingface_hub``.

Files stay in the Hub's own cache, shared with every other Hub-aware tool. The cache
location and ``HF_HUB_OFFLINE`` are read at call time (``huggingface_hub`` reads them
once, at import), so a program that sets them after importing us is still obeyed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from ..errors import UpscaleError
from .download import SourceUnavailable

PREFIX = "hf://"


def parse(spec: str) -> tuple[str, str, str | None]:
    """``hf://owner/repo[@rev]/path/file`` -> (repo_id, filename, revision)."""
    parts = spec[len(PREFIX):].strip("/").split("/")
    if len(parts) < 3 or not all(parts):
        raise UpscaleError(f"{spec}: a Hub reference is hf://owner/repo/path/to/file")
    repo, _, revision = parts[1].partition("@")
    return f"{parts[0]}/{repo}", "/".join(parts[2:]), revision or None


def hub_cache_dir() -> Path:
    """The Hub cache, as ``huggingface_hub`` would compute it from the environment now."""
    if explicit := os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(explicit).expanduser()
    if home := os.environ.get("HF_HOME"):
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def cached(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    """The file if the Hub cache already holds it, without touching the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir(),
                                   revision=revision)
    return Path(found) if isinstance(found, str) else None


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hub (``HF_ENDPOINT``) answers a TCP connection now: huggingface_hub
    retries an unreachable host for about 25 s; a machine with no route hears so at once."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    parsed = urllib.parse.urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_warnings_silenced() -> Iterator[None]:
    """huggingface_hub's retry warnings are raw log lines; our error says it in one."""
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_logger.setLevel(level)


def _one(repo_id: str, filename: str, revision: str | None, offline: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"hf://{repo_id}/{filename}"
    local_only = offline or not hub_reachable()
    try:
        with _hub_warnings_silenced():
            return Path(hf_hub_download(repo_id, filename, revision=revision,
                                        cache_dir=hub_cache_dir(), local_files_only=local_only))
    except LocalEntryNotFoundError as exc:
        why = "running offline" if offline else "the Hub could not be reached"
        raise SourceUnavailable(f"{where}: not in the Hub cache and {why}") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        raise SourceUnavailable(f"{where}: no such file on the Hub") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceUnavailable(f"{where}: Hub download failed ({first})") from exc


def hub_download(repo_id: str, filename: str, revision: str | None = None, *,
                 offline: bool = False) -> Path:
    """The local file for a Hub file (and its ncnn .bin sibling for a .param)."""
    path = _one(repo_id, filename, revision, offline)
    if filename.endswith(".param"):
        _one(repo_id, filename[: -len(".param")] + ".bin", revision, offline)
    return path
