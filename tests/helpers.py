"""Tiny networks with known behaviour, written by the tests themselves."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from upscale.archs import describe
from upscale.archs.rrdbnet import RRDBNet
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.model import ModelDescriptor, SizeRequirements


def tiny_rrdbnet(scale: int = 4, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(scale=scale, num_block=1, num_feat=8, num_grow_ch=4).eval()


def tiny_srvgg(scale: int = 2, seed: int = 0) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    return SRVGGNetCompact(num_feat=4, num_conv=1, scale=scale).eval()


def nearest_upsampler(scale: int = 2) -> SRVGGNetCompact:
    """An SRVGGNetCompact whose convolutions are zero: it is exactly nearest upsampling."""
    net = SRVGGNetCompact(num_feat=4, num_conv=1, scale=scale).eval()
    with torch.no_grad():
        for param in net.parameters():
            param.zero_()
    return net


def wrapped(network: nn.Module, wrapper: nn.Module) -> ModelDescriptor:
    """``network``'s descriptor with ``wrapper`` (which calls it) as the module that runs."""
    return dataclasses.replace(describe(network), module=wrapper)


def custom_model(module: nn.Module, *, scale: int, multiple_of: int = 1,
                 receptive_radius: float = 0.0) -> ModelDescriptor:
    """The descriptor of a test-only architecture (3 channels in and out)."""
    return ModelDescriptor(module=module.eval(), architecture=type(module).__name__, scale=scale,
                           in_channels=3, out_channels=3,
                           size=SizeRequirements(multiple_of=multiple_of),
                           receptive_radius=receptive_radius, hyperparameters={})


def peak_tensor_bytes(run) -> int:
    """The most bytes of tensor memory alive at once while ``run()`` runs (CPU allocations,
    as torch's profiler records them; what was alive before does not count)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    changes = sorted((event.start_ns(), event.nbytes())
                     for event in prof.profiler.kineto_results.events()
                     if event.name() == "[memory]")
    live = peak = 0
    for _start, nbytes in changes:
        live += nbytes
        peak = max(peak, live)
    return peak


def run_main(*args) -> int:
    """The exit status of ``upscale ARGS``, run in-process as the installed command runs."""
    from upscale.cli import main

    try:
        main([str(arg) for arg in args])
    except SystemExit as exited:
        return exited.code
    return 0


def folder_request(src, out, **options):
    """A folder run's request from ``upscale_folder``'s old keywords (a single ``glob``
    string is one pattern), and the keywords that stay the call's own."""
    from upscale.request import make_request

    call = {key: options.pop(key) for key in list(options)
            if key in ("load_network", "prefetch", "stdout", "stderr", "videos", "executor")}
    if isinstance(options.get("glob"), str):
        options["glob"] = (options["glob"],)
    if "load_network" in call:  # a name no registry knows: the scale comes from the network
        options.setdefault("model", "the test's own network")
    return make_request(src, output=out, **options), call


def run_folder(src, out, **options) -> int:
    """``upscale_folder`` on the request these options make."""
    from upscale.batch import upscale_folder

    request, call = folder_request(src, out, **options)
    return upscale_folder(request, **call)
