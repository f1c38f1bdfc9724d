"""Worst timestamp error of a variable-frame-rate video, with the ffmpeg the tool chooses.

    python bench/vfr.py                           # the ffmpeg upscale would run
    UPSCALE_FFMPEG=bundled python bench/vfr.py    # imageio-ffmpeg's binary
    UPSCALE_FFMPEG=/usr/bin/ffmpeg python bench/vfr.py

Clips are made with the bundled ffmpeg: the bug report's step (frames 40 ms,
then 100 ms apart) and random gaps of 20-120 ms, in MKV (1/1000 s ticks) and
MP4. Frames go through an identity "network" (timing is all that is measured).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import imageio_ffmpeg  # noqa: E402

from upscale.video import probe, run_video  # noqa: E402
from upscale.video.ffmpeg.binary import ffmpeg_choice  # noqa: E402

STEP = r"(if(lt(N\,13)\,N*0.04\,0.48+(N-12)*0.1))"


def random_gaps_expression(count: int, seed: int = 7) -> str:
    """A setpts expression giving frame N the sum of N random 20-120 ms gaps."""
    rng = random.Random(seed)
    stamps, now = [], 0.0
    for _ in range(count):
        stamps.append(now)
        now += rng.randint(20, 120) / 1000
    expression = "0"
    for index in range(count - 1, 0, -1):
        expression = f"if(gte(N\\,{index})\\,{stamps[index]:.3f}\\,{expression})"
    return expression


def make_clip(path: Path, seconds_expression: str, frames: int) -> Path:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=64x48:rate=25:duration={frames / 25}", "-vf",
                    f"setpts='{seconds_expression}/TB'", "-fps_mode", "passthrough",
                    "-c:v", "libx264", str(path)], check=True)
    return path


def worst_error(source: Path, output: Path) -> tuple[Fraction, Fraction]:
    before, after = probe(source), probe(output)
    assert before.frame_count == after.frame_count, (before.frame_count, after.frame_count)
    errors = [abs(a * after.time_base - b * before.time_base)
              for a, b in zip(after.timestamps, before.timestamps, strict=True)]
    errors.append(abs(after.first_pts - before.first_pts))
    return max(errors), max(before.time_base, after.time_base)


def main() -> None:
    exe, note = ffmpeg_choice()
    version = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout
    print(f"ffmpeg: {exe}\n  {version.splitlines()[0]}" + (f"\n  note: {note}" if note else ""))
    with tempfile.TemporaryDirectory() as folder:
        for label, expression, frames in (("step 40->100 ms", STEP, 30),
                                          ("random 20-120 ms", random_gaps_expression(60), 60)):
            for suffix in (".mkv", ".mp4"):
                source = make_clip(Path(folder) / f"src{suffix}", expression, frames)
                output = run_video(source, Path(folder) / f"out{suffix}", lambda f, **_: f.copy(),
                                   out_size=lambda w, h: (w, h), segment_frames=10)
                error, tick = worst_error(source, output)
                print(f"{label:17} {suffix}: {frames} frames, worst error "
                      f"{float(error) * 1000:.4f} ms (one tick: {float(tick) * 1000:.4f} ms)")
                output.unlink()


if __name__ == "__main__":
    main()
