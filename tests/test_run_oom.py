"""Running out of device memory halves the tile and redoes only the tile that failed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import tiny_srvgg, wrapped
from torch import nn

from upscale import limits
from upscale.errors import UpscaleError
from upscale.run import prepare_network, run_frames, run_network


class RunsOutOfMemory(nn.Module):
    """Wraps a network; raises a real CUDA OutOfMemoryError for inputs above ``limit`` pixels
    once ``healthy`` large inputs have gone through, as a fragmenting GPU would."""

    def __init__(self, network: nn.Module, limit: int, healthy: int = 0) -> None:
        super().__init__()
        self.inner = network
        self.limit, self.healthy = limit, healthy
        self.sizes: list[tuple[int, int]] = []  # every input that succeeded
        self.failures = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.shape[-1] * x.shape[-2]
        large = [s for s in self.sizes if s[0] * s[1] > self.limit]
        if pixels > self.limit and len(large) >= self.healthy:
            self.failures += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.sizes.append(tuple(x.shape[-2:]))
        return self.inner(x)


def as_is(flaky: RunsOutOfMemory):
    """Prepared to run its own forward (a converted CPU engine would not run its Python)."""
    return prepare_network(wrapped(flaky.inner, flaky), "cpu", "fp32", optimize=False)


@pytest.fixture
def image(rng):
    return rng.integers(0, 256, (96, 192, 3)).astype(np.uint8)


def test_out_of_memory_retries_the_failed_tile_smaller_and_keeps_finished_ones(image):
    network = tiny_srvgg(2)
    whole = run_network(prepare_network(network, "cpu", "fp32"), image)
    flaky = RunsOutOfMemory(network, limit=80 * 80, healthy=1)
    out = run_network(as_is(flaky), image, tile=96, tile_pad=3)
    assert np.abs(out.astype(int) - whole).max() <= 1  # padding 3 covers this net: exact
    assert flaky.failures == 1
    large = [s for s in flaky.sizes if s[0] * s[1] > 80 * 80]
    assert large == [(96, 99)]  # the first tile ran once and was never redone
    small = [s for s in flaky.sizes if 16 * 16 < s[0] * s[1] <= 80 * 80]
    assert len(small) == 4  # the second 96×96 tile, as four 48×48 tiles


def test_automatic_tile_recovers_from_out_of_memory(image):
    network = tiny_srvgg(2)
    whole = run_network(prepare_network(network, "cpu", "fp32"), image)
    flaky = RunsOutOfMemory(network, limit=60 * 60)
    out = run_network(as_is(flaky), image)  # tile=0: whole image first
    assert np.abs(out.astype(int) - whole).max() <= 1  # float rounding at .5 only
    assert flaky.failures >= 1


def test_out_of_memory_below_the_smallest_tile_fails_clearly(image):
    flaky = RunsOutOfMemory(tiny_srvgg(2), limit=16 * 16)  # only the 16×16 probe fits
    with pytest.raises(UpscaleError, match="out of memory"):
        run_network(as_is(flaky), image, tile=64)


def test_other_errors_are_not_mistaken_for_out_of_memory(image):
    class Broken(RunsOutOfMemory):
        def forward(self, x):
            if x.shape[-1] > 16:
                raise ValueError("a bug")
            return self.inner(x)

    with pytest.raises(ValueError, match="a bug"):
        run_network(as_is(Broken(tiny_srvgg(2), 0)), image, tile=64)


# What PyTorch raises when cuDNN or cuBLAS cannot get memory, word for word as users report it.
CUDA_LIBRARY_OUT_OF_MEMORY = [
    "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
    "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
    "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR",
    "GET was unable to find an engine to execute this computation",
    "FIND was unable to find an engine to execute this computation",
]


class RaisesLibraryError(RunsOutOfMemory):
    """Raises a plain RuntimeError with ``message`` for inputs above ``limit`` pixels."""

    def __init__(self, network: nn.Module, limit: int, message: str) -> None:
        super().__init__(network, limit)
        self.message = message

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] * x.shape[-2] > self.limit:
            self.failures += 1
            raise RuntimeError(self.message)
        self.sizes.append(tuple(x.shape[-2:]))
        return self.inner(x)


@pytest.mark.parametrize("message", CUDA_LIBRARY_OUT_OF_MEMORY)
def test_cudnn_and_cublas_allocation_failures_shrink_the_tile(image, message):
    network = tiny_srvgg(2)
    whole = run_network(prepare_network(network, "cpu", "fp32"), image)
    flaky = RaisesLibraryError(network, 60 * 60, message)
    out = run_network(as_is(flaky), image, tile=96, tile_pad=3)
    assert np.abs(out.astype(int) - whole).max() <= 1
    assert flaky.failures >= 1


def test_an_illegal_memory_access_is_not_mistaken_for_out_of_memory(image):
    flaky = RaisesLibraryError(tiny_srvgg(2), 60 * 60,
                               "CUDA error: an illegal memory access was encountered")
    with pytest.raises(RuntimeError, match="illegal memory access"):
        run_network(as_is(flaky), image, tile=96, tile_pad=3)


def test_the_tile_that_worked_is_kept_for_the_next_images(image):
    flaky = RunsOutOfMemory(tiny_srvgg(2), limit=60 * 60)
    prepared = as_is(flaky)
    run_network(prepared, image)
    failures = flaky.failures
    assert failures >= 1
    run_network(prepared, image[::-1].copy())
    run_network(prepared, image, tile=96)  # a user's tile is no exception
    assert flaky.failures == failures


def test_the_frame_batch_that_worked_is_kept_for_the_next_batches(rng, monkeypatch):
    """As on a GPU, frames are batched (the CPU's limit of one frame is lifted here)."""
    monkeypatch.setitem(limits.BATCH_LIMITS, "cpu", 8)

    class BatchOutOfMemory(RunsOutOfMemory):
        def forward(self, x):
            if x.shape[0] > 2:
                self.failures += 1
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3 GiB")
            self.sizes.append((x.shape[0],))
            return self.inner(x)

    network = tiny_srvgg(2)
    flaky = BatchOutOfMemory(network, 0)
    prepared = as_is(flaky)
    frames = rng.integers(0, 256, (8, 12, 16, 3)).astype(np.uint8)
    expected = run_frames(prepare_network(network, "cpu", "fp32"), frames)
    first = run_frames(prepared, frames)
    failures = flaky.failures
    assert failures >= 1 and max(s[0] for s in flaky.sizes) == 2
    second = run_frames(prepared, frames)
    assert flaky.failures == failures
    for got in (first, second):
        assert np.abs(got.astype(int) - expected).max() <= 1
