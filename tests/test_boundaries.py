"""Which part of the code may import which: the rules a reader relies on, as tests."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT

# The only imports put off until a run needs them: each is heavy, optional, or both.
LAZY = ("torch", "ray", "numba", "openvino")


def test_the_library_never_imports_the_cli():
    offenders = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted((REPO_ROOT / "upscale").rglob("*.py"))
        if path.parent.name != "cli" and path.name != "__main__.py"
        and any(text in path.read_text() for text in ("from .cli", "from ..cli", "upscale.cli"))
    ]
    assert offenders == []


def imported_after(modules: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after importing ``modules``."""
    code = (f"import sys, {modules}; "
            f"print(sorted(m for m in {watched!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, check=True)
    return eval(result.stdout)  # noqa: S307 - our own print of a list of names


def test_the_cli_starts_without_the_lazy_imports_numpy_or_opencv():
    """``upscale --help`` and every usage error answer at once (numpy and OpenCV wait too)."""
    assert imported_after("upscale.cli, upscale.request", (*LAZY, "numpy", "cv2")) == []


def test_planning_a_run_needs_none_of_the_lazy_imports():
    """A folder's or video's plan, and a Ray driver, are made without torch, Ray, numba or
    OpenVINO; only the code that runs a network, or a cluster, imports them."""
    modules = ("upscale.distributed, upscale.batch, upscale.video, upscale.video.file, "
               "upscale.files, upscale.outputs, upscale.loading, upscale.request")
    assert imported_after(modules, LAZY) == []
