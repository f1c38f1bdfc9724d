"""``http(s)`` sources: download once into the user cache, verified by sha256 when known.

The expected hash comes from the manifest (the full digest) or from the file
name: BasicSR and ``torch.hub`` name release files ``<stem>-<first 8+ hex
digits of sha256>.pth`` (e.g. ``ESRGAN_SRx4_DF2KOST_official-ff704c30.pth``).
A file that does not match is deleted and refused: it is either corrupt or
not the file the name promises.
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
CHUNK = 1 << 20


class SourceUnavailable(UpscaleError):
    """A source that cannot deliver the file now (offline, unreachable, missing)."""


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def url_filename(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    return name or "download"


def expected_sha256(url: str, sha256: str | None = None) -> str | None:
    """The full digest, or the hex prefix carried by a BasicSR-style file name."""
    if sha256:
        return sha256.lower()
    match = HASH_IN_NAME.search(url_filename(url))
    return match.group(1) if match else None


def cached_path(url: str) -> Path:
    """Where a URL's file lives in the cache; siblings (.param/.bin) share a folder."""
    folder = url.rsplit("/", 1)[0]
    key = hashlib.sha256(folder.encode()).hexdigest()[:16]
    return cache_root() / "downloads" / key / url_filename(url)


def _fetch(url: str, target: Path, expected: str | None) -> None:
    def stream_into(tmp: Path) -> None:
        digest = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": "upscale"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, \
                open(tmp, "wb") as out:
            while block := response.read(CHUNK):
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
        if created and not target.exists():
            _remove_empty_folders(target.parent)


def _remove_empty_folders(folder: Path) -> None:
    """A failed first download leaves no empty folders behind in the cache."""
    root = cache_root()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
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
        _fetch(item, path, expected_sha256(item, sha256 if item == url else None))
    return target
