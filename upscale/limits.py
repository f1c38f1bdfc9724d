"""Limits that protect the user's machine, in a module light enough for the CLI to import:
inputs over ``--max-pixels`` (from their header), and outputs their format cannot hold,
over ``--max-output-pixels`` or larger than the free space on their disk."""

import os
import shutil
from pathlib import Path

from .errors import UpscaleError

DEFAULT_MAX_PIXELS = 200_000_000


def check_tile_options(tile: int, tile_pad: int | None) -> None:
    """``--tile`` 0 means automatic; a tile and its context are never negative."""
    if tile < 0:
        raise UpscaleError(f"--tile must be 0 (automatic) or a size in pixels, not {tile}")
    if tile_pad is not None and tile_pad < 0:
        raise UpscaleError(f"--tile-pad must be 0 or more, not {tile_pad}")


def check_pixel_limit(limit: int | None, option: str) -> None:
    """``--max-pixels`` and ``--max-output-pixels`` are numbers of pixels: at least one."""
    if limit is not None and limit < 1:
        raise UpscaleError(f"{option} must be a positive number of pixels, not {limit}")


def check_quality(quality: int | None) -> None:
    """JPEG and WebP quality, as their encoders count it."""
    if quality is not None and not 1 <= quality <= 100:
        raise UpscaleError(f"--quality must be between 1 and 100, not {quality}")


def check_alpha(alpha: float) -> float:
    """α of a blend: 0 is the PSNR network, 1 the GAN network, nothing outside."""
    value = float(alpha)
    if not 0.0 <= value <= 1.0:
        raise UpscaleError(
            f"--alpha must be between 0 (the PSNR network) and 1 (the GAN network), not {alpha}")
    return value


# Frames per network call, by device type (any other device: MAX_GPU_BATCH). On a GPU a
# batch keeps the device busy; on a CPU each convolution already uses every core, so a
# batch only costs memory. The video decoder batches frames by the same rule.
BATCH_LIMITS = {"cpu": 1}
MAX_GPU_BATCH = 8


def frames_per_batch(device_type: str) -> int:
    """The most frames one forward pass takes on this kind of device."""
    return BATCH_LIMITS.get(device_type, MAX_GPU_BATCH)


# Above this many output pixels a run is refused unless --max-output-pixels raises it. A
# large image streams in bounded memory, so the limit is not about memory but about a typo
# or a huge input costing hours of compute and tens of GB of disk: 2 gigapixels is a 100 MP
# scan at ×4 (about half an hour on a CPU), while 14000×14000 at ×4 (3.1 GP) is refused.
DEFAULT_MAX_OUTPUT_PIXELS = 2_000_000_000

# The largest side each output format can hold (WebP's 14-bit fields, JPEG's 16-bit ones;
# PNG's are 31-bit, TIFF's 32-bit).
MAX_OUTPUT_SIDE = {".webp": 16383, ".jpg": 65535, ".jpeg": 65535, ".png": 2**31 - 1,
                   ".bmp": 2**31 - 1, ".tif": 2**32 - 1, ".tiff": 2**32 - 1}
# Encoded bytes per raw byte of an upscaled photo, to compare with the free disk space
# (a 12000×8000 upscale: PNG 0.51, LZW TIFF 0.60, JPEG q95 0.074). Upscaled images are
# smooth and compress well; a refusal means the file would not fit even so.
COMPRESSED_FRACTION = {".webp": 0.3, ".jpg": 0.07, ".jpeg": 0.07, ".png": 0.5, ".bmp": 1.0,
                       ".tif": 0.6, ".tiff": 0.6}


def check_output_image(target: Path, width: int, height: int, *, channels: int = 3,
                       sample_bytes: int = 1, max_output_pixels: int | None = None,
                       source: Path | None = None) -> None:
    """Refuse, before any work, an output the format cannot hold, larger than
    ``max_output_pixels``, or that would not fit in the free space of its disk."""
    what = f"{source}: its output {target.name}" if source is not None else str(target)
    size = f"{width}×{height}"
    if max_output_pixels and width * height > max_output_pixels:
        raise UpscaleError(
            f"{what} would be {size} ({width * height / 1e6:.0f} MP), over the "
            f"{max_output_pixels / 1e6:g} MP output limit; use a smaller -s, or raise the "
            "limit with --max-output-pixels")
    suffix = target.suffix.lower()
    side = MAX_OUTPUT_SIDE.get(suffix)
    if side is not None and max(width, height) > side:
        raise UpscaleError(
            f"{what} would be {size}, and {suffix.lstrip('.').upper()} holds at most "
            f"{side}×{side}; write PNG or TIFF, or use a smaller -s")
    raw = width * height * channels * sample_bytes
    needed = raw * COMPRESSED_FRACTION.get(suffix, 1.0)
    free = _free_space(target.parent)
    if free is not None and needed > free:
        raise UpscaleError(
            f"{what} would be {size}, about {needed / 1e9:.1f} GB, and {target.parent} has "
            f"{free / 1e9:.1f} GB free; free some space, or write it elsewhere with -o")


def nearest_existing(path: Path) -> Path:
    """``path``, or the nearest folder above it that exists (where it would be created)."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _free_space(folder: Path) -> int | None:
    """Bytes free where ``folder`` is (or would be created); None where it cannot be known."""
    try:
        usage = shutil.disk_usage(nearest_existing(folder))
    except OSError:
        return None
    return usage.free if usage.total else None  # /proc and kin report no size at all
