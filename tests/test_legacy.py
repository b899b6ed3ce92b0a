"""The prototype's contract, `POST /inpainting/`, with requests shaped like its frontend's.

The old frontend read the map and the painted strokes from two canvases
(`canvas.toDataURL()`: RGBA PNG data URLs), posted them as JSON from another
origin without a CSRF token, and showed the PNG it got back.
"""

import base64
import io
import json

import numpy as np
import pytest
from django.core.cache import cache
from django.test import Client
from django_q.conf import Conf
from PIL import Image

from inpainting.models import InpaintJob
from museum.models import SiteSettings
from tooling.demo import make_demo_map

WIDTH, HEIGHT = 192, 128
PAINTED = (slice(40, 90), slice(60, 130))
URL = "/inpainting/"
FRONTEND_ORIGIN = "http://localhost:3000"


def canvas_data_url(pixels: np.ndarray) -> str:
    """What `canvas.toDataURL()` gives: an RGBA PNG as a base64 data URL."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _short_legacy_timeout(settings):
    # A job that never runs (a test without real commits) fails in seconds, not ten minutes.
    settings.OLPE_LEGACY_TIMEOUT = 20


@pytest.fixture
def map_pixels() -> np.ndarray:
    """The map as the frontend's canvas holds it: RGB plus an opaque alpha channel."""
    rgb = np.asarray(make_demo_map(width=WIDTH, height=HEIGHT, seed=9))
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


def strokes(painted=PAINTED) -> np.ndarray:
    """The drawing canvas: opaque white brush strokes on transparency."""
    mask = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    mask[painted] = (255, 255, 255, 255)
    return mask


def prototype_request(map_pixels, mask_pixels, **changes) -> bytes:
    payload = {
        "prompt": "Was wäre, wenn hier ein See wäre?",
        "image": canvas_data_url(map_pixels),
        "mask": canvas_data_url(mask_pixels),
        "model": 0,
        "guidance_scale": 7,
        **changes,
    }
    return json.dumps(payload).encode()


def post(body: bytes, client=None, **headers):
    client = client or Client(enforce_csrf_checks=True)  # the frontend sent no CSRF token
    return client.post(URL, data=body, content_type="application/json",
                       HTTP_ORIGIN=FRONTEND_ORIGIN, **headers)


@pytest.fixture
def jobs_run_inline(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def jobs_stay_queued(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)


def decoded(response) -> np.ndarray:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


@pytest.mark.django_db(transaction=True)
def test_prototype_request_gets_the_repainted_map(map_pixels, jobs_run_inline):
    # The prototype let visitors pick the model; here curators decide whether they may.
    SiteSettings.objects.update_or_create(pk=1, defaults={"visitors_choose_engine": True})
    response = post(prototype_request(map_pixels, strokes()))

    result = decoded(response)
    assert response["Access-Control-Allow-Origin"] == "*"
    original = map_pixels[..., :3]
    assert result.shape == original.shape
    assert not np.array_equal(result[PAINTED], original[PAINTED])
    assert np.array_equal(result[:, :20], original[:, :20])  # far from the strokes: untouched

    job = InpaintJob.objects.get()
    # Model 0 is the own model; without its weights here the classic engine stood in.
    assert job.requested_engine == "diffusers" and job.engine == "classic"
    assert job.notice and job.guidance == 7.0
    with job.result_image.open("rb") as stored:
        assert response.content == stored.read()


@pytest.mark.django_db
def test_an_empty_mask_answers_the_map_unchanged(map_pixels, jobs_stay_queued):
    response = post(prototype_request(map_pixels, np.zeros((HEIGHT, WIDTH, 4), np.uint8)))

    assert np.array_equal(decoded(response), map_pixels[..., :3])
    assert not InpaintJob.objects.exists()


@pytest.mark.django_db
def test_preflight_allows_any_origin():
    response = Client().options(
        URL, HTTP_ORIGIN=FRONTEND_ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]


@pytest.mark.django_db
def test_only_post_and_options(map_pixels):
    response = Client().get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.django_db(transaction=True)  # the job must really run: commits, not a wrapper
@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"{not json", 400, id="not JSON"),
        pytest.param(b"[1, 2]", 400, id="not an object"),
        pytest.param(lambda m: prototype_request(m, strokes(), image=None), 400,
                     id="missing image"),
        pytest.param(lambda m: prototype_request(m, strokes(), image="data:image/png;base64,@@"),
                     400, id="bad base64"),
        pytest.param(lambda m: prototype_request(
            m, strokes(), image="data:image/png;base64," + base64.b64encode(b"GIF89a").decode()),
            400, id="not a picture"),
        pytest.param(lambda m: prototype_request(m, strokes(), model=2), 400, id="unknown model"),
        pytest.param(lambda m: prototype_request(m, strokes(), guidance_scale="viel"), 400,
                     id="guidance not a number"),
        pytest.param(lambda m: prototype_request(m, strokes(), guidance_scale=99), 400,
                     id="guidance out of range"),
        pytest.param(lambda m: prototype_request(m, strokes(), prompt="   "), 422, id="empty wish"),
    ],
)
def test_errors_are_json_details(map_pixels, jobs_stay_queued, body, status):
    body = body(map_pixels) if callable(body) else body
    response = post(body, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json()["detail"]
    assert not InpaintJob.objects.exists()


@pytest.mark.django_db(transaction=True)  # the job must really run: commits, not a wrapper
def test_openai_without_a_key_gives_way_to_an_engine_that_runs(
    map_pixels, settings, jobs_run_inline, reset_engines
):
    SiteSettings.objects.update_or_create(pk=1, defaults={"visitors_choose_engine": True})
    settings.OPENAI_API_KEY = ""
    response = post(prototype_request(map_pixels, strokes(), model=1))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    job = InpaintJob.objects.get()
    assert (job.requested_engine, job.engine) == ("openai", "classic")
    assert job.notice


@pytest.mark.django_db
def test_a_request_above_the_upload_limit_is_refused(map_pixels, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(prototype_request(map_pixels, strokes()))
    assert response.status_code == 413


@pytest.mark.django_db
def test_a_job_not_done_in_time_is_cancelled_and_answers_504(map_pixels, settings,
                                                             jobs_stay_queued):
    settings.OLPE_LEGACY_TIMEOUT = 0  # no worker runs: the job can only time out
    response = post(prototype_request(map_pixels, strokes()))

    assert response.status_code == 504
    assert response.json()["detail"]
    assert InpaintJob.objects.get().status == InpaintJob.Status.CANCELLED


@pytest.mark.django_db
def test_legacy_wishes_share_the_job_creation_limit(map_pixels, settings, jobs_stay_queued):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"jobs": "1/minute"}
    }
    settings.OLPE_LEGACY_TIMEOUT = 0
    assert post(prototype_request(map_pixels, strokes())).status_code == 504
    throttled = post(prototype_request(map_pixels, strokes()))
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled["Access-Control-Allow-Origin"] == "*"
    assert InpaintJob.objects.count() == 1
