"""Device and precision choices: sensible defaults, clear refusals, no black fp16 images."""

from __future__ import annotations

import contextlib
import threading
import warnings

import numpy as np
import pytest
import torch
from helpers import nearest_upsampler, tiny_srvgg, wrapped
from torch import nn

from upscale.errors import UpscaleError
from upscale.run import (
    engine,
    prepare_network,
    resolve_device,
    resolve_precision,
    run_frames,
    run_network,
)
from upscale.run.device import cuda_unusable

CPU = torch.device("cpu")


def test_auto_device_and_precision_on_a_cpu_machine():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto").type in ("cpu", "mps")
    assert resolve_precision("auto", CPU) == torch.float32


def test_auto_precision_is_half_on_cuda():
    assert resolve_precision("auto", torch.device("cuda", 0)) == torch.float16


@pytest.mark.parametrize("name", ["fp16", "half"])
def test_fp16_on_the_cpu_is_refused_with_the_reason(name, monkeypatch):
    monkeypatch.setattr("upscale.run.precision._cpu_has_native", lambda dtype: False)
    with pytest.raises(UpscaleError, match=r"523 s.*fp32"):
        resolve_precision(name, CPU)


def test_bf16_on_a_cpu_without_bf16_is_refused(monkeypatch):
    monkeypatch.setattr("upscale.run.precision._cpu_has_native", lambda dtype: False)
    with pytest.raises(UpscaleError, match="bf16"):
        resolve_precision("bf16", CPU)


@pytest.mark.parametrize("spec", ["fp8", "double"])
def test_unknown_precisions_are_refused(spec):
    with pytest.raises(UpscaleError, match="precision"):
        resolve_precision(spec, CPU)


def test_an_empty_precision_means_auto():
    assert resolve_precision("", CPU) == torch.float32


@pytest.mark.parametrize("spec", ["cuda", "cuda:7", "cuda:x", "tpu", "mps"])
def test_unavailable_or_unknown_devices_are_refused(spec):
    if torch.cuda.is_available() and spec == "cuda":
        pytest.skip("this machine has CUDA")
    if spec == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(UpscaleError, match="device"):
        resolve_device(spec)


def test_weights_are_converted_once_and_the_callers_network_is_untouched(rng):
    network = tiny_srvgg(2)
    prepared = prepare_network(network, "cpu", "fp16", allow_slow_half=True)
    assert all(p.dtype == torch.float16 for p in prepared.module.parameters())
    assert all(p.dtype == torch.float32 for p in network.parameters())
    before = [p.data_ptr() for p in prepared.module.parameters()]
    run_network(prepared, rng.integers(0, 256, (12, 12, 3)).astype(np.uint8), tile=4)
    assert [p.data_ptr() for p in prepared.module.parameters()] == before


def test_fp32_on_the_same_device_reuses_the_network():
    network = tiny_srvgg(2)
    assert prepare_network(network, "cpu", "fp32", optimize=False).module is network


def overflowing_network() -> torch.nn.Module:
    """Finite in fp32, but its hidden features pass fp16's 65504 limit."""
    net = tiny_srvgg(2)
    with torch.no_grad():
        body = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
        body[0].weight.abs_().mul_(3000.0)
        body[1].weight.abs_().mul_(3000.0)
        body[2].weight.mul_(1e-9)
    return net


def test_half_precision_overflow_falls_back_to_fp32_with_one_warning(rng):
    network = overflowing_network()
    image = rng.integers(0, 256, (10, 14, 3)).astype(np.uint8)
    expected = run_network(prepare_network(network, "cpu", "fp32"), image)
    half = prepare_network(network, "cpu", "fp16", allow_slow_half=True)
    with torch.inference_mode():
        raw = half.module(torch.rand(1, 3, 6, 6, dtype=torch.float16))
    assert not torch.isfinite(raw).all()  # the premise: fp16 really overflows
    with pytest.warns(RuntimeWarning, match="fp16.*fp32") as caught:
        first = run_network(half, image, tile=5, tile_pad=3)
        second = run_network(half, image, tile=5, tile_pad=3)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(second, expected)


def test_healthy_half_precision_is_close_to_fp32_without_a_warning(rng):
    network = tiny_srvgg(2)
    image = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    full = run_network(prepare_network(network, "cpu", "fp32"), image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        half = run_network(prepare_network(network, "cpu", "fp16", allow_slow_half=True), image)
    assert np.abs(half.astype(int) - full).max() <= 2


class Recorder(nn.Module):
    """Wraps a network and records the dtype and size of every input it runs."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.inner = network
        self.calls: list[tuple[torch.dtype, int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.dtype, x.shape[-2], x.shape[-1]))
        return self.inner(x)


def test_an_overflow_switches_the_network_to_fp32_for_the_rest_of_the_run(rng):
    recorder = Recorder(overflowing_network())
    half = prepare_network(wrapped(recorder.inner, recorder), "cpu", "fp16", allow_slow_half=True)
    fp16_copy = half.module  # the converted copy, a Recorder of its own
    image = rng.integers(0, 256, (10, 14, 3)).astype(np.uint8)
    with pytest.warns(RuntimeWarning, match="fp16"):
        run_network(half, image, tile=5, tile_pad=3)
    run_network(half, image, tile=5, tile_pad=3)
    assert half.dtype == torch.float32
    assert len(fp16_copy.calls) == 1  # one failed fp16 tile, then fp32 only (not both per tile)


def test_the_fp32_rerun_after_an_overflow_is_sized_for_fp32(rng, monkeypatch):
    recorder = Recorder(overflowing_network())
    half = prepare_network(wrapped(recorder.inner, recorder), "cpu", "fp16", allow_slow_half=True)
    facts = half.memory_facts()
    fp16_bytes, fp32_bytes = (facts.bytes_per_pixel(d, 3, 2) for d in (torch.float16,
                                                                       torch.float32))
    image = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)
    budget = int(1.2 * fp16_bytes * image.shape[0] * image.shape[1])
    assert budget < fp32_bytes * image.shape[0] * image.shape[1]  # whole in fp16, not in fp32
    monkeypatch.setattr(engine, "memory_budget", lambda device: budget)
    with pytest.warns(RuntimeWarning, match="fp16"):
        run_network(half, image)
    fp32_calls = [c for c in recorder.calls if c[0] == torch.float32]
    assert fp32_calls
    assert all(h * w * fp32_bytes <= budget for _dtype, h, w in fp32_calls)


def tf32_allowed() -> bool:
    """Whether cuDNN may run fp32 convolutions in TF32, in whichever API this torch has."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return conv.fp32_precision == "tf32"
    return bool(torch.backends.cudnn.allow_tf32)


def test_fp32_runs_without_tf32_and_leaves_the_setting_as_it_was(rng):
    assert tf32_allowed()  # the premise: PyTorch's default allows TF32 in cuDNN

    class SeesTf32(Recorder):
        def forward(self, x):
            self.seen = tf32_allowed()
            return self.inner(x)

    network = SeesTf32(tiny_srvgg(2))
    run_network(prepare_network(wrapped(network.inner, network), "cpu", "fp32", optimize=False),
                rng.integers(0, 256, (6, 6, 3)).astype(np.uint8))
    assert network.seen is False
    assert tf32_allowed()


def test_bf16_needs_native_support_on_the_device_the_user_chose(monkeypatch):
    """cuda:0 is a T4 (emulated bf16), cuda:1 an A100 (native)."""
    capability = {0: (7, 5), 1: (8, 0)}
    current = [0]

    @contextlib.contextmanager
    def device(which):
        saved, current[0] = current[0], torch.device(which).index
        yield
        current[0] = saved

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return including_emulation or capability[current[0]] >= (8, 0)

    monkeypatch.setattr(torch.cuda, "device", device)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    with pytest.raises(UpscaleError, match="bf16.*fp16 or fp32"):
        resolve_precision("bf16", torch.device("cuda", 0))
    current[0] = 0  # the current device is the T4; the user chose the A100
    assert resolve_precision("bf16", torch.device("cuda", 1)) == torch.bfloat16


def test_bf16_on_torch_without_including_emulation_uses_the_compute_capability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device", lambda which: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # torch<2.3: emulation
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda d=None: {0: (7, 0), 1: (8, 6)}[torch.device(d).index])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla V100")
    with pytest.raises(UpscaleError, match="bf16"):
        resolve_precision("bf16", torch.device("cuda", 0))
    assert resolve_precision("bf16", torch.device("cuda", 1)) == torch.bfloat16


def test_16_bit_images_keep_every_level_under_auto_precision(rng, monkeypatch):
    """``auto`` on CUDA means fp16 (simulated here: the CPU would say fp32), but a uint16
    image needs more than fp16's 11 bits, so it runs in fp32."""
    monkeypatch.setattr("upscale.run.prepared.resolve_precision",
                        lambda spec, device, **_: torch.float16)
    prepared = prepare_network(nearest_upsampler(2), "cpu", "auto")
    assert prepared.dtype == torch.float16
    image = rng.integers(60000, 65536, (8, 8, 3)).astype(np.uint16)  # where fp16 is coarsest
    out = run_network(prepared, image)
    np.testing.assert_array_equal(out, image.repeat(2, axis=0).repeat(2, axis=1))


def test_half_precision_asked_for_by_name_is_kept_for_16_bit_images():
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp16", allow_slow_half=True)
    assert prepared.for_pixels(np.uint16) is prepared


def test_video_frames_that_overflow_in_fp16_come_out_as_in_fp32(rng):
    network = overflowing_network()
    frames = rng.integers(0, 256, (3, 6, 8, 3)).astype(np.uint8)
    expected = run_frames(prepare_network(network, "cpu", "fp32"), frames)
    half = prepare_network(network, "cpu", "fp16", allow_slow_half=True)
    with pytest.warns(RuntimeWarning, match="fp16"):
        got = run_frames(half, frames)
    assert half.dtype == torch.float32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("source_bits", "runs_in"),
                         [(8, torch.float16), (10, torch.float16), (12, torch.float32),
                          (None, torch.float32)])
def test_auto_precision_follows_the_sources_real_depth(rng, monkeypatch, source_bits, runs_in):
    """A 10-bit video decodes to uint16 frames, yet fp16's 11 significant bits hold all of
    its 1,024 levels: under ``auto`` (fp16 on CUDA, simulated) it keeps fp16's speed; 12-bit
    and true 16-bit pixels get fp32."""
    monkeypatch.setattr("upscale.run.prepared.resolve_precision",
                        lambda spec, device, **_: torch.float16)
    recorder = Recorder(nearest_upsampler(2))
    prepared = prepare_network(wrapped(recorder.inner, recorder), "cpu", "auto")
    levels = rng.integers(0, 1024, (2, 6, 8, 3))
    frames = np.rint(levels * 65535 / 1023).astype(np.uint16)  # as ffmpeg widens 10 bits
    out = run_frames(prepared, frames, source_bits=source_bits)
    calls = prepared.module.calls + prepared.fp32_module().calls
    assert {dtype for dtype, h, w in calls if (h, w) == (6, 8)} == {runs_in}  # not the probe
    back_to_10_bits = np.rint(out.astype(np.float64) * 1023 / 65535)
    assert np.array_equal(back_to_10_bits, levels.repeat(2, 1).repeat(2, 2))


def test_the_tf32_setting_holds_while_any_thread_still_runs_in_fp32():
    """Two fp32 networks in threads: the first to finish must not turn TF32 back on under
    the second (a save/restore per call did, as the flags are process-wide)."""
    from upscale.run.forward import exact_fp32

    first_inside, second_inside, first_left = (threading.Event() for _ in range(3))
    seen_by_second = []

    def first() -> None:
        with exact_fp32():
            first_inside.set()
            second_inside.wait(5)
        first_left.set()

    def second() -> None:
        first_inside.wait(5)
        with exact_fp32():
            second_inside.set()
            first_left.wait(5)
            seen_by_second.append(tf32_allowed())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen_by_second == [False]
    assert tf32_allowed()  # restored once both have left


def test_the_overflow_check_reads_one_reduction_not_a_full_size_mask():
    """``isfinite(y).all()`` allocated a bool per element and made a second pass; NaN and
    ±inf are found by one min/max reduction."""
    from helpers import peak_tensor_bytes

    from upscale.run.forward import is_finite

    y = torch.rand(1, 3, 64, 64, dtype=torch.float16)
    assert peak_tensor_bytes(lambda: is_finite(y)) < y.numel() // 16
    assert is_finite(y)
    for bad in (float("nan"), float("inf"), -float("inf")):
        broken = y.clone()
        broken[0, 1, 7, 9] = bad
        assert not is_finite(broken)
    extremes = y.clone()
    extremes[0, 0, 0, :2] = torch.tensor([65504.0, -65504.0])  # finite, yet max - min is not
    assert is_finite(extremes)


def out_of_memory_in_to(monkeypatch, after: int = 0) -> None:
    """``Module.to`` runs out of memory (as moving weights to a full card does) from its
    ``after``-th call on."""
    calls = [0]
    original = nn.Module.to

    def to(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > after:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 64.00 MiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", to)


def test_no_room_for_the_weights_is_one_line_not_an_internal_error(monkeypatch):
    out_of_memory_in_to(monkeypatch)
    with pytest.raises(UpscaleError, match=r"out of memory on cpu for the network's weights"):
        prepare_network(tiny_srvgg(2), "cpu", "fp16", allow_slow_half=True)


def test_no_room_for_the_fp32_copy_is_one_line_not_a_tile_retried_in_fp16(rng, monkeypatch):
    """The fp32 copy an fp16 overflow needs does not fit: no smaller tile can help, so the
    run stops with what did not fit instead of halving tiles and retrying in fp16."""
    recorder = Recorder(overflowing_network())
    half = prepare_network(wrapped(recorder.inner, recorder), "cpu", "fp16", allow_slow_half=True)
    # as on a GPU, where the caller's network lives on the host and every copy is a new one
    monkeypatch.setattr("upscale.run.prepared._already", lambda *_: False)
    out_of_memory_in_to(monkeypatch)
    image = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    with pytest.raises(UpscaleError, match="out of memory on cpu for the fp32 copy"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run_network(half, image)
    assert len(half.module.calls) == 1  # the one fp16 attempt, never retried smaller


@pytest.fixture
def a_visible_card(monkeypatch):
    """CUDA says one card is there: an RTX 5090 (compute capability 12.0), probed afresh."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "NVIDIA GeForce RTX 5090")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (12, 0))
    monkeypatch.setattr(torch.version, "hip", None)
    cuda_unusable.cache_clear()
    yield
    cuda_unusable.cache_clear()


def test_a_card_this_torch_has_no_kernels_for_is_passed_over_or_refused(a_visible_card,
                                                                       monkeypatch):
    """A torch built up to sm_90 cannot run on a 12.0 card: ``auto`` runs on the CPU with a
    note, and a user who named the card gets one line (not "internal error" at the first
    convolution)."""
    from upscale.notes import Note

    monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: ["sm_80", "sm_86", "sm_90"])
    with pytest.warns(Note, match=r"RTX 5090.*12\.0.*not supported.*CPU instead"):
        assert resolve_device("auto") == CPU
    with pytest.raises(UpscaleError, match=r"^device cuda: NVIDIA GeForce RTX 5090 .*sm_90"):
        resolve_device("cuda")


def test_a_card_whose_first_allocation_fails_is_passed_over_or_refused(a_visible_card,
                                                                      monkeypatch):
    """Kernels exist (PTX for compute_90 runs on 12.0), but the card is busy in exclusive
    mode: the probe's first allocation fails, once for the whole run."""
    from upscale.notes import Note

    monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: ["sm_90", "compute_90"])
    attempts = []
    original_ones = torch.ones

    def ones(*args, device=None, **kwargs):
        if device is not None and torch.device(device).type == "cuda":
            attempts.append(device)
            raise RuntimeError("CUDA error: CUDA-capable device(s) is/are busy or unavailable")
        return original_ones(*args, device=device, **kwargs)

    monkeypatch.setattr(torch, "ones", ones)
    with pytest.warns(Note, match="busy or unavailable"):
        assert resolve_device("auto") == CPU
    with pytest.raises(UpscaleError, match=r"^device cuda:0: the card cannot be used .*busy"):
        resolve_device("cuda:0")
    assert len(attempts) == 1  # probed once per card and run
