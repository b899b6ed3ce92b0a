"""Hostile and unlucky input against the API and the legacy endpoint (issue 11).

Every finding is replayed as it was found: through Django's test client, the
real views, parsers, throttles and the test database. Bad input gets a clear,
translated 4xx and leaves nothing behind; a database that is down gets a 503
with `Retry-After`; never a 500.
"""

import base64
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inpainting import jobs
from inpainting.api.parsers import JSONTooDeep, load_json, nests_deeper_than
from inpainting.models import InpaintJob
from museum.models import SiteSettings, World
from tooling.demo import make_demo_map
from tests.errors import codes, message

WIDTH, HEIGHT = 192, 128
PAINTED = (slice(40, 90), slice(60, 130))
JOBS_URL = "/api/v1/jobs/"
LEGACY_URL = "/inpainting/"
DEEP = 100_000  # levels of brackets in the nesting attack

pytestmark = pytest.mark.django_db


# --- pictures and requests ------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def demo_map(width=WIDTH, height=HEIGHT) -> bytes:
    return png_bytes(make_demo_map(width=max(width, 64), height=max(height, 64), seed=5)
                     .crop((0, 0, width, height)))


def stroke_mask(width=WIDTH, height=HEIGHT, painted=PAINTED) -> bytes:
    """A red stroke on transparency, as the kiosk's canvas paints it."""
    paint = np.zeros((height, width, 4), dtype=np.uint8)
    paint[painted] = (255, 0, 0, 255)
    return png_bytes(Image.fromarray(paint, "RGBA"))


def full_mask(width, height) -> bytes:
    return png_bytes(Image.new("L", (width, height), 255))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + b64(data)


def json_wish(**fields) -> dict:
    return {"image": b64(demo_map()), "mask": b64(stroke_mask()), "prompt": "Ein See", **fields}


def post_json(client, body, language="en", **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(JOBS_URL, data=data, content_type="application/json",
                       HTTP_ACCEPT_LANGUAGE=language, **headers)


def post_multipart(client, image: bytes, mask: bytes, language="en", **fields):
    return client.post(
        JOBS_URL,
        {"image": io.BytesIO(image), "mask": io.BytesIO(mask), "prompt": "Ein See", **fields},
        HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE=language,
    )


def legacy_body(image: bytes | None = None, mask: bytes | None = None, **changes) -> bytes:
    payload = {
        "prompt": "Was wäre, wenn hier ein See wäre?",
        "image": data_url(demo_map() if image is None else image),
        "mask": data_url(stroke_mask() if mask is None else mask),
        "model": 0,
        "guidance_scale": 7,
        **changes,
    }
    return json.dumps(payload).encode()


def post_legacy(body: bytes | str, language="en"):
    # The prototype's frontend posted from another origin, without a CSRF token.
    return Client(enforce_csrf_checks=True).post(
        LEGACY_URL, data=body, content_type="application/json",
        HTTP_ORIGIN="http://localhost:3000", HTTP_ACCEPT_LANGUAGE=language,
    )


def media_files() -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def assert_json_refusal(response, status=400) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.fixture
def jobs_stay_queued(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)


@pytest.fixture
def jobs_run_inline(monkeypatch):
    """The worker task runs inside the request (django-q2 sync mode), as in a worker."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def short_legacy_timeout(settings):
    settings.OLPE_LEGACY_TIMEOUT = 20


def site_settings(**fields):
    SiteSettings.objects.update_or_create(pk=1, defaults=fields)
    SiteSettings.forget_cached()


def token_client(username: str) -> APIClient:
    user = get_user_model().objects.create_user(username, password="x")
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# --- 1. deeply nested JSON ------------------------------------------------------------------


def nested_prompt(levels: int) -> str:
    return '{"prompt": ' + "[" * levels + "]" * levels + "}"


def test_deeply_nested_json_is_a_translated_400_on_the_api(jobs_stay_queued):
    response = post_json(APIClient(), nested_prompt(DEEP))
    assert_json_refusal(response)
    assert codes(response) == ["parse_error"]
    assert str(settings.OLPE_MAX_JSON_DEPTH) in message(response)

    german = post_json(APIClient(), nested_prompt(DEEP), language="de")
    assert_json_refusal(german)
    assert "zu tief verschachtelt" in message(german)
    assert not InpaintJob.objects.exists()


def test_deeply_nested_json_is_a_translated_400_on_the_legacy_endpoint(jobs_stay_queued):
    body = assert_json_refusal(post_legacy(nested_prompt(DEEP)))
    assert "nested too deeply" in body["detail"]
    german = assert_json_refusal(post_legacy(nested_prompt(DEEP), language="de"))
    assert "zu tief verschachtelt" in german["detail"]
    assert not InpaintJob.objects.exists()


def test_nesting_within_the_limit_reaches_the_field_checks(jobs_stay_queued):
    shallow = nested_prompt(3)
    body = assert_json_refusal(post_json(APIClient(), shallow))
    assert set(body) >= {"prompt", "image", "mask"}  # parsed; the fields say what is wrong


def test_depth_counts_brackets_outside_strings_only():
    limit = 3
    assert not nests_deeper_than(b"[[[]]]", limit)
    assert nests_deeper_than(b"[[[[]]]]", limit)
    assert not nests_deeper_than(b"[" + b"[]," * 100_000 + b"[]]", limit)  # wide, not deep
    assert not nests_deeper_than(json.dumps({"p": "[[[[[[[[" * 50}).encode(), limit)
    # Escaped quotes and backslashes do not end a string early.
    tricky = json.dumps({"p": 'a\\"[[[[[[\\', "q": '"{{{{{{"'}).encode()
    assert not nests_deeper_than(tricky, limit)
    assert json.loads(tricky) == load_json(tricky, limit=limit)
    # A bracket right after a string that ends in an escaped backslash is structure again.
    assert nests_deeper_than(b'["\\\\", [[[["x"]]]]]', limit)


def test_a_recursion_error_while_decoding_counts_as_too_deep():
    # Past the pre-check (limit lifted), Python's decoder runs out of recursion.
    with pytest.raises(JSONTooDeep):
        load_json("[" * DEEP + "]" * DEEP, limit=10 * DEEP)


# --- 2. text that is not text; nothing left behind -------------------------------------------


@pytest.mark.parametrize("wish", ["Ein See \ud800", "Ein \x00See"], ids=["lone surrogate", "NUL"])
def test_broken_text_in_a_legacy_wish_is_a_400_and_stores_nothing(
    wish, jobs_stay_queued, short_legacy_timeout
):
    body = json.dumps({"prompt": wish, "image": data_url(demo_map()),
                       "mask": data_url(stroke_mask()), "model": 0})
    assert "\\ud800" in body or "\\u0000" in body  # JSON's escapes, as a client sends them
    answer = assert_json_refusal(post_legacy(body))
    assert "not text" in answer["detail"]
    assert not InpaintJob.objects.exists()
    assert media_files() == []


@pytest.mark.parametrize("wish", ["Ein See \ud800", "Ein \x00See"], ids=["lone surrogate", "NUL"])
def test_broken_text_in_an_api_wish_is_a_400_on_the_prompt(wish, jobs_stay_queued):
    answer = assert_json_refusal(post_json(APIClient(), json_wish(prompt=wish)))
    assert set(answer) == {"prompt"}
    assert not InpaintJob.objects.exists()
    assert media_files() == []


@pytest.fixture
def failing_job_insert():
    """The database refuses to store a job (the row, not the pictures): a real failed INSERT."""

    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith('INSERT INTO "INPAINTING_INPAINTJOB"'):
            raise OperationalError("disk I/O error")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def test_pictures_of_a_job_that_could_not_be_stored_are_deleted(jobs_stay_queued,
                                                                 failing_job_insert):
    with pytest.raises(OperationalError):
        jobs.submit_job(image=demo_map(), mask=stroke_mask(), wish="Ein See")
    assert media_files() == []

    response = post_json(APIClient(), json_wish())
    assert_json_refusal(response, status=503)
    assert media_files() == []
    assert not InpaintJob.objects.exists()


# --- 3. maps too small for any engine -----------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (1, 256), (256, 1), (63, 200)],
                         ids=lambda size: f"{size[0]}x{size[1]}")
def test_a_map_too_small_to_paint_is_refused_before_it_is_stored(size, jobs_stay_queued):
    response = post_multipart(APIClient(), demo_map(*size), full_mask(*size))

    assert_json_refusal(response)
    assert codes(response, "image") == ["too_small"]
    assert f"{size[0]} × {size[1]}" in message(response, "image") and "64" in message(response, "image")
    assert not InpaintJob.objects.exists()
    assert media_files() == []


def test_a_too_small_map_is_refused_in_german_by_default(jobs_stay_queued):
    response = post_multipart(APIClient(), demo_map(1, 1), full_mask(1, 1), language="de")
    assert_json_refusal(response)
    assert "mindestens 64 Pixel" in message(response, "image")


def test_a_mask_too_small_to_paint_is_refused(jobs_stay_queued):
    # Same aspect as the map, so it would be scaled up and repaint everything.
    response = post_multipart(APIClient(), demo_map(), full_mask(3, 2))
    assert_json_refusal(response)
    assert codes(response, "mask") == ["too_small"] and "3 × 2" in message(response, "mask")


def test_the_smallest_map_is_accepted(jobs_stay_queued):
    side = settings.OLPE_MIN_IMAGE_SIDE
    response = post_multipart(APIClient(), demo_map(side, side), full_mask(side, side))
    assert response.status_code == 202, response.content[:300]


def test_a_one_pixel_map_on_the_legacy_endpoint_is_a_400(jobs_stay_queued):
    answer = assert_json_refusal(post_legacy(legacy_body(demo_map(1, 1), full_mask(1, 1))))
    assert "1 × 1" in answer["detail"]
    assert not InpaintJob.objects.exists()


@pytest.mark.django_db(transaction=True)  # the worker task runs: real commits
@pytest.mark.parametrize("dab", [1, 2], ids=["1 px", "2 px"])
def test_a_dab_of_one_or_two_pixels_is_painted_by_the_classic_engine(dab, jobs_run_inline):
    # cv2.seamlessClone failed on regions without an interior; the worker's job failed.
    painted = (slice(60, 60 + dab), slice(90, 90 + dab))
    response = post_multipart(APIClient(), demo_map(), stroke_mask(painted=painted),
                              engine="classic")
    assert response.status_code == 202, response.content[:300]
    job = InpaintJob.objects.get()
    assert job.status == InpaintJob.Status.SUCCEEDED, job.error_message


# --- 4. one budget per purpose ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the first wish is painted by the worker task
def test_a_burst_of_wishes_does_not_block_reading_ones_own_job(monkeypatch, jobs_run_inline):
    kiosk = APIClient()
    first = post_multipart(kiosk, demo_map(), stroke_mask(), engine="classic")
    assert first.status_code == 202
    job_url = first.json()["url"]
    monkeypatch.setattr(Conf, "SYNC", False)  # the rest of the burst only waits

    statuses = [post_multipart(kiosk, demo_map(), stroke_mask()).status_code for _ in range(14)]
    assert 429 in statuses and set(statuses) == {202, 429}
    assert InpaintJob.objects.count() == statuses.count(202) + 1

    # Polling the job (a kiosk without its websocket polls several times a second) ...
    assert [kiosk.get(job_url).status_code for _ in range(40)] == [200] * 40
    state = kiosk.get(job_url).json()
    assert state["status"] == "succeeded"
    # ... its result, and everything public stay readable.
    assert kiosk.get(state["result_url"]).status_code == 200
    for path in ("/api/v1/engines/", "/api/v1/styles/", "/api/v1/gallery/", "/api/v1/worlds/"):
        assert kiosk.get(path).status_code == 200, path
    # Job creation stays refused: the budgets are separate, not bigger.
    assert post_multipart(kiosk, demo_map(), stroke_mask()).status_code == 429


def test_only_the_owner_reads_without_the_public_limit(settings, jobs_stay_queued):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/minute", "user": "3/minute", "jobs": "100/minute",
                                   "owner": "600/minute"},
    }
    owner = APIClient()
    job_url = post_multipart(owner, demo_map(), stroke_mask()).json()["url"]

    # Someone else who knows the job's address reads it as a public read, by IP address.
    stranger = APIClient(REMOTE_ADDR="198.51.100.7")
    assert [stranger.get(job_url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert stranger.get("/api/v1/styles/").status_code == 429  # one public bucket
    # The owner, behind the same address, is not limited by that bucket.
    owner.defaults["REMOTE_ADDR"] = "198.51.100.7"
    assert [owner.get(job_url).status_code for _ in range(10)] == [200] * 10
    assert owner.get(job_url + "result.png").status_code == 404  # not ready: but no 429
    # Guessing job ids stays a throttled public read.
    missing = "/api/v1/jobs/00000000-0000-4000-8000-000000000000/"
    assert stranger.get(missing).status_code == 429


def test_the_owners_bucket_is_a_safety_net_with_its_own_limit(settings, jobs_stay_queued):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/minute", "user": "100/minute",
                                   "jobs": "100/minute", "owner": "3/minute"},
    }
    owner = token_client("museumsapp")
    job_url = post_multipart(owner, demo_map(), stroke_mask()).json()["url"]
    assert [owner.get(job_url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert owner.get("/api/v1/engines/").status_code == 200  # public reads are another bucket


# --- 5. CSRF for every browser session -----------------------------------------------------------


@pytest.fixture
def world():
    world = World(name="Olpe heute", slug="heute")
    world.image.save("map.png", ContentFile(demo_map()), save=False)
    world.save()
    return world


def kiosk_visit(client: Client, world: World) -> str:
    """Open the paint page as the kiosk's browser does; the CSRF token its script sends."""
    html = client.get(reverse("kiosk:paint", args=[world.slug])).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def kiosk_wish(client: Client, **headers):
    return client.post(
        JOBS_URL,
        {"image": io.BytesIO(demo_map()), "mask": io.BytesIO(stroke_mask()), "prompt": "Ein See"},
        HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="en", **headers,
    )


def test_a_kiosk_session_must_send_the_csrf_token(world, jobs_stay_queued):
    browser = Client(enforce_csrf_checks=True)
    token = kiosk_visit(browser, world)
    # The kiosk's script sends the page's token; its first wish starts the session.
    first = kiosk_wish(browser, HTTP_X_CSRFTOKEN=token)
    assert first.status_code == 202
    assert settings.SESSION_COOKIE_NAME in browser.cookies
    job_url = first.json()["url"]

    # Another site makes the visitor's browser post a wish and cancel the visitor's job:
    # the browser adds its cookies, but the other site cannot know the token.
    forged = kiosk_wish(browser)
    assert_json_refusal(forged, status=403)
    assert codes(forged) == ["permission_denied"] and "CSRF" in message(forged)
    assert_json_refusal(browser.delete(job_url, HTTP_ACCEPT_LANGUAGE="en"), status=403)
    assert InpaintJob.objects.count() == 1
    assert InpaintJob.objects.get().status == InpaintJob.Status.QUEUED

    # With the token, the kiosk itself may do both.
    assert kiosk_wish(browser, HTTP_X_CSRFTOKEN=token).status_code == 202
    assert browser.delete(job_url, HTTP_X_CSRFTOKEN=token).status_code == 202


def test_token_clients_and_clients_without_cookies_need_no_csrf_token(jobs_stay_queued):
    app = token_client("stadtarchiv")
    assert post_multipart(app, demo_map(), stroke_mask()).status_code == 202

    script = Client(enforce_csrf_checks=True)  # no cookies: no session to borrow
    response = kiosk_wish(script)
    assert response.status_code == 202
    # The answer starts a session; from then on that client is a browser session too.
    assert kiosk_wish(script).status_code == 403


def kiosk_scripts():
    """The paint page's modules (paint-page.js and the parts it wires), as one text."""
    folder = Path(settings.BASE_DIR) / "static/js/kiosk"
    return "\n".join(path.read_text() for path in sorted(folder.glob("*.js")))


def test_the_kiosk_script_sends_the_csrf_token_with_every_change():
    script = kiosk_scripts()
    changes = re.findall(r"method: \"(POST|DELETE)\",\s*(?:body: [^\n]+\n\s*)?headers: \{([^}]*)\}",
                         script)
    assert {method for method, _ in changes} == {"POST", "DELETE"}
    assert all('"X-CSRFToken": csrfToken()' in headers for _, headers in changes)


# --- 6. strict types and engines nobody may choose ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"guidance": True}, "guidance", id="guidance true"),
        pytest.param({"strength": False}, "strength", id="strength false"),
        pytest.param({"steps": True}, "steps", id="steps true"),
        pytest.param({"seed": True}, "seed", id="seed true"),
        pytest.param({"prompt": 12345}, "prompt", id="prompt a number"),
        pytest.param({"prompt": ["Ein See"]}, "prompt", id="prompt a list"),
        pytest.param({"prompt": {"de": "Ein See"}}, "prompt", id="prompt an object"),
        pytest.param({"style": True}, "style", id="style true"),
        pytest.param({"engine": 1}, "engine", id="engine a number"),
        pytest.param({"world": True}, "world", id="world true"),
        pytest.param({"world": 1.5}, "world", id="world a fraction"),
    ],
)
def test_json_values_of_the_wrong_type_are_refused_not_coerced(change, field, world,
                                                               jobs_stay_queued):
    response = post_json(APIClient(), json_wish(**change))
    assert set(assert_json_refusal(response)) == {field}
    assert codes(response, field)  # each error with its code and message (tests/errors.py)
    assert not InpaintJob.objects.exists()


@pytest.mark.parametrize("name", ["²", "①", "１", "٣", "1²", "9" * 40],
                         ids=["superscript", "circled", "full-width", "arabic-indic", "mixed",
                              "forty digits"])
def test_a_world_named_by_other_digits_is_no_world(name, world, jobs_stay_queued):
    """Digits of other scripts are no id (int() reads "１" as 1), and never a 500."""
    answer = assert_json_refusal(post_json(APIClient(), json_wish(world=name)))
    assert set(answer) == {"world"}
    assert not InpaintJob.objects.exists()


@pytest.mark.parametrize("field", ["style", "engine", "world"])
def test_a_long_bad_value_is_not_echoed_back(field, world, jobs_stay_queued):
    sent = "x" * 100_000
    response = post_json(APIClient(), json_wish(**{field: sent}))
    answer = assert_json_refusal(response)
    assert "x" * 101 not in response.content.decode()
    assert len(response.content) < 1000, answer


def test_a_long_bad_status_filter_is_not_echoed_back(curator):
    client = APIClient()
    client.force_authenticate(curator)
    response = client.get(JOBS_URL, {"status": "y" * 10_000}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "y" * 101 not in response.content.decode()


def test_a_refused_wish_without_a_cookie_leaves_no_session(world, jobs_stay_queued):
    from django.contrib.sessions.models import Session

    client = Client()  # a browser on its first request: no cookie, so no CSRF check
    response = client.post(JOBS_URL, json_wish(prompt="Ein Hakenkreuz"),
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert not Session.objects.exists()
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    accepted = client.post(JOBS_URL, json_wish(), content_type="application/json")
    assert accepted.status_code == 202  # an accepted one gets its session, to cancel with
    assert Session.objects.count() == 1


def test_form_fields_are_still_read_as_numbers(world, jobs_stay_queued):
    response = post_multipart(APIClient(), demo_map(), stroke_mask(), guidance="7.5", steps="20",
                              world=str(world.pk))
    assert response.status_code == 202, response.content[:300]
    job = InpaintJob.objects.get()
    assert (job.guidance, job.steps, job.world_id) == (7.5, 20, world.pk)


def test_an_engine_a_visitor_may_not_choose_is_a_400(settings, reset_engines, jobs_stay_queued):
    settings.OPENAI_API_KEY = ""
    site_settings(visitor_engine="classic", visitors_choose_engine=False)

    refused = post_json(APIClient(), json_wish(engine="openai"))
    assert_json_refusal(refused)
    assert codes(refused, "engine") == ["engine_not_allowed"] and "classic" in message(refused, "engine")
    assert not InpaintJob.objects.exists()
    # The curators' own engine may be named; where visitors may choose, they get a notice.
    assert post_json(APIClient(), json_wish(engine="classic")).status_code == 202
    site_settings(visitors_choose_engine=True)
    allowed = post_json(APIClient(), json_wish(engine="openai"))
    assert allowed.status_code == 202
    assert allowed.json()["engine"] == "classic" and allowed.json()["notice"]


@pytest.mark.django_db(transaction=True)  # the job must really run: commits
def test_the_legacy_answer_says_which_engine_painted_and_why(settings, reset_engines,
                                                             jobs_run_inline,
                                                             short_legacy_timeout):
    settings.OPENAI_API_KEY = ""
    site_settings(visitor_engine="classic", visitors_choose_engine=False)
    response = post_legacy(legacy_body(model=1))

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Olpe-Engine"] == "classic"
    assert response["X-Olpe-Requested-Engine"] == "openai"
    notice = unquote(response["X-Olpe-Notice"])
    assert "OpenAI" in notice and "classic" in notice.lower()
    assert notice == InpaintJob.objects.get().notice
    exposed = {name.strip() for name in response["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Olpe-Engine", "X-Olpe-Requested-Engine", "X-Olpe-Notice"} <= exposed


# --- 7. the database is down ------------------------------------------------------------------------


@pytest.fixture
def database_down():
    """Every query of this thread's connection fails, as with a database that went away."""

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server: Connection refused")

    SiteSettings.load()  # the test itself may still need a row before the database goes
    SiteSettings.forget_cached()
    with connection.execute_wrapper(refuse):
        yield


def assert_unavailable(response) -> dict:
    body = assert_json_refusal(response, status=503)
    assert int(response["Retry-After"]) > 0
    return body


def test_a_wish_while_the_database_is_down_is_a_503_to_retry(jobs_stay_queued, database_down):
    english = post_json(APIClient(), json_wish())
    assert_unavailable(english)
    assert codes(english) == ["unavailable"] and "try again" in message(english)
    german = post_json(APIClient(), json_wish(), language="de")
    assert_unavailable(german)
    assert "gleich noch einmal" in message(german)
    assert media_files() == []


def test_reading_a_job_while_the_database_is_down_is_a_503(database_down):
    job_url = "/api/v1/jobs/00000000-0000-4000-8000-000000000000/"
    assert_unavailable(APIClient().get(job_url))
    assert_unavailable(APIClient().get("/api/v1/gallery/"))


def test_a_legacy_wish_while_the_database_is_down_is_a_503(jobs_stay_queued, database_down):
    response = post_legacy(legacy_body())
    assert_unavailable(response)
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_page_while_the_database_is_down_is_a_503_not_a_500(database_down):
    response = Client().get(reverse("kiosk:worlds"))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "gleich noch einmal" in response.content.decode()  # the kiosk speaks German


def test_the_kiosk_explains_a_503_in_german():
    catalogue = Client().get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Der Kiosk macht gerade eine kurze Pause." in catalogue
    script = kiosk_scripts()
    assert re.search(r"503: unavailable", script)


# --- 8. forgotten jobs are sent again after a minute -----------------------------------------------


def test_a_job_the_broker_forgot_is_sent_again_after_a_minute(jobs_stay_queued):
    assert settings.OLPE_JOB_REQUEUE_SECONDS == 60
    job = jobs.submit_job(image=demo_map(), mask=stroke_mask(), wish="Ein See")
    # Stored, but the broker never got it (it was down, or forgot the task).
    InpaintJob.objects.filter(pk=job.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=61)
    )
    assert jobs.requeue_forgotten_jobs() == 1


def test_the_requeue_delay_is_read_from_the_setting_alone(settings):
    settings.OLPE_JOB_REQUEUE_SECONDS = 5
    assert jobs.requeue_after() == timedelta(seconds=5)
    del settings.OLPE_JOB_REQUEUE_SECONDS
    with pytest.raises(AttributeError):  # no second default hidden in the code
        jobs.requeue_after()
