"""`manage.py fetch_model` and the model store: download, offline failures, local models.

Downloads run against a small local HTTP server that answers the hub's API
for one repository (the tiny model plus files a real repository also carries:
fp16 duplicates, a single-file checkpoint, a safety checker), so the real
huggingface_hub client runs end to end without network.
"""

import hashlib
import io
import json
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from django.core.management import CommandError, call_command

from inpainting_core import model_store
from inpainting_core.engines.diffusion import DiffusersEngine

HUB_ID = "olpe-test/tiny-inpainting"
LORA_ID = "olpe-test/watercolour-lora"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def run_fetch(*args):
    out = io.StringIO()
    call_command("fetch_model", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fetch") / "tiny"
    call_command("build_tiny_model", str(directory), stdout=io.StringIO())
    return directory


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.OLPE_MODEL_DIR = tmp_path / "models"
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_LORA_STYLES = {}
    return settings.OLPE_MODEL_DIR


@pytest.fixture
def hub_endpoint(monkeypatch):
    """Point the hub client at `url` for this test only, as HF_ENDPOINT=url would at import."""
    from huggingface_hub import constants

    def point_to(url):
        monkeypatch.setattr(constants, "ENDPOINT", url)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")

    return point_to


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------
# A local stand-in for the hub
# ------------------------------------------------------------------------------


def repository_files(tiny_model: Path) -> dict[str, bytes]:
    files = {
        path.relative_to(tiny_model).as_posix(): path.read_bytes()
        for path in tiny_model.rglob("*")
        if path.is_file()
    }
    unet_weights = files["unet/diffusion_pytorch_model.safetensors"]
    files["unet/diffusion_pytorch_model.fp16.safetensors"] = unet_weights
    files["unet/diffusion_pytorch_model.bin"] = b"pickled duplicate"
    files["safety_checker/config.json"] = b"{}"
    files["safety_checker/model.safetensors"] = b"a large classifier"
    files["olpe-v2.ckpt"] = b"a single-file checkpoint for other tools"
    files["README.md"] = b"# Olpe test model\n"
    return files


class FakeHub(BaseHTTPRequestHandler):
    """Answers model_info, the tree listing and file downloads for a few repositories."""

    repositories: dict[str, dict[str, bytes]] = {}
    requested: list[str] = []

    def do_HEAD(self):
        self._answer(send_body=False)

    def do_GET(self):
        self._answer(send_body=True)

    def log_message(self, *args):
        pass

    def _answer(self, send_body: bool):
        path = unquote(urlparse(self.path).path)
        self.requested.append(path)
        repo = r"(?P<repo>[^/]+/[^/]+)"
        api = re.fullmatch(rf"/api/models/{repo}(?:/revision/[^/]+)?", path)
        tree = re.fullmatch(rf"/api/models/{repo}/tree/[^/]+(?:/.*)?", path)
        download = re.fullmatch(rf"/{repo}/resolve/[^/]+/(?P<file>.+)", path)
        found = next((m for m in (api, tree, download) if m), None)
        files = self.repositories.get(found.group("repo")) if found else None
        if files is None or (download and download.group("file") not in files):
            self._send(
                404,
                b'{"error": "Repository not found"}',
                "application/json",
                send_body,
                {"X-Error-Code": "RepoNotFound"},
            )
        elif api:
            siblings = [{"rfilename": name} for name in sorted(files)]
            self._send_json(
                {"id": api.group("repo"), "sha": COMMIT, "siblings": siblings}, send_body
            )
        elif tree:
            entries = [
                {"type": "file", "path": name, "size": len(data), "oid": self._oid(data)}
                for name, data in sorted(files.items())
            ]
            self._send_json(entries, send_body)
        else:
            data = files[download.group("file")]
            self._send(
                200,
                data,
                "application/octet-stream",
                send_body,
                {"X-Repo-Commit": COMMIT, "ETag": f'"{self._oid(data)}"'},
            )

    @staticmethod
    def _oid(data: bytes) -> str:
        return hashlib.sha1(data).hexdigest()

    def _send_json(self, payload, send_body):
        self._send(200, json.dumps(payload).encode(), "application/json", send_body, {})

    def _send(self, status, body, content_type, send_body, headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


@pytest.fixture
def fake_hub(tiny_model, hub_endpoint):
    repositories = {
        HUB_ID: repository_files(tiny_model),
        LORA_ID: {"pytorch_lora_weights.safetensors": b"lora weights", "README.md": b"# LoRA"},
    }
    handler = type("TinyHub", (FakeHub,), {"repositories": repositories, "requested": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub_endpoint(f"http://127.0.0.1:{server.server_address[1]}")
    yield handler
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------------------
# Downloading
# ------------------------------------------------------------------------------


def test_fetch_downloads_one_copy_of_each_component_and_the_engine_finds_it(
    settings, model_dir, fake_hub
):
    settings.OLPE_MODEL = HUB_ID
    assert "fetch_model" in DiffusersEngine().status().reason

    output = run_fetch()

    target = model_dir / "olpe-test--tiny-inpainting"
    assert f"{HUB_ID} is ready in {target}" in output
    assert "9-channel UNet" in output
    assert sorted(path.name for path in (target / "unet").iterdir()) == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
    ]
    assert not (target / "safety_checker").exists()
    assert not (target / "olpe-v2.ckpt").exists()
    downloads = [path for path in fake_hub.requested if "/resolve/" in path]
    assert downloads and not [p for p in downloads if "fp16" in p or "safety_checker" in p]
    source = json.loads((target / model_store.SOURCE_RECORD).read_text())
    assert source["model"] == HUB_ID and source["commit"] == COMMIT
    assert DiffusersEngine().status().usable


def test_fetch_also_fetches_the_configured_style_adapters_from_the_hub(
    settings, model_dir, fake_hub, tmp_path
):
    settings.OLPE_MODEL = HUB_ID
    settings.OLPE_LORA_STYLES = {"watercolour": LORA_ID, "winter": str(tmp_path / "winter-lora")}
    assert model_store.adapter_source(LORA_ID) == LORA_ID  # not fetched: left to the HF cache

    output = run_fetch("--no-load-check")

    lora_copy = model_dir / "olpe-test--watercolour-lora"
    assert "watercolour" in output and "winter" not in output
    assert (lora_copy / "pytorch_lora_weights.safetensors").read_bytes() == b"lora weights"
    assert not (lora_copy / "README.md").exists()
    assert model_store.adapter_source(LORA_ID) == str(lora_copy)


def test_fetch_of_an_unknown_repository_says_so(settings, model_dir, fake_hub):
    with pytest.raises(CommandError, match="not found on the hub"):
        run_fetch("--model", "olpe-test/no-such-model", "--no-load-check")


def test_fetch_without_network_fails_with_a_clear_message(settings, model_dir, hub_endpoint):
    hub_endpoint(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(CommandError) as raised:
        run_fetch("--model", HUB_ID)
    message = str(raised.value)
    assert "Cannot reach the model hub" in message and HUB_ID in message
    assert not (model_dir / "olpe-test--tiny-inpainting").exists()


def test_fetch_in_offline_mode_says_so(settings, model_dir, hub_endpoint, monkeypatch):
    from huggingface_hub import constants

    hub_endpoint(f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CommandError, match="HF_HUB_OFFLINE"):
        run_fetch("--model", HUB_ID)


# ------------------------------------------------------------------------------
# Local directories
# ------------------------------------------------------------------------------


def test_a_local_directory_is_checked_not_downloaded(settings, model_dir, tiny_model):
    output = run_fetch("--model", str(tiny_model))
    assert "complete pipeline; nothing to download" in output
    assert "9-channel UNet" in output
    assert "miniature test model" in output
    assert f"set OLPE_MODEL={tiny_model}" in output
    assert not model_dir.exists()


def test_a_directory_without_a_pipeline_is_refused(settings, model_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CommandError, match="model_index.json is missing"):
        run_fetch("--model", str(empty))
    with pytest.raises(CommandError, match="does not exist"):
        run_fetch("--model", str(tmp_path / "nowhere"))


def test_a_directory_whose_weights_do_not_load_is_refused(
    settings, model_dir, tiny_model, tmp_path
):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"truncated")
    with pytest.raises(CommandError, match="does not load"):
        run_fetch("--model", str(broken))


def test_a_model_placed_in_the_model_dir_is_found_by_the_engine(settings, model_dir, tiny_model):
    settings.OLPE_MODEL = HUB_ID
    assert not DiffusersEngine().status().usable
    shutil.copytree(tiny_model, model_dir / "olpe-test--tiny-inpainting")
    assert DiffusersEngine().status().usable


def test_a_model_in_the_hugging_face_cache_is_found(
    settings, model_dir, tiny_model, tmp_path, monkeypatch
):
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    repository = cache / "models--olpe-test--tiny-inpainting"
    shutil.copytree(tiny_model, repository / "snapshots" / COMMIT)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    settings.OLPE_MODEL = HUB_ID

    location = model_store.locate(HUB_ID)
    assert location.path == repository / "snapshots" / COMMIT
    assert DiffusersEngine().status().usable


# ------------------------------------------------------------------------------
# Choosing files
# ------------------------------------------------------------------------------

STABLE_DIFFUSION_2_INPAINTING = [
    ".gitattributes",
    "README.md",
    "512-inpainting-ema.ckpt",
    "512-inpainting-ema.safetensors",
    "model_index.json",
    "feature_extractor/preprocessor_config.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder/pytorch_model.bin",
    "text_encoder/model.fp16.safetensors",
    "text_encoder/pytorch_model.fp16.bin",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.bin",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "vae/diffusion_pytorch_model.onnx",
    "safety_checker/config.json",
    "safety_checker/model.safetensors",
]


def test_selection_takes_full_precision_safetensors_once_per_component():
    assert model_store.select_pipeline_files(STABLE_DIFFUSION_2_INPAINTING) == [
        "feature_extractor/preprocessor_config.json",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ]


def test_selection_falls_back_to_fp16_then_to_pickles():
    fp16_only = [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.fp16.bin",
    ]
    assert model_store.select_pipeline_files(fp16_only) == [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
    ]
    sharded_pickles = [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model-00001-of-00002.bin",
        "unet/diffusion_pytorch_model-00002-of-00002.bin",
        "unet/diffusion_pytorch_model.bin.index.json",
    ]
    assert model_store.select_pipeline_files(sharded_pickles) == sorted(sharded_pickles)


def test_an_fp16_only_copy_is_loaded_as_the_fp16_variant(tmp_path):
    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "diffusion_pytorch_model.fp16.safetensors").touch()
    assert model_store.weights_variant(tmp_path) == "fp16"
    (unet / "diffusion_pytorch_model.safetensors").touch()
    assert model_store.weights_variant(tmp_path) is None


@pytest.mark.parametrize(
    "value, is_path",
    [
        ("GP-Alternativweltgeschichten/OlpeAI", False),
        ("stabilityai/stable-diffusion-2-inpainting", False),
        ("/srv/models/olpe", True),
        ("./models/olpe", True),
        ("~/olpe", True),
        ("a/b/c", True),
    ],
)
def test_hub_ids_and_directories_are_told_apart(value, is_path):
    assert model_store.looks_like_path(value) is is_path


def test_the_safety_checker_is_fetched_only_on_request():
    names = ["model_index.json", "unet/config.json", "unet/model.safetensors",
             "safety_checker/config.json", "safety_checker/model.safetensors",
             "feature_extractor/preprocessor_config.json"]
    assert "safety_checker/model.safetensors" not in model_store.select_pipeline_files(names)
    chosen = model_store.select_pipeline_files(names, with_safety_checker=True)
    assert {"safety_checker/config.json", "safety_checker/model.safetensors"} <= set(chosen)
