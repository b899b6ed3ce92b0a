"""The REST API under /api/v1/: submitting, reading, cancelling, listing, and its schema.

Jobs that must finish run inline (django-q2 `sync`), through the real worker
task, on the offline classic engine; jobs that must stay queued go to the
ORM broker's table, where no cluster picks them up.
"""

import base64
import io

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django_q.conf import Conf
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inpainting.api.serializers import JobJsonSerializer, JobStateSerializer
from inpainting.models import InpaintJob
from tests.errors import codes, message
from tooling.demo import make_demo_map

WIDTH, HEIGHT = 192, 128
PAINTED = (slice(40, 90), slice(60, 130))

pytestmark = pytest.mark.django_db


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stroke_mask(width=WIDTH, height=HEIGHT, painted=PAINTED) -> bytes:
    """A red stroke on transparency, as the kiosk's canvas paints it."""
    paint = np.zeros((height, width, 4), dtype=np.uint8)
    paint[painted] = (255, 0, 0, 255)
    return png_bytes(Image.fromarray(paint, "RGBA"))


def square_mask(side: int) -> bytes:
    return stroke_mask(side, side, (slice(10, 50), slice(10, 50)))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache; every test starts with a clean slate.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def map_png():
    return png_bytes(make_demo_map(width=WIDTH, height=HEIGHT, seed=5))


@pytest.fixture
def mask_png():
    return stroke_mask()


@pytest.fixture
def jobs_run_inline(monkeypatch):
    """The worker task runs inside the request (django-q2 sync mode), as in a worker."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def jobs_stay_queued(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def curator():
    return get_user_model().objects.create_user("kuratorin", password="x", is_staff=True)


def token_client(username: str) -> tuple[APIClient, object]:
    user = get_user_model().objects.create_user(username, password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, user


def jobs_url():
    return reverse("inpainting:api:job-list")


def json_wish(map_png, mask_png, **extra) -> dict:
    return {"image": b64(map_png), "mask": b64(mask_png), "prompt": "Ein See", **extra}


def submit_json(client, map_png, mask_png, language="en", **extra):
    return client.post(jobs_url(), json_wish(map_png, mask_png, **extra), format="json",
                       HTTP_ACCEPT_LANGUAGE=language)


# --- submitting --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_json_wish_is_accepted_and_painted_by_a_worker(api, map_png, mask_png, jobs_run_inline):
    response = submit_json(api, map_png, mask_png, engine="classic", seed=11, steps=4)

    assert response.status_code == 202
    body = response.json()
    job_id = body["id"]
    assert body["url"] == f"/api/v1/jobs/{job_id}/"
    assert body["websocket_url"] == f"/ws/jobs/{job_id}/"
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job_id}/"

    state = api.get(body["url"]).json()
    assert state["status"] == "succeeded"
    assert state["result_url"] == f"/api/v1/jobs/{job_id}/result.png"

    result = api.get(state["result_url"])
    assert result.status_code == 200
    assert result["Content-Type"] == "image/png"
    painted = np.asarray(Image.open(io.BytesIO(result.content)).convert("RGB"))
    original = np.asarray(Image.open(io.BytesIO(map_png)).convert("RGB"))
    assert painted.shape == original.shape
    assert not np.array_equal(painted[PAINTED], original[PAINTED])
    assert np.array_equal(painted[:, :20], original[:, :20])  # far from the stroke: untouched

    preview = api.get(f"/api/v1/jobs/{job_id}/preview.jpg")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"


@pytest.mark.django_db(transaction=True)
def test_multipart_wish_is_accepted_and_painted(api, map_png, mask_png, jobs_run_inline):
    response = api.post(
        jobs_url(),
        {
            "image": io.BytesIO(map_png), "mask": io.BytesIO(mask_png), "prompt": "Ein Wald",
            "engine": "classic", "seed": "3", "style": "none",
        },
        format="multipart",
    )
    assert response.status_code == 202
    job = InpaintJob.objects.get(pk=response.json()["id"])
    assert job.status == InpaintJob.Status.SUCCEEDED
    assert job.seed == 3 and job.prompt_original == "Ein Wald"
    assert job.client_ip == "127.0.0.1"


def test_data_url_wish_is_stored_and_queued(api, map_png, mask_png, jobs_stay_queued):
    wish = {
        "image": "data:image/png;base64," + b64(map_png),
        "mask": "data:image/png;base64," + b64(mask_png),
        "prompt": "Was wäre, wenn hier ein See wäre?",
    }
    response = api.post(jobs_url(), wish, format="json")

    assert response.status_code == 202
    state = response.json()
    assert state["status"] == "queued" and state["position"] == 1
    assert state["result_url"] is None
    job = InpaintJob.objects.get(pk=state["id"])
    with job.input_image.open("rb") as stored:
        assert np.array_equal(
            np.asarray(Image.open(stored).convert("RGB")),
            np.asarray(Image.open(io.BytesIO(map_png)).convert("RGB")),
        )


def test_the_schema_documents_every_field_of_a_job(api, map_png, mask_png, jobs_stay_queued):
    state = submit_json(api, map_png, mask_png).json()
    documented = JobStateSerializer().fields
    assert set(state) == set(documented)
    for nested in ("prompts", "progress"):
        assert set(state[nested]) == set(documented[nested].fields)


def test_base64_wrapped_in_lines_is_accepted(api, map_png, mask_png, jobs_stay_queued):
    wrapped = "\n".join(b64(map_png)[i:i + 76] for i in range(0, len(b64(map_png)), 76))
    response = api.post(
        jobs_url(), {"image": wrapped, "mask": b64(mask_png), "prompt": "See"}, format="json"
    )
    assert response.status_code == 202


# --- refusals ------------------------------------------------------------------------------


def _corrupt(map_png):
    return map_png[:200]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        pytest.param(lambda wish: wish.pop("prompt"), "prompt", "required", id="missing prompt"),
        pytest.param(lambda wish: wish.pop("image"), "image", "no_map", id="missing image"),
        pytest.param(lambda wish: wish.pop("mask"), "mask", "required", id="missing mask"),
        pytest.param(lambda wish: wish.update(prompt="   "), "prompt", "blank", id="empty prompt"),
        pytest.param(lambda wish: wish.update(image=b64(b"not a picture at all")), "image", "not_image",
                     id="not a picture"),
        pytest.param(lambda wish: wish.update(image=b64(_corrupt(base64.b64decode(wish["image"])))),
                     "image", "truncated", id="corrupt image"),
        pytest.param(lambda wish: wish.update(mask=b64(square_mask(100))), "mask", "size_mismatch",
                     id="mask of another size"),
        pytest.param(lambda wish: wish.update(mask=b64(stroke_mask(painted=(slice(0, 0),) * 2))),
                     "mask", "empty_mask", id="empty mask"),
        pytest.param(lambda wish: wish.update(image="iVBORw0KGgo*&%$"), "image", "invalid", id="bad base64"),
        pytest.param(lambda wish: wish.update(image="data:image/png,iVBORw0KGgo="), "image", "not_base64_data_url",
                     id="data URL without base64"),
        pytest.param(lambda wish: wish.update(image=12345), "image", "not_text", id="image not text"),
        pytest.param(lambda wish: wish.update(steps=0), "steps", "min_value", id="steps too few"),
        pytest.param(lambda wish: wish.update(steps=10_000), "steps", "max_value", id="steps too many"),
        pytest.param(lambda wish: wish.update(guidance=31), "guidance", "max_value", id="guidance too high"),
        pytest.param(lambda wish: wish.update(strength=1.5), "strength", "max_value", id="strength above 1"),
        pytest.param(lambda wish: wish.update(seed=-1), "seed", "min_value", id="negative seed"),
        pytest.param(lambda wish: wish.update(seed=2**32), "seed", "max_value", id="seed too large"),
        pytest.param(lambda wish: wish.update(engine="dall-e-9"), "engine", "invalid_choice", id="unknown engine"),
        pytest.param(lambda wish: wish.update(style="cubism"), "style", "invalid_choice", id="unknown style"),
    ],
)
def test_refused_wishes_answer_400_with_field_messages(api, map_png, mask_png, jobs_stay_queued,
                                                        change, field, code):
    wish = json_wish(map_png, mask_png)
    change(wish)
    response = api.post(jobs_url(), wish, format="json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert codes(response, field) == [code]
    assert not InpaintJob.objects.exists()


def test_empty_mask_and_mask_of_another_size_say_why(api, map_png, mask_png, jobs_stay_queued):
    empty = submit_json(api, map_png, stroke_mask(painted=(slice(0, 0),) * 2)).json()
    assert empty["mask"][0]["code"] == "empty_mask"
    other = submit_json(api, map_png, square_mask(100)).json()["mask"][0]
    assert other["code"] == "size_mismatch"
    assert "100 × 100" in other["message"] and f"{WIDTH} × {HEIGHT}" in other["message"]


def test_an_engine_that_cannot_run_falls_back_and_says_so(
    api, map_png, mask_png, jobs_stay_queued, settings, reset_engines
):
    # Token clients may choose the engine; one that cannot run gives way to one that can.
    user = get_user_model().objects.create_user("museum-app")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    settings.OPENAI_API_KEY = ""
    response = submit_json(api, map_png, mask_png, engine="openai")
    assert response.status_code == 202
    body = response.json()
    assert body["engine"] == "classic" and body["requested_engine"] == "openai"
    assert body["notice"]


def test_multipart_refusals_name_the_field(api, map_png, jobs_stay_queued):
    response = api.post(
        jobs_url(), {"image": io.BytesIO(map_png), "mask": io.BytesIO(b""), "prompt": "See"},
        format="multipart", HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"mask"}


def test_a_json_body_above_the_upload_limit_is_refused_before_parsing(
    api, map_png, mask_png, settings, jobs_stay_queued
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(map_png)  # the base64 body is larger
    response = submit_json(api, map_png, mask_png)
    assert response.status_code == 413
    assert "detail" in response.json()


def test_an_encoded_picture_longer_than_the_limit_is_refused_before_decoding(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    serializer = JobJsonSerializer(data={"image": "A" * 1004, "mask": "AAAA", "prompt": "See"})
    assert not serializer.is_valid()
    assert [error.code for error in serializer.errors["image"]] == ["too_large"]


def test_messages_are_german_by_default_and_english_on_request(api, map_png, mask_png,
                                                               jobs_stay_queued):
    wish = json_wish(map_png, mask_png)
    del wish["prompt"]
    german = api.post(jobs_url(), wish, format="json")
    english = api.post(jobs_url(), wish, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert codes(german, "prompt") == codes(english, "prompt") == ["required"]
    assert message(german, "prompt") == "Dieses Feld ist zwingend erforderlich."
    assert message(english, "prompt") == "This field is required."


# --- reading ---------------------------------------------------------------------------------


def test_result_and_preview_are_404_with_the_status_until_the_job_succeeded(
    api, map_png, mask_png, jobs_stay_queued
):
    job_id = submit_json(api, map_png, mask_png).json()["id"]
    for path in (f"/api/v1/jobs/{job_id}/result.png", f"/api/v1/jobs/{job_id}/preview.jpg"):
        # Even a client that only accepts pictures learns why there is none.
        response = api.get(path, HTTP_ACCEPT="image/png", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["status"] == "queued" and response.json()["detail"]


def test_unknown_job_is_404(api):
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.get(f"/api/v1/jobs/{missing}/").status_code == 404
    assert api.get(f"/api/v1/jobs/{missing}/result.png").status_code == 404
    assert api.delete(f"/api/v1/jobs/{missing}/").status_code == 404


# --- cancelling --------------------------------------------------------------------------------


def test_the_browser_session_that_made_a_wish_may_cancel_it(api, map_png, mask_png,
                                                            jobs_stay_queued):
    url = submit_json(api, map_png, mask_png).json()["url"]

    response = api.delete(url)
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    # Cancelling is idempotent: a second cancel changes nothing and is no error.
    assert api.delete(url).status_code == 202
    assert api.get(url).json()["status"] == "cancelled"


def test_another_visitor_may_not_cancel_but_a_curator_may(api, curator, map_png, mask_png,
                                                          jobs_stay_queued):
    url = submit_json(api, map_png, mask_png).json()["url"]

    stranger = APIClient()
    stranger.get("/api/v1/engines/")  # has a session of its own, just not this one
    refused = stranger.delete(url, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 403
    assert codes(refused) == ["permission_denied"] and "cancel" in message(refused)
    assert api.get(url).json()["status"] == "queued"

    staff = APIClient()
    staff.force_authenticate(curator)
    assert staff.delete(url).status_code == 202
    assert api.get(url).json()["status"] == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_cannot_be_cancelled(api, map_png, mask_png, jobs_run_inline):
    url = submit_json(api, map_png, mask_png, engine="classic").json()["url"]
    response = api.delete(url)
    assert response.status_code == 409
    assert response.json()["status"] == "succeeded"


def test_token_users_own_their_jobs(map_png, mask_png, jobs_stay_queued):
    owner_client, owner = token_client("stadtarchiv")
    other_client, _ = token_client("schule")

    response = submit_json(owner_client, map_png, mask_png)
    assert response.status_code == 202
    job = InpaintJob.objects.get(pk=response.json()["id"])
    assert job.api_user == owner and job.kiosk_session == ""

    assert other_client.delete(response.json()["url"]).status_code == 403
    assert owner_client.delete(response.json()["url"]).status_code == 202


def test_a_wrong_token_is_refused(api, map_png, mask_png):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert submit_json(api, map_png, mask_png).status_code == 401


# --- the curators' list ------------------------------------------------------------------------


def test_only_curators_list_jobs(api, curator, map_png, mask_png, jobs_stay_queued):
    first = submit_json(api, map_png, mask_png).json()["url"]
    submit_json(api, map_png, mask_png)
    api.delete(first)

    assert api.get(jobs_url()).status_code == 401
    visitor_client, _ = token_client("besucher")
    assert visitor_client.get(jobs_url()).status_code == 403

    staff = APIClient()
    staff.force_authenticate(curator)
    everything = staff.get(jobs_url()).json()
    assert everything["count"] == 2 and len(everything["results"]) == 2
    queued = staff.get(jobs_url(), {"status": "queued"}).json()
    assert [job["status"] for job in queued["results"]] == ["queued"]
    assert queued["results"][0]["url"].startswith("/api/v1/jobs/")
    assert staff.get(jobs_url(), {"page_size": 1}).json()["next"]
    assert staff.get(jobs_url(), {"status": "dreaming"}).status_code == 400


# --- limits ---------------------------------------------------------------------------------------


def test_anonymous_clients_are_throttled(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "100/minute", "jobs": "100/minute"},
    }
    statuses = [api.get("/api/v1/engines/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert int(api.get("/api/v1/engines/")["Retry-After"]) > 0


def test_job_creation_has_its_own_stricter_limit(api, map_png, mask_png, settings,
                                                 jobs_stay_queued):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/minute", "user": "100/minute", "jobs": "1/minute"},
    }
    assert submit_json(api, map_png, mask_png).status_code == 202
    assert submit_json(api, map_png, mask_png).status_code == 429
    assert api.get("/api/v1/engines/").status_code == 200  # reading is still allowed
    assert InpaintJob.objects.count() == 1


def test_token_users_are_throttled_by_account(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1/minute", "user": "3/minute"},
    }
    client, _ = token_client("museumsapp")
    assert [client.get("/api/v1/styles/").status_code for _ in range(4)] == [200, 200, 200, 429]


# --- what the server offers --------------------------------------------------------------------


def test_engines_say_whether_they_can_run_and_why_not(api, settings, reset_engines):
    settings.OPENAI_API_KEY = ""
    settings.OLPE_MODEL = str(settings.DATA_DIR / "no-such-model")
    body = api.get("/api/v1/engines/", HTTP_ACCEPT_LANGUAGE="en").json()

    assert body["default"] == settings.OLPE_DEFAULT_ENGINE
    engines = {engine["name"]: engine for engine in body["engines"]}
    assert set(engines) == {"classic", "diffusers", "openai"}
    assert engines["classic"]["usable"] and engines["classic"]["reason"] == ""
    for name in ("diffusers", "openai"):
        assert not engines[name]["usable"] and engines[name]["reason"]
    assert [name for name, engine in engines.items() if engine["default"]] == [body["default"]]


def test_styles_are_listed(api):
    styles = api.get("/api/v1/styles/").json()
    assert any(style["key"] == "none" for style in styles)
    assert all(style["label"] for style in styles)


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    create = paths["/api/v1/jobs/"]["post"]
    assert set(create["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"202", "400", "429"} <= set(create["responses"])
    assert set(paths["/api/v1/jobs/{id}/"]["delete"]["responses"]) >= {"202", "403", "404", "409"}
    result = paths["/api/v1/jobs/{id}/result.png"]["get"]
    assert "image/png" in result["responses"]["200"]["content"]
    assert api.get("/api/v1/docs/").status_code == 200


def test_the_seed_range_is_the_one_every_engine_takes(api):
    """One range (GenerationSettings.SEED_RANGE): the schema's, the API's and the engines'."""
    from inpainting_core.engines.base import EngineRequest
    from inpainting_core.engines.classic.engine import seed_for
    from inpainting_core.generation import GenerationSettings, random_seed

    low, high = GenerationSettings.SEED_RANGE
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    seed = schema["components"]["schemas"]["JobJson"]["properties"]["seed"]
    assert (seed["minimum"], seed["maximum"]) == (low, high)
    assert high < 2**53  # a JavaScript client holds every seed exactly
    assert all(low <= random_seed() <= high for _ in range(100))
    request = EngineRequest(image=Image.new("RGB", (8, 8)), mask=Image.new("L", (8, 8)),
                            prompt="a lake", seed=high)
    assert seed_for(request) == high  # painted with as given, not folded into another range


def test_schema_passes_spectacular_validation(tmp_path):
    # Warnings (a view it cannot introspect, a guessed type) fail the command too.
    schema = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    assert "/api/v1/jobs/{id}/result.png" in schema.read_text()
