"""Ray: a folder or a video on a cluster gives the local run's result.

The Ray cases live in ``distributed_cases.py``. Ray's processes otherwise
listen on the machine's network address, so that file runs in a pytest of its
own inside a fresh network namespace (``unshare -n``, then loopback up): every
connection stays on 127.0.0.1. Each case is reported here under its own name.
The cases without a Ray runtime (the missing-Ray message, a local run never
importing Ray) run directly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_srvgg
from safetensors.torch import save_file

from upscale.imaging import write_image

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
RAY_CASES = [
    "test_folder_with_bad_files_matches_a_local_run_and_resumes",
    "test_video_through_ray_equals_local_resumes_and_survives_a_lost_node",
    "test_a_video_on_ray_from_the_command_line_is_the_local_run",
    "test_a_network_that_does_not_load_is_one_line_and_writes_nothing",
    "test_a_node_removed_mid_run_loses_nothing",
]


def python_env(*paths: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(REPO), str(TESTS)])
    return env


@pytest.fixture(scope="module")
def ray_case_results(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """Run ``distributed_cases.py`` in its own network namespace; each case's outcome."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip('Ray is not installed (pip install "upscale[ray]")')
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("the Ray cases need root for their own network namespace (unshare -n)")
    report = tmp_path_factory.mktemp("ray") / "cases.xml"
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
               sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--junitxml={report}", "distributed_cases.py"]
    run = subprocess.run(command, cwd=TESTS, env=python_env(), capture_output=True, text=True,
                         timeout=600, check=False)
    if not report.is_file():
        pytest.fail(f"the Ray cases did not run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    results = {}
    for case in ElementTree.parse(report).iter("testcase"):
        problem = next(iter(case), None)
        if problem is None:
            results[case.get("name")] = ("passed", "")
        else:
            text = f"{problem.get('message', '')}\n{problem.text or ''}"
            results[case.get("name")] = (problem.tag, text)
    return results


@pytest.mark.parametrize("case", RAY_CASES)
def test_on_a_ray_cluster(case, ray_case_results):
    outcome, text = ray_case_results[case]
    if outcome == "skipped":
        pytest.skip(text)
    assert outcome == "passed", text


@pytest.fixture
def small_folder(tmp_path, rng) -> tuple[Path, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", rng.integers(0, 256, (8, 6, 3), dtype=np.uint8))
    model = tmp_path / "tiny_x2.safetensors"
    save_file(tiny_srvgg(2).state_dict(), str(model))
    return folder, model


def run_python(code: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=env or python_env(), timeout=300, check=False)


def test_without_ray_the_option_says_in_one_line_how_to_install_it(small_folder, tmp_path):
    folder, model = small_folder
    hidden = tmp_path / "no_ray"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    run = run_python("from upscale.cli import main; main()", folder, "-m", model,
                     "--ray", "local", env=python_env(hidden))
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0, run.stderr
    assert 'pip install "upscale[ray]"' in run.stderr
    assert not (tmp_path / "in_x2").exists()


def test_an_unknown_address_is_refused_in_one_line(small_folder):
    folder, model = small_folder
    run = run_python("from upscale.cli import main; main()", folder, "-m", model,
                     "--ray", "cluster.example:6379")
    assert run.returncode == 2
    assert "local, auto or ray://HOST:PORT" in run.stderr
    assert run.stderr.strip().count("\n") == 0, run.stderr


def test_a_local_run_never_imports_ray(small_folder, tmp_path):
    folder, model = small_folder
    run = run_python("import sys\nfrom upscale.cli import main\n"
                     "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
                     "print('ray' in sys.modules)", folder, "-m", model, "-q")
    assert run.stdout.strip() == "False", run.stderr
    assert (tmp_path / "in_x2" / "a_x2.png").is_file()


@pytest.mark.parametrize("what", ["folder", "video"])
def test_a_ray_client_address_sends_the_whole_run_to_the_cluster(what, small_folder, tmp_path,
                                                                 monkeypatch, capsys):
    """Through Ray Client (``ray://``) Ray Data cannot drive a dataset, so the request itself
    is run there, joining the cluster as ``auto``: here, the cluster's task runs in this
    process, as a dry run, which needs no Ray runtime."""
    from test_video import make_clip

    import upscale.distributed as distributed
    from upscale.execute import execute
    from upscale.request import make_request

    folder, model = small_folder
    source = folder if what == "folder" else make_clip(tmp_path / "clip.mp4", seconds=0.1)
    sent = []

    def on_the_cluster(address, function, *args, **kwargs):
        sent.append(address)
        return function("auto", *args, **kwargs)

    monkeypatch.setattr(distributed, "run_on_cluster", on_the_cluster)
    request = make_request(source, model=str(model), scale=2, dry_run=True,
                           ray="ray://head.example:10001")
    assert execute(request) == 0
    assert sent == ["ray://head.example:10001"]
    assert "dry run at ×2" in " ".join(capsys.readouterr().out.split())
