"""One run as the user asked for it: every option resolved and checked once, up front,
before any model loads or any lock is taken, so the CLI and Python get the same errors."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from . import limits
from .batch.naming import FORMATS
from .errors import InputError, UpscaleError
from .loading import DEFAULT_MODEL
from .loading.families import families, family_of
from .loading.registry import find_model
from .outputs import DEFAULT_NAME_TEMPLATE, check_scale
from .video import media_kind
from .video.encode import EncoderSettings


class InputKind(enum.Enum):
    """Which road an input takes."""

    IMAGE = "image"
    FOLDER = "folder"
    VIDEO = "video"


@dataclass(frozen=True)
class NetworkChoice:
    """The network the options name: a model, a family member, or a blended pair (α)."""

    model: str = DEFAULT_MODEL
    alpha: float | None = None
    psnr_model: str | None = None
    gan_model: str | None = None

    def check(self) -> None:
        """A pair, an α and a family that fit together, before any weights are read."""
        if self.alpha is not None:
            limits.check_alpha(self.alpha)
        if self.psnr_model or self.gan_model:
            if not (self.psnr_model and self.gan_model):
                raise UpscaleError("--psnr-model and --gan-model go together: give both")
            if self.alpha is None:
                raise UpscaleError(
                    "--psnr-model/--gan-model need --alpha (0 = PSNR end, 1 = GAN end)")
        elif self.alpha is not None and family_of(self.model) is None:
            raise UpscaleError(
                f"{self.model}: --alpha needs a model family with a PSNR and a GAN member "
                f"({', '.join(families())}); for any other pair give --psnr-model A "
                "--gan-model B")

    def label(self) -> str:
        """How reports name it: ``realesrgan-x4plus``, ``... α=0.8``, ``A+B α=0.5``."""
        if self.psnr_model and self.gan_model:
            return f"{self.psnr_model}+{self.gan_model} α={self.alpha:g}"
        return self.model if self.alpha is None else f"{self.model} α={self.alpha:g}"


@dataclass(frozen=True)
class Request:
    """Everything one run needs, resolved and checked; built by :func:`make_request`."""

    input: Path
    kind: InputKind
    output: Path | None
    output_is_folder: bool  # -o ended in a separator: a folder, even if it does not exist yet
    network: NetworkChoice
    scale: float | None  # None: the network's own output scale
    device: str
    precision: str
    tile: int
    tile_pad: int | None
    quality: int | None
    format: str
    name_template: str
    recursive: bool
    glob: tuple[str, ...]
    skip_existing: bool
    overwrite: bool
    restart: bool
    dry_run: bool
    quiet: bool
    max_pixels: int
    encoder: EncoderSettings
    ray: str | None
    max_output_pixels: int = limits.DEFAULT_MAX_OUTPUT_PIXELS
    known_scale: float | None = None  # the output scale, where known before the network loads


def make_request(input: str | os.PathLike, *, output: str | os.PathLike | None = None,  # noqa: A002
                 scale: float | None = None, model: str = DEFAULT_MODEL,
                 alpha: float | None = None, psnr_model: str | None = None,
                 gan_model: str | None = None, device: str = "auto",
                 precision: str = "auto", tile: int = 0, tile_pad: int | None = None,
                 quality: int | None = None, format: str = "png",  # noqa: A002
                 name_template: str | None = None, recursive: bool = False,
                 glob: tuple[str, ...] | list[str] = (), skip_existing: bool = True,
                 overwrite: bool = False, restart: bool = False,
                 dry_run: bool = False, quiet: bool = False,
                 max_pixels: int = limits.DEFAULT_MAX_PIXELS, codec: str = "libx264",
                 crf: int | None = None, preset: str | None = None,
                 pix_fmt: str | None = None, ray: str | None = None,
                 max_output_pixels: int = limits.DEFAULT_MAX_OUTPUT_PIXELS) -> Request:
    """The checked request for these options; :class:`UpscaleError` names the first problem.
    Unfinished video work is always continued; ``restart`` discards it."""
    input_path = Path(input)
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file or folder")
    check_scale(scale)
    limits.check_tile_options(tile, tile_pad)
    limits.check_quality(quality)
    limits.check_pixel_limit(max_pixels, "--max-pixels")
    limits.check_pixel_limit(max_output_pixels, "--max-output-pixels")
    if format not in FORMATS:
        raise UpscaleError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    network = NetworkChoice(model, alpha, psnr_model, gan_model)
    network.check()
    entry = None if psnr_model or Path(model).expanduser().exists() else find_model(model)
    known = float(scale) if scale is not None else entry and float(entry.scale)
    encoder = EncoderSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt)
    text = None if output is None else os.fspath(output)
    return Request(
        input=input_path, kind=input_kind(input_path),
        output=None if text is None else Path(text),
        output_is_folder=text is not None and text.endswith(("/", os.sep)),
        network=network, scale=None if scale is None else float(scale), known_scale=known,
        device=device, precision=precision, tile=tile, tile_pad=tile_pad, quality=quality,
        format=format, name_template=name_template or DEFAULT_NAME_TEMPLATE,
        recursive=recursive, glob=tuple(glob), skip_existing=skip_existing, overwrite=overwrite,
        restart=restart, dry_run=dry_run, quiet=quiet, max_pixels=max_pixels, encoder=encoder,
        ray=ray, max_output_pixels=max_output_pixels)


def input_kind(path: Path) -> InputKind:
    """A folder, a video (by content, as ffmpeg sees it) or an image."""
    kind = "folder" if path.is_dir() else media_kind(path)
    if kind == "no video":
        raise InputError(f"{path}: not a readable video (no video stream)")
    return InputKind(kind) if kind in ("folder", "video") else InputKind.IMAGE
