"""Remote sources: ``http(s)`` URLs, downloaded once into the user cache and refused unless
their sha256 matches when it is known (the manifest's, or the prefix BasicSR and torch.hub
put in release file names), and ``hf://`` files, kept in the Hub's own cache."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..errors import UpscaleError
from ..outputs import write_atomically
from .cache import cache_root

HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
TIMEOUT_S = 30
HUB_PREFIX = "hf://"


class SourceUnavailable(UpscaleError):
    """A source that cannot deliver the file now (offline, unreachable, missing)."""


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def cached_path(url: str) -> Path:
    """Where a URL's file lives in the cache; siblings (.param/.bin) share a folder."""
    folder = url.rsplit("/", 1)[0]
    key = hashlib.sha256(folder.encode()).hexdigest()[:16]
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    return cache_root() / "downloads" / key / (name or "download")


def _fetch(url: str, target: Path, expected: str | None) -> None:
    def stream_into(tmp: Path) -> None:
        digest = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": "upscale"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, \
                open(tmp, "wb") as out:
            while block := response.read(1 << 20):
                digest.update(block)
                out.write(block)
        actual = digest.hexdigest()
        if expected and not actual.startswith(expected):
            raise UpscaleError(
                f"{url}: refused: its sha256 is {actual[:16]}…, expected {expected[:16]}…; "
                "the downloaded file was deleted")

    created = not target.parent.exists()
    try:
        write_atomically(target, stream_into)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SourceUnavailable(f"{url}: download failed ({reason})") from exc
    finally:
        # a failed first download leaves no empty folders behind in the cache
        folder, root = target.parent, cache_root()
        while created and not target.exists() and folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def download(url: str, *, sha256: str | None = None, offline: bool = False) -> Path:
    """The cached file for ``url``, downloading it (and an ncnn .bin sibling) if needed."""
    target = cached_path(url)
    urls = [url]
    if target.suffix == ".param":
        urls.append(url[: -len(".param")] + ".bin")
    for item in urls:
        path = cached_path(item)
        if path.is_file():
            continue
        if offline:
            raise SourceUnavailable(f"{item}: not downloaded yet and running offline")
        expected = sha256.lower() if sha256 and item == url else None
        if expected is None and (named := HASH_IN_NAME.search(path.name)):
            expected = named.group(1)
        _fetch(item, path, expected)
    return target


def parse_hub(spec: str) -> tuple[str, str, str | None]:
    """``hf://owner/repo[@rev]/path/file`` -> (repo_id, filename, revision)."""
    parts = spec[len(HUB_PREFIX):].strip("/").split("/")
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


def hub_cached(repo_id: str, filename: str) -> Path | None:
    """The file if the Hub cache already holds it, without touching the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir())
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


def _one(repo_id: str, filename: str, revision: str | None, offline: bool) -> Path:
    from huggingface_hub import errors, hf_hub_download

    where = f"hf://{repo_id}/{filename}"
    local_only = offline or not hub_reachable()
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)  # its retry warnings are raw log lines; ours is one
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision,
                                    cache_dir=hub_cache_dir(), local_files_only=local_only))
    except errors.LocalEntryNotFoundError as exc:
        why = "running offline" if offline else "the Hub could not be reached"
        raise SourceUnavailable(f"{where}: not in the Hub cache and {why}") from exc
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError,
            errors.EntryNotFoundError) as exc:
        raise SourceUnavailable(f"{where}: no such file on the Hub") from exc
    except (errors.HfHubHTTPError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceUnavailable(f"{where}: Hub download failed ({first})") from exc
    finally:
        hub_logger.setLevel(level)


def hub_download(repo_id: str, filename: str, revision: str | None = None, *,
                 offline: bool = False) -> Path:
    """The local file for a Hub file (and its ncnn .bin sibling for a .param)."""
    path = _one(repo_id, filename, revision, offline)
    if filename.endswith(".param"):
        _one(repo_id, filename[: -len(".param")] + ".bin", revision, offline)
    return path
