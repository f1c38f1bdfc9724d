"""One request: the command line and Python build it the same way and run it the same way."""

from __future__ import annotations

import numpy as np
import pytest

from upscale.cli import main
from upscale.errors import UpscaleError
from upscale.execute import execute
from upscale.imaging import read_image, write_image
from upscale.request import make_request


def cli_error(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exited:
        main([str(arg) for arg in args])
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().removeprefix("upscale: error: ")


@pytest.fixture
def photo(tmp_path, rng):
    return write_image(tmp_path / "photo.png", rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))


@pytest.mark.parametrize(("args", "kwargs"), [
    (["-s", "inf"], {"scale": float("inf")}),
    (["--crf", "70", "--codec", "libvpx-vp9"], {"crf": 70, "codec": "libvpx-vp9"}),
    (["--alpha", "0.5", "-m", "realesrgan-x4plus-anime-6b"],
     {"alpha": 0.5, "model": "realesrgan-x4plus-anime-6b"}),
    (["--psnr-model", "a.pth"], {"psnr_model": "a.pth"}),
])
def test_python_and_the_command_line_refuse_a_request_in_the_same_words(args, kwargs, photo,
                                                                        capsys):
    with pytest.raises(UpscaleError) as info:
        make_request(photo, **kwargs)
    assert str(info.value) == cli_error(capsys, photo, *args)


def test_a_request_executed_from_python_writes_what_the_command_line_writes(photo, model_file,
                                                                           tmp_path):
    heard: list[str] = []
    assert execute(make_request(photo, model=str(model_file), output=tmp_path / "py.png"),
                   report=heard.append) == 0
    main([str(photo), "-m", str(model_file), "-o", str(tmp_path / "cli.png"), "-q"])
    assert np.array_equal(read_image(tmp_path / "py.png"), read_image(tmp_path / "cli.png"))
    assert len(heard) == 1 and heard[0].startswith(f"wrote {tmp_path / 'py.png'} (20×24)")


@pytest.mark.parametrize("kind", ["image", "video"])
def test_an_output_is_checked_for_existence_once_under_its_lock(kind, photo, model_file,
                                                               tmp_path, monkeypatch):
    import upscale.execute
    import upscale.outputs

    calls: list[str] = []
    real = upscale.outputs.refuse_existing

    def counted(target, overwrite):
        calls.append(str(target))
        return real(target, overwrite)

    for module in (upscale.outputs, upscale.execute):
        monkeypatch.setattr(module, "refuse_existing", counted)
    if kind == "video":
        from test_video import make_clip

        source = make_clip(tmp_path / "clip.mp4", seconds=0.25, audio=False)
    else:
        source = photo
    main([str(source), "-m", str(model_file), "-q"])
    assert len(calls) == 1
