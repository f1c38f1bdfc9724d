"""Image-level upscaling keeps what the user's image is: depth, gray, alpha, size."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import nearest_upsampler, tiny_srvgg

from upscale.pipeline import upscale_image
from upscale.run import prepare_network


@pytest.fixture
def nearest2():
    return prepare_network(nearest_upsampler(2), device="cpu", precision="fp32")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_depth_and_channels_are_kept(rng, dtype, channels):
    prepared = prepare_network(tiny_srvgg(2), device="cpu", precision="fp32")
    shape = (6, 5) if channels is None else (6, 5, channels)
    image = rng.integers(0, np.iinfo(dtype).max + 1, size=shape).astype(dtype)
    out = upscale_image(prepared, image)
    assert out.dtype == dtype
    assert out.shape == ((12, 10) if channels is None else (12, 10, channels))


def test_sixteen_bit_input_keeps_sixteen_bit_detail(nearest2, rng):
    image = rng.integers(0, 65536, size=(4, 4, 3)).astype(np.uint16)
    out = upscale_image(nearest2, image)
    np.testing.assert_array_equal(out[::2, ::2], image)  # no 8-bit rounding on the way


def test_gray_is_upscaled_as_gray(nearest2):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = upscale_image(nearest2, gray)
    assert out.shape == (6, 8)
    np.testing.assert_array_equal(out[::2, ::2], gray)


def test_scale_other_than_the_network_resizes_the_output(nearest2):
    image = np.zeros((7, 10, 3), np.uint8)
    assert upscale_image(nearest2, image, scale=1.5).shape == (11, 15, 3)
    assert upscale_image(nearest2, image, scale=3).shape == (21, 30, 3)


def test_opaque_alpha_stays_opaque(nearest2, rng):
    image = rng.integers(0, 256, size=(5, 5, 4)).astype(np.uint8)
    image[..., 3] = 255
    out = upscale_image(nearest2, image, scale=1.5)
    assert (out[..., 3] == 255).all()


def test_transparent_edges_get_no_dark_halo(nearest2):
    """A red disc on transparent black: every visible output pixel is still red."""
    yy, xx = np.mgrid[:32, :32]
    inside = (yy - 16) ** 2 + (xx - 16) ** 2 < 10**2
    image = np.zeros((32, 32, 4), np.uint8)
    image[inside] = (255, 0, 0, 255)
    # x2 network then an area downscale to x1.5 mixes each edge pixel with its neighbours.
    out = upscale_image(nearest2, image, scale=1.5)
    visible = out[..., 3] > 0
    partly = visible & (out[..., 3] < 255)
    assert partly.any(), "the resize should make some edge pixels partly transparent"
    assert out[visible][:, 0].min() >= 250
    assert out[visible][:, 1:3].max() <= 5


def test_upscale_file_writes_the_models_default_output_scale(tmp_path, rng):
    """A x4 network exported to produce x2 (as realesr-animevideov3's ncnn x2 file does)
    writes x2 from the library too, as the CLI and folder runs do."""
    import dataclasses

    from upscale.archs import describe
    from upscale.files import upscale_file
    from upscale.imaging import read_image, write_image

    model = dataclasses.replace(describe(tiny_srvgg(4)), output_scale=2.0)
    source, target = tmp_path / "in.png", tmp_path / "out.png"
    write_image(source, rng.integers(0, 256, (6, 10, 3), dtype=np.uint8))
    written = upscale_file(prepare_network(model, "cpu", "fp32"), source, target)
    assert read_image(target).shape == (12, 20, 3) == written.pixels.shape


def test_every_name_the_package_exports_can_be_imported():
    import upscale
    import upscale.loading
    import upscale.run

    for package in (upscale, upscale.loading, upscale.run):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"


def test_the_readme_python_example_runs(tmp_path, rng):
    from upscale import prepare_network as prepare
    from upscale import read_image, upscale_file, write_image

    source = tmp_path / "photo.png"
    write_image(source, rng.integers(0, 256, (5, 4, 3), dtype=np.uint8))
    prepared = prepare(tiny_srvgg(2), device="cpu")
    upscale_file(prepared, source, tmp_path / "photo_x2.png")
    assert read_image(tmp_path / "photo_x2.png").shape == (10, 8, 3)
