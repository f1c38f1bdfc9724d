"""Folders in, folders out: discovery, naming, overlapped stages, a resumable plan.

The CLI calls :func:`upscale_folder` when its input is a folder.
"""

from ..outputs import DEFAULT_NAME_TEMPLATE, default_output_dir
from .folder import upscale_folder
from .naming import FORMATS, TEMPLATE_FIELDS

__all__ = ["DEFAULT_NAME_TEMPLATE", "FORMATS", "TEMPLATE_FIELDS", "default_output_dir",
           "upscale_folder"]
