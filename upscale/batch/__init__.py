"""Folders in, folders out: discovery, naming, overlapped stages, a resumable plan."""

from .folder import upscale_folder

__all__ = ["upscale_folder"]
