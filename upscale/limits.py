"""Limits that protect the user's machine, in a module light enough for the CLI to import.

An image's decoded size is known from its header; above ``DEFAULT_MAX_PIXELS`` input
pixels (200 MP, a ×4 result of 3.2 gigapixels) it is refused before any large allocation,
and ``--max-pixels`` raises the limit for a machine that has the memory.
"""

from .errors import UpscaleError

DEFAULT_MAX_PIXELS = 200_000_000


def check_tile_options(tile: int, tile_pad: int | None) -> None:
    """``--tile`` 0 means automatic; a tile and its context are never negative."""
    if tile < 0:
        raise UpscaleError(f"--tile must be 0 (automatic) or a size in pixels, not {tile}")
    if tile_pad is not None and tile_pad < 0:
        raise UpscaleError(f"--tile-pad must be 0 or more, not {tile_pad}")


def check_max_pixels(max_pixels: int | None) -> None:
    """``--max-pixels`` is a number of pixels: at least one."""
    if max_pixels is not None and max_pixels < 1:
        raise UpscaleError(f"--max-pixels must be a positive number of pixels, not {max_pixels}")


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
