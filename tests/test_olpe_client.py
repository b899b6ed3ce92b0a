"""`manage.py olpe_client` against a real platform: daphne and a worker cluster in subprocesses.

The client runs as a curator would start it, in a process of its own, so its
exit status and its messages are checked as a shell sees them.
"""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from tests.live import free_port, live_platform
from tooling.demo import make_demo_map

WIDTH, HEIGHT = 256, 192


def run_client(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "olpe_client", *map(str, arguments)],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "OLPE_TRANSLATION_ENABLED": "false"},
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with live_platform("embedded", tmp_path_factory.mktemp("olpe-client"), workers=1,
                       tokens=1) as live:
        yield live


@pytest.fixture
def pictures(tmp_path):
    image_path, mask_path = tmp_path / "map.png", tmp_path / "mask.png"
    make_demo_map(width=WIDTH, height=HEIGHT, seed=4).save(image_path)
    strokes = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    strokes[60:130, 80:170] = (255, 0, 0, 255)
    Image.fromarray(strokes, "RGBA").save(mask_path)
    return image_path, mask_path


def assert_repainted_map(out_path, image_path):
    result = Image.open(io.BytesIO(out_path.read_bytes()))
    assert result.format == "PNG" and result.size == (WIDTH, HEIGHT)
    original = np.asarray(Image.open(image_path).convert("RGB"))
    repainted = np.asarray(result.convert("RGB"))
    assert not np.array_equal(repainted[60:130, 80:170], original[60:130, 80:170])
    assert np.array_equal(repainted[:, :30], original[:, :30])


@pytest.mark.slow
@pytest.mark.parametrize("follow", ["websocket", "websocket with a token", "polling"])
def test_the_client_follows_the_job_and_saves_the_result(platform, pictures, tmp_path, follow):
    """With a token the websocket is opened as a program (no Origin), without as a page."""
    image_path, mask_path = pictures
    out_path = tmp_path / "result.png"
    extra = {"polling": ["--no-websocket"], "websocket": [],
             "websocket with a token": ["--token", platform.tokens[0]]}[follow]
    completed = run_client(
        "--server", platform.platform.url("/"), "--image", image_path, "--mask", mask_path,
        "--prompt", "Ein See", "--engine", "classic", "--seed", 5, "--out", out_path, *extra,
    )

    assert completed.returncode == 0, completed.stderr + platform.log_tail()
    assert f"Wrote {out_path}" in completed.stdout
    assert "succeeded" in completed.stderr  # the progress bar's last word
    assert "Websocket unavailable" not in completed.stderr  # no silent fallback to polling
    assert_repainted_map(out_path, image_path)


@pytest.mark.slow
def test_the_client_speaks_the_legacy_contract(platform, pictures, tmp_path):
    image_path, mask_path = pictures
    out_path = tmp_path / "legacy.png"
    completed = run_client(
        "--server", platform.platform.url("/"), "--image", image_path, "--mask", mask_path,
        "--prompt", "Ein Wald", "--legacy", "--guidance", 7, "--out", out_path,
    )

    assert completed.returncode == 0, completed.stderr + platform.log_tail()
    assert_repainted_map(out_path, image_path)


@pytest.mark.slow
def test_refused_wishes_are_explained_field_by_field(platform, pictures, tmp_path):
    image_path, mask_path = pictures
    completed = run_client(
        "--server", platform.platform.url("/"), "--image", image_path, "--mask", mask_path,
        "--prompt", "Ein See", "--steps", 0, "--guidance", 99, "--out", tmp_path / "never.png",
    )

    assert completed.returncode != 0
    assert "The server refused the wish" in completed.stderr
    assert "  steps: " in completed.stderr and "  guidance: " in completed.stderr
    assert not (tmp_path / "never.png").exists()


def test_an_unreachable_server_is_a_clear_error(pictures, tmp_path):
    image_path, mask_path = pictures
    completed = run_client(
        "--server", f"http://127.0.0.1:{free_port()}", "--image", image_path, "--mask", mask_path,
        "--prompt", "Ein See", "--out", tmp_path / "never.png", timeout=60,
    )

    assert completed.returncode != 0
    assert "Cannot reach the server at http://127.0.0.1:" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "never.png").exists()
