"""``http(s)`` sources: downloaded once into the user cache, checked by sha256 when known.

The digest comes from the manifest, or from the file name: BasicSR and ``torch.hub`` name
release files ``<stem>-<first 8+ hex digits of sha256>.pth``. A file that does not match
is deleted and refused.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..errors import UpscaleError
from ..outputs import write_atomically
from .cache import cache_root

HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
TIMEOUT_S = 30


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
