"""ncnn itself, as the oracle our reading of ``.param``/``.bin`` files is checked against.

It lives with the tests (and ``bench/speed.py`` borrows it) because the library
never runs ncnn: it only reads ncnn's files into PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import ncnn


def reference_ncnn_net(param: Path, binary: Path, *, threads: int = 2) -> ncnn.Net:
    """The same files run by the ``ncnn`` PyPI package on the CPU, fp32 throughout.

    Every fp16/bf16 shortcut is off, so differences come from the conversion alone.
    """
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_packed = False
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = threads
    for load, path in ((net.load_param, param), (net.load_model, binary)):
        if load(str(path)) != 0:
            raise RuntimeError(f"{path}: ncnn could not read it")
    return net
