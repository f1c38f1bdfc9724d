"""Show an evaluation as a table, or save it as JSON for scripts and later comparison.

An identical output's infinite PSNR (and so the mean's: no finite one is honest) shows
as "∞", and is the string "inf" in JSON, which has no infinity.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..outputs import write_bytes_atomically
from .protocol import EvalReport


def format_psnr(value: float) -> str:
    return "∞" if math.isinf(value) else _decimals(value, 2)


def _decimals(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def print_report(report: EvalReport, console: Console) -> None:
    """One row per image, then the mean; timings are upscaling only, wall time in the caption."""
    title = f"{report.method} ×{report.scale}"
    if report.dataset:
        title += f" on {report.dataset}"
    title += f", {report.degradation} degradation"
    if report.degradation != "bicubic":
        title += f" (seed {report.seed})"
    table = Table(title=title, caption=f"wall time {report.wall_seconds:.1f} s",
                  caption_justify="right")
    table.add_column("image")
    for heading in ("size (HR)", "PSNR (dB)", "SSIM", "time (s)"):
        table.add_column(heading, justify="right")
    for score in report.scores:
        table.add_row(score.name, f"{score.width}×{score.height}", format_psnr(score.psnr),
                      _decimals(score.ssim, 4), f"{score.seconds:.2f}")
    table.add_section()
    total = sum(s.seconds for s in report.scores)
    table.add_row("[bold]mean[/bold]", "", f"[bold]{format_psnr(report.mean_psnr)}[/bold]",
                  f"[bold]{_decimals(report.mean_ssim, 4)}[/bold]", f"{total:.2f}")
    console.print(table)


def _json_number(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    return "inf" if math.isinf(value) else round(value, 6)


def report_dict(report: EvalReport) -> dict[str, Any]:
    """Plain JSON-safe data: infinite PSNR is written as the string "inf"."""
    return {
        **{key: getattr(report, key) for key in ("dataset", "method", "scale", "degradation",
                                                  "seed")},
        "protocol": "Y channel (BT.601, MATLAB rgb2ycbcr), border shaved by scale, "
                    "SSIM Gaussian 11x11 sigma 1.5",
        "images": [
            {"name": s.name, "width": s.width, "height": s.height, "psnr": _json_number(s.psnr),
             "ssim": _json_number(s.ssim), "seconds": round(s.seconds, 4)}
            for s in report.scores
        ],
        "mean": {"psnr": _json_number(report.mean_psnr), "ssim": _json_number(report.mean_ssim)},
        "wall_seconds": round(report.wall_seconds, 3),
    }


def write_json(report: EvalReport, path: str | os.PathLike) -> Path:
    """Write (replacing) ``path`` atomically, so a reader never sees half a report."""
    path = Path(path)
    text = json.dumps(report_dict(report), indent=2, allow_nan=False) + "\n"
    write_bytes_atomically(path, text.encode(), overwrite=True)
    return path
