"""OpenCV, imported once with its console warnings off: we report decode problems ourselves."""

import contextlib
import os

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402

with contextlib.suppress(AttributeError):  # builds without the logging submodule
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

__all__ = ["cv2"]
