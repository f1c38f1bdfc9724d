"""Where weights come from: files, weights/ stems, http(s) URLs, the Hub, and the registry."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from functools import partial
from pathlib import Path

import pytest
import torch
from helpers import tiny_rrdbnet, tiny_srvgg
from safetensors.torch import save_file

from upscale.archs import as_model
from upscale.errors import UpscaleError
from upscale.loading import find_model, list_models, load_model, resolve_weights


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own caches, and no ambient offline switches."""
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "UPSCALE_OFFLINE",
                 "UPSCALE_WEIGHTS_DIR"):
        monkeypatch.delenv(name, raising=False)


def same_outputs(a, b) -> bool:
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return torch.equal(as_model(a).module(x), as_model(b).module(x))


# --- a local web server ----------------------------------------------------------------


@pytest.fixture
def web(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (folder, base URL, list of requested paths)."""
    root = tmp_path / "www"
    root.mkdir()
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            requested.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", requested
    server.shutdown()
    server.server_close()


def test_url_is_downloaded_once_into_the_cache(web, tmp_path):
    root, base, requested = web
    original = tiny_rrdbnet()
    torch.save({"params_ema": original.state_dict()}, root / "net.pth")
    first = load_model(f"{base}/net.pth")
    assert same_outputs(original, first)
    assert Path(first.source_path).is_relative_to(tmp_path / "cache" / "downloads")
    second = load_model(f"{base}/net.pth")
    assert same_outputs(original, second)
    assert len(requested) == 1  # the second load came from the cache
    assert not list(Path(first.source_path).parent.glob(".*.part"))


def test_url_with_hash_in_its_name_is_verified(web):
    root, base, _ = web
    original = tiny_srvgg()
    staging = root / "staging.pth"
    torch.save(original.state_dict(), staging)
    prefix = hashlib.sha256(staging.read_bytes()).hexdigest()[:8]
    staging.rename(root / f"net_official-{prefix}.pth")
    assert same_outputs(original, load_model(f"{base}/net_official-{prefix}.pth"))


def test_url_with_wrong_hash_is_refused_and_deleted(web, tmp_path):
    root, base, _ = web
    torch.save(tiny_srvgg().state_dict(), root / "net_official-0badc0de.pth")
    with pytest.raises(UpscaleError) as info:
        load_model(f"{base}/net_official-0badc0de.pth")
    assert "sha256" in str(info.value) and "refused" in str(info.value)
    downloads = tmp_path / "cache" / "downloads"
    assert not [p for p in downloads.rglob("*") if p.is_file()]


def test_url_ncnn_param_brings_its_bin(web):
    from test_loading_ncnn import srvgg, write_srvgg

    root, base, _ = web
    original = srvgg()
    write_srvgg(original, root / "vgg", fp16=False)
    assert same_outputs(original, load_model(f"{base}/vgg.param"))


def test_unreachable_url_and_offline_url_give_one_line(web, monkeypatch):
    _, base, _ = web
    with pytest.raises(UpscaleError) as info:
        load_model(f"{base}/missing.pth")
    assert "download failed" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setenv("UPSCALE_OFFLINE", "1")
    with pytest.raises(UpscaleError, match="running offline"):
        load_model(f"{base}/other.pth")


# --- the Hugging Face Hub ---------------------------------------------------------------


def build_hub_cache(hub_dir: Path, repo_id: str, files: dict[str, bytes]) -> str:
    """Lay out files exactly as huggingface_hub's cache does; returns the commit hash."""
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo = hub_dir / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "blobs").mkdir()
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return commit


def test_hub_reference_loads_from_the_hub_cache_offline(tmp_path, monkeypatch):
    original = tiny_srvgg()
    staging = tmp_path / "staging.safetensors"
    save_file(original.state_dict(), str(staging))
    build_hub_cache(tmp_path / "hf" / "hub", "someone/tiny-sr",
                    {"weights/tiny.safetensors": staging.read_bytes()})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_model("hf://someone/tiny-sr/weights/tiny.safetensors")
    assert same_outputs(original, loaded)
    assert loaded.source == "hf://someone/tiny-sr/weights/tiny.safetensors"
    with pytest.raises(UpscaleError) as info:
        load_model("hf://someone/tiny-sr/weights/other.safetensors")
    assert "running offline" in str(info.value) and "\n" not in str(info.value)


# --- weights/ folder, registry, errors --------------------------------------------------


def test_weights_folder_checkpoints_are_named_by_stem(tmp_path, monkeypatch):
    folder = tmp_path / "my_weights"
    folder.mkdir()
    original = tiny_rrdbnet()
    torch.save(original.state_dict(), folder / "MyNet.pth")
    monkeypatch.setenv("UPSCALE_WEIGHTS_DIR", str(folder))
    assert same_outputs(original, load_model("MyNet"))
    assert same_outputs(original, load_model("mynet"))  # case does not matter


def test_download_only_model_uses_a_dropped_in_file(tmp_path, monkeypatch):
    folder = tmp_path / "w"
    folder.mkdir()
    original = tiny_rrdbnet()
    torch.save({"params_ema": original.state_dict()}, folder / "RealESRNet_x4plus.pth")
    monkeypatch.setenv("UPSCALE_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("UPSCALE_OFFLINE", "1")
    loaded = load_model("realesrnet-x4plus")
    assert same_outputs(original, loaded)
    assert resolve_weights("RealESRNet_x4plus").path == folder / "RealESRNet_x4plus.pth"


def test_offline_without_the_file_says_what_where_and_how(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UpscaleError) as info:
        load_model("realesrnet-x4plus")
    message = str(info.value)
    assert "\n" not in message
    assert "realesrnet-x4plus" in message and "not available offline" in message
    assert "https://github.com/xinntao/Real-ESRGAN/releases/" in message
    assert "put RealESRNet_x4plus.pth in" in message and "-m PATH" in message


def test_unknown_model_name_lists_the_registry():
    with pytest.raises(UpscaleError) as info:
        load_model("no-such-model")
    assert "unknown model 'no-such-model'" in str(info.value)
    assert "realesrgan-x4plus" in str(info.value) and "\n" not in str(info.value)


def test_registry_describes_every_model_and_its_family():
    names = {entry.name for entry in list_models()}
    assert {"realesrgan-x4plus", "realesrnet-x4plus", "realesrgan-x4plus-anime-6b",
            "realesrgan-x2plus", "realesr-animevideov3", "realesr-general-x4v3",
            "realesr-general-wdn-x4v3", "esrgan-x4-df2kost", "realsr-df2k-x4"} <= names
    for entry in list_models():
        assert entry.architecture in ("RRDBNet", "SRVGGNetCompact") and entry.licence
        assert entry.sources
        for member in (entry.psnr_member, entry.family.get("gan")):
            assert member is None or member in names
    assert find_model("realesrgan-x4plus").psnr_member == "realesrnet-x4plus"
    assert find_model("realesr-general-x4v3").psnr_member == "realesr-general-wdn-x4v3"
    assert find_model("RealESRGAN_x4plus").name == "realesrgan-x4plus"  # alias


def test_failed_first_download_leaves_no_empty_folders(web, tmp_path):
    _, base, _ = web
    with pytest.raises(UpscaleError):
        load_model(f"{base}/nowhere/missing.pth")
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.rglob("*")), list(cache.rglob("*"))


def test_unreachable_hub_fails_at_once_in_one_line(monkeypatch, caplog):
    """No route to the Hub: one clear line, without huggingface_hub's retry chatter."""
    import socket

    with socket.socket() as closed:  # a loopback port with nothing listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with caplog.at_level("DEBUG"), pytest.raises(UpscaleError) as info:
        load_model("hf://someone/absent/model.pth")
    message = str(info.value)
    assert "could not be reached" in message and "\n" not in message
    assert not [r for r in caplog.records if "Retry" in r.getMessage()]


def test_first_use_conversion_announces_itself(tmp_path, monkeypatch):
    """Converting packaged weights takes seconds: the user is told while it runs."""
    import contextlib

    from upscale.notes import report_long_steps

    said: list[str] = []
    report_long_steps(lambda message: said.append(message) or contextlib.nullcontext())
    try:
        load_model("realesr-animevideov3")
        load_model("realesr-animevideov3")  # cached now: nothing to announce
    finally:
        report_long_steps(None)
    assert len(said) == 1 and "converting" in said[0] and "first use" in said[0]

