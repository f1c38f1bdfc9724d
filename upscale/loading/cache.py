"""The user cache: ``$UPSCALE_CACHE``, else ``$XDG_CACHE_HOME/upscale``, else
``~/.cache/upscale``; downloads, conversions, blends and measurements live there."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


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
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("UPSCALE_OFFLINE", "HF_HUB_OFFLINE"))


def sha256_of(*paths: Path) -> str:
    """Hex sha256 of the files' bytes, concatenated in order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
