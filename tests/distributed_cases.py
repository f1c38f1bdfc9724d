"""The Ray cases, run by ``test_distributed.py`` inside a network namespace of their own.

Every Ray process here listens on loopback only: the runner starts this file
under ``unshare -n`` with just ``lo`` up. One simulated cluster
(``ray.cluster_utils.Cluster``: a head without CPUs and one-CPU worker nodes)
serves every case; ``--ray local`` joins the connection a caller already has,
and the fault case, last, removes a node in the middle of a run.
"""

from __future__ import annotations

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

from upscale.cli import main
from upscale.distributed import upscale_folder_on_ray, upscale_video_on_ray
from upscale.imaging import read_image, write_image
from upscale.run import prepare_network
from upscale.video import probe, upscale_video
from upscale.video.segments import work_dir_for


@pytest.fixture(scope="module")
def cluster():
    # A dead node is noticed in about a second rather than Ray's default half minute.
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "_system_config": {"health_check_period_ms": 200,
                                          "health_check_failure_threshold": 3}})
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


def run_cli(capsys, *args) -> tuple[int, str]:
    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_folder_with_bad_files_matches_a_local_run_and_resumes(cluster, tmp_path, capsys):
    source = photo_folder(tmp_path / "in", 6)
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (source / "notes.txt").write_text("not an image")
    model = tmp_path / "tiny_x2.safetensors"
    save_file(tiny_srvgg(2).state_dict(), str(model))

    local_code, _ = run_cli(capsys, source, "-o", tmp_path / "local", "-m", model, "-r", "-q")
    code, text = run_cli(capsys, source, "-o", tmp_path / "ray", "-m", model, "-r",
                         "--ray", "local")
    assert code == local_code == 1
    assert "broken.png" in text and "failed" in text
    local, on_ray = outputs(tmp_path / "local"), outputs(tmp_path / "ray")
    assert sorted(on_ray) == sorted(local) and len(local) == 6
    for name, image in local.items():
        assert np.abs(image.astype(int) - on_ray[name].astype(int)).max() <= 1, name

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.png")}
    code, text = run_cli(capsys, source, "-o", tmp_path / "ray", "-m", model, "-r",
                         "--ray", "local")
    assert code == 1 and "already done" in text
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.png")} == stamps


def test_video_through_ray_equals_local_and_resumes_another_runs_segments(cluster, tmp_path):
    """Segments 1-2 made on Ray after a local run stopped in segment 1: the local result."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=2)
    network = tiny_srvgg(2)
    prepared = prepare_network(network, device="cpu")
    local = upscale_video(prepared, clip, tmp_path / "local.mp4", segment_frames=20)

    def stop_in_the_second_segment(done: int, total: int) -> None:
        if done >= 25:
            raise KeyboardInterrupt

    target = tmp_path / "ray.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(prepared, clip, target, segment_frames=20,
                      on_progress=stop_in_the_second_segment)
    first = work_dir_for(target) / "seg_00000.nut"
    made = first.stat().st_mtime_ns
    seen = []

    def watch(done: int, total: int) -> None:
        seen.append(first.stat().st_mtime_ns)

    upscale_video_on_ray("local", clip, target, network=network, actors=1, segment_frames=20,
                         resume=True, on_progress=watch)
    assert seen and set(seen) == {made}  # the finished segment was not made again
    assert decoded_frames(target) == decoded_frames(local)
    assert seconds(target) == seconds(local) == seconds(clip)
    assert packets(target, "0:a") == packets(clip, "0:a")
    assert not work_dir_for(target).exists()


def busy_nodes() -> set[str]:
    """Nodes whose one CPU an actor holds (the state API would need the dashboard)."""
    from ray._private.state import available_resources_per_node

    return {node for node, free in available_resources_per_node().items()
            if free.get("CPU", 0) < 1}


def test_a_node_removed_mid_run_loses_nothing(cluster, tmp_path):
    """Files on a node that goes away are redone on another, once, with nothing half-written."""
    source = photo_folder(tmp_path / "in", 24, size=64)
    network = tiny_rrdbnet(2)
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
        code = upscale_folder_on_ray("auto", source, tmp_path / "ray", actors=2,
                                     load_network=lambda: network, recursive=True, quiet=True)
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
