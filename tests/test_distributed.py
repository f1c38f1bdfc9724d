"""Ray: a folder or a video on a cluster gives the local run's result.

The Ray cases live in ``distributed_cases.py``. Ray's processes otherwise
listen on the machine's network address, so that file runs in a pytest of its
own inside a fresh network namespace (``unshare -n``, then loopback up): every
connection stays on 127.0.0.1. Each case is reported here under its own name.
The cases without a Ray runtime (the missing-Ray message, a local run never
importing Ray) run directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from conftest import RAY_RUN, why_the_ray_cases_cannot_run
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


def start_ray_cases(cores: set[int] | None = None) -> tuple[subprocess.Popen, Path] | str:
    """Start ``distributed_cases.py`` in its own network namespace, on ``cores`` if given:
    (process, its report), or why it cannot run here."""
    why_not = why_the_ray_cases_cannot_run()
    if why_not:
        return why_not
    report = Path(tempfile.mkdtemp(prefix="upscale-ray-cases-")) / "cases.xml"
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
               sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--junitxml={report}", "distributed_cases.py"]
    with open(report.with_name("output.txt"), "w") as output:
        process = subprocess.Popen(
            command, cwd=TESTS, env=python_env(), stdout=output, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,  # its own session: stopped with Ray's daemons
            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
    return process, report


@pytest.fixture(scope="module")
def ray_case_results(request) -> dict[str, tuple[str, str]]:
    """Each Ray case's outcome (started at collection by conftest, or now)."""
    started = request.config.stash.get(RAY_RUN, None) or start_ray_cases()
    if isinstance(started, str):
        pytest.skip(started)
    process, report = started
    process.wait(timeout=600)
    if not report.is_file():
        output = report.with_name("output.txt").read_text()
        pytest.fail(f"the Ray cases did not run:\n{output[-6000:]}")
    results = {}
    for case in ElementTree.parse(report).iter("testcase"):
        problem = next(iter(case), None)
        if problem is None:
            results[case.get("name")] = ("passed", "")
        else:
            text = f"{problem.get('message', '')}\n{problem.text or ''}"
            results[case.get("name")] = (problem.tag, text)
    shutil.rmtree(report.parent, ignore_errors=True)
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


def test_an_actor_pool_is_no_larger_than_its_work():
    """One file left to redo starts one actor, not one per CPU of the cluster: each actor is a
    process that imports torch before it does anything."""
    from types import SimpleNamespace

    from upscale.distributed.session import ActorPool

    ray = SimpleNamespace(data=SimpleNamespace(ActorPoolStrategy=lambda size: size))
    pool = ActorPool(size=4, num_gpus=0, num_cpus=1)
    assert [pool.map_options(ray, blocks)["compute"] for blocks in (1, 3, 4, 9)] == [1, 3, 4, 4]
