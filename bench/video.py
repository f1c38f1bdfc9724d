"""Video pipeline overhead: end-to-end fps against the network alone, in one run.

Both numbers use the same network, the same frames and the same frame
function; the only difference is that "in memory" runs on frames decoded
beforehand and writes nothing, while "end to end" decodes, upscales, encodes
and muxes the clip. The overhead is their ratio (in-memory fps / end-to-end
fps); with I/O overlapped with compute it should stay at or below 1.10.

    python bench/video.py                      # 480p, 5 s, realesr-animevideov3, x4
    python bench/video.py --seconds 1          # shorter, for a slow CPU

Only the ratio means anything; absolute fps depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from upscale.video import probe, run_video  # noqa: E402
from upscale.video.decode import FrameReader  # noqa: E402
from upscale.video.ffmpeg.binary import ffmpeg_exe  # noqa: E402


def load_network(name: str) -> tuple[torch.nn.Module, str]:
    """The real weights when they can be had offline, else the same shape, random-init."""
    try:
        from upscale.loading import load_model

        return load_model(name, offline=True), "real weights"
    except Exception as exc:  # noqa: BLE001 - any failure means: no weights here
        from upscale.archs.srvgg import SRVGGNetCompact

        torch.manual_seed(0)
        reason = f"random init ({type(exc).__name__})"
        return SRVGGNetCompact(num_feat=64, num_conv=16, scale=4).eval(), reason


def frame_function(network: torch.nn.Module, device: str):
    """(N,H,W,3) uint8 -> (N,4H,4W,3) uint8 through the run layer, as the video command does
    (so on a CPU this is the OpenVINO engine)."""
    from upscale.run import prepare_network, run_frames

    prepared = prepare_network(network, device=device)

    def upscale_frames(frames: np.ndarray, source_bits: int = 8) -> np.ndarray:
        return run_frames(prepared, frames, source_bits=source_bits)

    return upscale_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="realesr-animevideov3")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", default="854x480")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--preset", default="veryfast", help="x264 preset for the output")
    args = parser.parse_args()

    network, origin = load_network(args.model)
    upscale_frames = frame_function(network, args.device)
    scale = network.scale
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "clip.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={args.size}:rate=24:duration={args.seconds}",
                        "-f", "lavfi", "-i", f"sine=duration={args.seconds}",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)],
                       check=True)
        info = probe(source)
        reader = FrameReader(info, "rgb24")
        frames = np.concatenate(list(reader.batches(64)))
        reader.finish()
        upscale_frames(frames[: args.batch])  # warm-up, not timed

        started = time.perf_counter()
        for start in range(0, len(frames), args.batch):
            upscale_frames(frames[start:start + args.batch])
        memory_fps = len(frames) / (time.perf_counter() - started)

        from upscale.video import EncoderSettings

        started = time.perf_counter()
        run_video(source, Path(tmp) / "clip_x4.mp4", upscale_frames,
                  out_size=lambda w, h: (w * scale, h * scale), batch_size=args.batch,
                  settings=EncoderSettings(preset=args.preset))
        end_to_end_fps = len(frames) / (time.perf_counter() - started)

    print(f"{args.model} ({origin}), x{scale}, {info.width}x{info.height}, {len(frames)} frames, "
          f"batch {args.batch}, {args.device}, torch threads {torch.get_num_threads()}")
    print(f"network on frames in memory: {memory_fps:8.3f} fps")
    print(f"end to end (decode+upscale+encode+mux): {end_to_end_fps:8.3f} fps")
    ratio = memory_fps / end_to_end_fps
    print(f"overhead ratio: {ratio:.3f} ({'ok' if ratio <= 1.10 else 'ABOVE 1.10'})")


if __name__ == "__main__":
    main()
