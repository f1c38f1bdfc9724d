"""Where each input's output goes (the output tree mirrors the input tree), never outside
the output folder, whatever a template (``..``, a root) or a planted symlink says."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UpscaleError
from ..imaging.read import GIF_SUFFIX
from ..outputs import format_scale

TEMPLATE_FIELDS = ("stem", "scale", "ext", "src_ext")  # src_ext: the input's extension
FORMATS = ("png", "jpg", "webp", "same")


@dataclass(frozen=True)
class OutputNaming:
    """Maps an input file (relative to the input folder) to its output path."""

    output_dir: Path
    scale: float
    format: str  # one of FORMATS
    template: str

    def __post_init__(self) -> None:
        check_template(self.template)

    def image_suffix(self, source: Path) -> str:
        """The output extension for an image: the chosen format, or the input's for 'same'."""
        if self.format != "same":
            return f".{self.format}"
        return ".png" if source.suffix.lower() == GIF_SUFFIX else source.suffix

    def target(self, relative_source: Path, suffix: str) -> Path:
        """The output path, checked for ``..`` and roots."""
        name = self.template.format(stem=relative_source.stem, scale=format_scale(self.scale),
                                    ext=suffix.lstrip("."),
                                    src_ext=relative_source.suffix.lstrip("."))
        relative = PurePosixPath(*relative_source.parent.parts, *name.replace("\\", "/").split("/"))
        check_relative(relative, f"output name {name!r} for {relative_source}")
        return self.output_dir / relative


def check_template(template: str) -> None:
    """Refuse templates with unknown fields, or that would put every file at one name."""
    try:
        parsed = string.Formatter().parse(template)
        fields = {field for _, field, _, _ in parsed if field is not None}
    except ValueError as exc:
        raise UpscaleError(f"--name-template {template!r}: {exc}") from exc
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)
        raise UpscaleError(f"--name-template {template!r}: unknown field "
                           f"{{{sorted(unknown)[0]}}}; use {known}")
    if "stem" not in fields:
        raise UpscaleError(f"--name-template {template!r} must contain {{stem}}, "
                           "or every output would get the same name")
    check_relative(PurePosixPath(template.replace("\\", "/")), f"--name-template {template!r}")


def check_relative(relative: PurePosixPath, what: str) -> None:
    """A relative path with no ``..``, no root, no empty or NUL parts."""
    text = str(relative)
    if relative.is_absolute() or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UpscaleError(f"{what}: absolute paths are not allowed in output names")
    if any(part == ".." for part in relative.parts):
        raise UpscaleError(f"{what}: '..' would leave the output folder")
    if "\x00" in text or not relative.parts:
        raise UpscaleError(f"{what}: not a usable file name")


def make_output_folders(target: Path, root: Path, *, create: bool = True) -> None:
    """Create ``target``'s folders under ``root``, each checked before the next is made, so a
    symlink planted there (``out/sub -> /etc``) is refused; ``create=False`` only checks."""
    real_root = Path(os.path.realpath(root))
    current = root
    for part in target.relative_to(root).parent.parts:
        current = current / part
        if not current.is_symlink() and not current.exists():
            if not create:
                return  # nothing below a missing folder can be a symlink yet
            current.mkdir(exist_ok=True)
        real = Path(os.path.realpath(current))
        if real != real_root and real_root not in real.parents:
            raise UpscaleError(f"{target}: the output folder {current} leads outside "
                               f"{root} (to {real}); refusing to write there")
        if not real.is_dir():
            raise UpscaleError(f"{target}: {current} is not a folder")
    if target.is_symlink():
        raise UpscaleError(f"{target}: the output is a symlink; refusing to write through it")
