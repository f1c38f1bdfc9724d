"""Where downloaded and converted weights live, and how files get there safely.

Everything goes under one user cache directory (``$UPSCALE_CACHE``, else
``$XDG_CACHE_HOME/upscale``, else ``~/.cache/upscale``). Files are written
under a temporary name and renamed into place, so an interrupted download or
conversion never leaves a half-written file under a name that later runs trust.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

TRUTHY = ("1", "true", "yes", "on")


def cache_root() -> Path:
    """The user cache directory for upscale (not created here)."""
    if explicit := os.environ.get("UPSCALE_CACHE"):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "upscale"


def is_offline(offline: bool | None = None) -> bool:
    """An explicit choice wins; otherwise ``UPSCALE_OFFLINE`` or ``HF_HUB_OFFLINE``."""
    if offline is not None:
        return offline
    return any(os.environ.get(name, "").strip().lower() in TRUTHY
               for name in ("UPSCALE_OFFLINE", "HF_HUB_OFFLINE"))


def sha256_of(*paths: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of the files' bytes, concatenated in order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()


