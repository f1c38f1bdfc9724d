"""Reading and writing image files, and the pixel-level steps around the network.

Arrays are numpy, channel order RGB(A), dtype uint8 or uint16 as stored
(float32 for float formats). Grayscale stays 2-D.
"""

from .channels import bleed_transparent_colour, split_alpha
from .read import GIF_SUFFIX, read_image
from .resize import resize_to
from .write import IMAGE_SUFFIXES, write_image

INPUT_SUFFIXES = (*IMAGE_SUFFIXES, GIF_SUFFIX)  # what a folder run reads as images

__all__ = ["IMAGE_SUFFIXES", "INPUT_SUFFIXES", "bleed_transparent_colour", "read_image",
           "resize_to", "split_alpha", "write_image"]
