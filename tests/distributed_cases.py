"""The Ray cases, run by ``test_distributed.py`` inside a network namespace of their own.

Every Ray process here listens on loopback only: the runner starts this file
under ``unshare -n`` with just ``lo`` up. One simulated cluster
(``ray.cluster_utils.Cluster``: a head without CPUs and one-CPU worker nodes)
serves every case; ``--ray local`` joins the connection a caller already has,
and the fault case, last, removes a node in the middle of a run.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import ray
from helpers import tiny_rrdbnet, tiny_srvgg
from ray.cluster_utils import Cluster
from safetensors.torch import save_file
from test_video import decoded_frames, make_clip, packets

from upscale.archs import describe
from upscale.cli import main
from upscale.distributed import upscale_folder_on_ray, upscale_video_on_ray
from upscale.errors import UpscaleError
from upscale.imaging import read_image, write_image
from upscale.loading import load_model
from upscale.request import make_request
from upscale.run import prepare_network
from upscale.video import probe, upscale_video
from upscale.video.segments import work_dir_for

SEGMENT_FRAMES = 12  # four segments in the two-second clip: work to share, and to lose

@pytest.fixture(scope="module")
def cluster():
    # A dead node is noticed in about a second rather than Ray's default half minute. No
    # dashboard and no idle workers started ahead: each Python process costs a CPU-second.
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 200, "health_check_failure_threshold": 3,
                           "enable_worker_prestart": False}})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def photo_folder(folder: Path, count: int, size: int = 24) -> Path:
    rng = np.random.default_rng(7)
    (folder / "sub").mkdir(parents=True)
    for index in range(count):
        where = folder / "sub" if index % 3 == 0 else folder
        write_image(where / f"photo{index}.png",
                    rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8))
    return folder


def outputs(folder: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(folder)): read_image(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def seconds(video: Path) -> list:
    """Every frame's presentation time, exactly (a Fraction of a second)."""
    info = probe(video)
    return [info.first_pts + stamp * info.time_base for stamp in info.timestamps]


def run_cli_as_a_new_driver(cluster, *args) -> tuple[int, str, list[str]]:
    """The CLI in a process of its own, joining ``cluster``: exit code, output, and which
    of Ray and torch that driver process imported."""
    code = ("import sys\nfrom upscale.cli import main\ncode = 0\ntry:\n"
            "    main(sys.argv[1:])\nexcept SystemExit as exit_:\n    code = exit_.code or 0\n"
            "print('exit', code, 'imported', *(m for m in ('ray', 'torch') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code, *map(str, args)],
                         env={**os.environ, "RAY_ADDRESS": cluster.address},
                         capture_output=True, text=True, timeout=300, check=False)
    last = run.stdout.strip().splitlines()[-1].split() if run.stdout.strip() else []
    assert last[:1] == ["exit"], run.stdout + run.stderr
    return int(last[1]), run.stdout + run.stderr, last[3:]


def run_cli(capsys, *args) -> tuple[int, str]:
    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_folder_with_bad_files_matches_a_local_run_and_resumes(cluster, tmp_path, capsys):
    """Also: the ``--ray`` driver never imports torch (the network loads in a Ray worker)."""
    source = photo_folder(tmp_path / "in", 6)
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (source / "notes.txt").write_text("not an image")
    model = tmp_path / "tiny_x2.safetensors"
    save_file(tiny_srvgg(2).state_dict(), str(model))

    local_code, _ = run_cli(capsys, source, "-o", tmp_path / "local", "-m", model, "-r", "-q")
    code, text, imported = run_cli_as_a_new_driver(
        cluster, source, "-o", tmp_path / "ray", "-m", model, "-r", "--ray", "auto")
    assert code == local_code == 1
    assert "broken.png" in text and "failed" in text
    assert imported == ["ray"], "the driver imported torch"
    local, on_ray = outputs(tmp_path / "local"), outputs(tmp_path / "ray")
    assert sorted(on_ray) == sorted(local) and len(local) == 6
    for name, image in local.items():
        assert np.abs(image.astype(int) - on_ray[name].astype(int)).max() <= 1, name

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.png")}
    code, text = run_cli(capsys, source, "-o", tmp_path / "ray", "-m", model, "-r",
                         "--ray", "local")
    assert code == 1 and "already done" in text
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.png")} == stamps


def test_a_video_on_ray_from_the_command_line_is_the_local_run(cluster, tmp_path, capsys):
    """The command line's video road is the same with ``--ray``: the same frames, and an
    existing output refused once, in one line, before anything runs."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=0.5)
    model = tmp_path / "tiny_x2.safetensors"
    save_file(tiny_srvgg(2).state_dict(), str(model))
    local_code, _ = run_cli(capsys, clip, "-m", model, "-o", tmp_path / "local.mp4", "-q")
    code, text = run_cli(capsys, clip, "-m", model, "-o", tmp_path / "ray.mp4", "-q",
                         "--ray", "local")
    assert code == local_code == 0, text
    assert decoded_frames(tmp_path / "ray.mp4") == decoded_frames(tmp_path / "local.mp4")
    assert seconds(tmp_path / "ray.mp4") == seconds(clip)

    code, text = run_cli(capsys, clip, "-m", model, "-o", tmp_path / "ray.mp4", "--ray", "local")
    assert code == 2 and text.count("already exists") == 1, text
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "clip.mp4", "local.mp4", "ray.mp4", "tiny_x2.safetensors"]


def busy_nodes() -> set[str]:
    """Nodes whose one CPU an actor holds (the state API would need the dashboard)."""
    from ray._private.state import available_resources_per_node

    return {node for node, free in available_resources_per_node().items()
            if free.get("CPU", 0) < 1}


def test_video_through_ray_equals_local_resumes_and_survives_a_lost_node(cluster, tmp_path):
    """A local run stopped in segment 1; Ray makes the rest on two actors and loses a node
    while making them. The result is the local one; every segment is written once (the
    local run's segment 0 never again), and nothing half-written is left."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=2)
    network = tiny_srvgg(2)
    prepared = prepare_network(network, device="cpu")
    local = upscale_video(prepared, clip, tmp_path / "local.mp4", segment_frames=SEGMENT_FRAMES)

    def stop_in_the_second_segment(done: int, total: int) -> None:
        if done >= SEGMENT_FRAMES + 2:
            raise KeyboardInterrupt

    target = tmp_path / "ray.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(prepared, clip, target, segment_frames=SEGMENT_FRAMES,
                      on_progress=stop_in_the_second_segment)
    work = work_dir_for(target)
    first = work / "seg_00000.nut"
    first_seen = {first.name: (first.stat().st_ino, first.stat().st_mtime_ns)}
    rewritten: list[str] = []
    removed: list[int] = []  # how many segments were finished when the node went
    cluster.add_node(num_cpus=1)  # room for the lost actor to start again
    cluster.wait_for_nodes()
    workers = [node for node in cluster.list_all_nodes() if node is not cluster.head_node]
    finished = threading.Event()

    def remove_a_busy_node_and_watch_segments() -> None:
        while not finished.is_set():
            if not removed and any(work.glob("seg_*.partial.nut")):  # a segment is being made
                victim = next((node for node in workers if node.node_id in busy_nodes()), None)
                if victim is not None:
                    made = len(list(work.glob("seg_?????.nut")))
                    cluster.remove_node(victim)
                    removed.append(made)
            for segment in work.glob("seg_?????.nut"):
                try:
                    stat = segment.stat()
                except FileNotFoundError:  # the run finished and cleared its work folder
                    continue
                if first_seen.setdefault(segment.name, (stat.st_ino, stat.st_mtime_ns)) != (
                        stat.st_ino, stat.st_mtime_ns):
                    rewritten.append(segment.name)
            time.sleep(0.02)

    watcher = threading.Thread(target=remove_a_busy_node_and_watch_segments, daemon=True)
    watcher.start()
    try:
        upscale_video_on_ray("local", clip, target, network=network, actors=2,
                             segment_frames=SEGMENT_FRAMES)
    finally:
        finished.set()
        watcher.join(timeout=30)
    segments = -(-probe(clip).frame_count // SEGMENT_FRAMES)
    assert removed and removed[0] < segments, "no node was removed while segments were made"
    assert not rewritten, f"segments written twice: {rewritten}"
    assert len(first_seen) == segments
    assert decoded_frames(target) == decoded_frames(local)
    assert seconds(target) == seconds(local) == seconds(clip)
    assert packets(target, "0:a") == packets(clip, "0:a")
    assert not work.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.mp4", "local.mp4",
                                                                  "ray.mp4"]


def test_a_network_that_does_not_load_is_one_line_and_writes_nothing(cluster, tmp_path):
    """The actors start while the network loads; when the load fails, the user reads why."""
    source = photo_folder(tmp_path / "in", 2)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint" * 20)
    with pytest.raises(UpscaleError, match="broken.pth: not a PyTorch checkpoint"):
        upscale_folder_on_ray(make_request(source, output=tmp_path / "ray", model=str(broken),
                                           scale=2.0, quiet=True, ray="auto"),
                              actors=1, load_network=functools.partial(load_model, broken))
    assert not list((tmp_path / "ray").rglob("*.png"))


def test_a_node_removed_mid_run_loses_nothing(cluster, tmp_path):
    """Files on a node that goes away are redone on another, once, with nothing half-written."""
    source = photo_folder(tmp_path / "in", 24, size=64)
    network = describe(tiny_rrdbnet(2))
    cluster.add_node(num_cpus=1)  # room for the lost actor to start again
    cluster.wait_for_nodes()
    workers = [node for node in cluster.list_all_nodes() if node is not cluster.head_node]
    removed: list[str] = []

    def remove_a_busy_node() -> None:
        output = tmp_path / "ray"
        while not any(output.rglob("*.png")):
            time.sleep(0.05)
        busy = busy_nodes()
        victim = next(node for node in workers if node.node_id in busy)
        cluster.remove_node(victim)
        removed.append(victim.node_id)

    killer = threading.Thread(target=remove_a_busy_node, daemon=True)
    killer.start()
    try:
        request = make_request(source, output=tmp_path / "ray", model="the test's own network",
                               recursive=True, quiet=True, ray="auto")
        code = upscale_folder_on_ray(request, actors=2, load_network=lambda: network)
    finally:
        killer.join(timeout=30)
    assert removed, "the node was not removed while the run was going"
    assert code == 0
    made = outputs(tmp_path / "ray")
    assert sorted(made) == sorted(f"{p.parent.name + '/' if p.parent != source else ''}"
                                  f"{p.stem}_x2.png" for p in source.rglob("*.png"))
    assert all(image.shape == (128, 136, 3) for image in made.values())
    leftovers = [p for p in (tmp_path / "ray").rglob("*") if p.name.startswith(".")]
    assert not leftovers

