"""The visitor kiosk's pages and its gallery endpoint, through Django's test client.

The browser side (painting, watching a job, the idle reset) is covered by
tests/test_kiosk_browser.py against the real platform.
"""

import io
import json
import re

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.models import Creation
from inpainting.models import InpaintJob
from inpainting_core import engines
from kiosk.options import countdown_seconds
from museum.models import BlockedTerm, SiteSettings, World
from tooling.demo import make_demo_map

pytestmark = pytest.mark.django_db

LANGUAGE_COOKIE = "django_language"


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def map_png():
    return png_bytes(make_demo_map(width=160, height=120, seed=3))


def make_world(map_png, slug, **fields) -> World:
    world = World(name=fields.pop("name", slug.title()), slug=slug, **fields)
    world.image.save("map.png", ContentFile(map_png), save=False)
    world.save()
    return world


@pytest.fixture
def lake(map_png):
    return make_world(map_png, "lake", name="Olpe heute", description="The town today.")


@pytest.fixture
def old_map(map_png):
    return make_world(
        map_png, "urkarte", name="Urkarte 1830", kind=World.Kind.HISTORIC, map_date="1830",
        editable=False,
    )


@pytest.fixture
def hidden_world(map_png):
    return make_world(map_png, "secret", name="Work in progress", visible=False)


def visit(client: Client, world: World) -> str:
    """Open the paint page; the key of the session the kiosk's wishes are made in."""
    assert client.get(reverse("kiosk:paint", args=[world.slug])).status_code == 200
    session = client.session
    if session.session_key is None:  # the API creates it with the first wish
        session.save()
        client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return session.session_key


def finished_job(map_png, session_key: str, status=InpaintJob.Status.SUCCEEDED,
                 world=None) -> InpaintJob:
    job = InpaintJob(
        engine="classic", requested_engine="classic", prompt_original="Ein See",
        prompt_translated="a lake", prompt_final="aerial photo, a lake", status=status,
        kiosk_session=session_key, finished_at=timezone.now(), world=world,
    )
    job.input_image.save("input.png", ContentFile(map_png), save=False)
    job.mask_image.save("mask.png", ContentFile(map_png), save=False)
    if status == InpaintJob.Status.SUCCEEDED:
        job.result_image.save("result.png", ContentFile(map_png), save=False)
    job.save()
    return job


def gallery_url(job) -> str:
    return reverse("kiosk:gallery", args=[job.pk])


def kiosk_config(response) -> dict:
    match = re.search(
        r'<script id="kiosk-config" type="application/json">(.*?)</script>',
        response.content.decode(), re.S,
    )
    assert match, "the page carries no kiosk configuration"
    return json.loads(match.group(1))


# --- language ----------------------------------------------------------------------------


def test_the_start_page_speaks_german_first_whatever_the_browser_prefers(client):
    response = client.get(reverse("kiosk:start"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="de">' in html
    # The choice is written down, so scripts and API answers speak German too.
    assert response.cookies[LANGUAGE_COOKIE].value == "de"
    assert kiosk_config(response)["language"] == "de"
    assert reverse("kiosk:worlds") in html  # the big start button


def test_a_visitor_switches_to_english_and_every_kiosk_page_follows(client, lake, old_map):
    answer = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("kiosk:start")}
    )
    assert answer.status_code == 302
    for url in (
        reverse("kiosk:start"),
        reverse("kiosk:worlds"),
        reverse("kiosk:paint", args=[lake.slug]),
        reverse("kiosk:paint", args=[old_map.slug]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert '<html lang="en">' in response.content.decode(), url
        assert kiosk_config(response)["language"] == "en"
    english = client.get(reverse("kiosk:paint", args=[lake.slug])).content.decode()
    assert "What if …" in english
    assert "Paint my wish" in english


def test_every_kiosk_page_carries_the_javascript_catalog(client, lake):
    for url in (reverse("kiosk:start"), reverse("kiosk:worlds"),
                reverse("kiosk:paint", args=[lake.slug])):
        assert f'src="{reverse("javascript-catalog")}"' in client.get(url).content.decode()
    catalog = client.get(reverse("javascript-catalog"))
    assert catalog.status_code == 200 and b"gettext" in catalog.content


# --- choosing a World ---------------------------------------------------------------------


def test_only_visible_worlds_are_offered_with_kind_and_date(client, lake, old_map, hidden_world):
    html = client.get(reverse("kiosk:worlds")).content.decode()
    assert f'data-world="{lake.slug}"' in html
    assert f'data-world="{old_map.slug}"' in html
    assert f'data-world="{hidden_world.slug}"' not in html
    assert "Work in progress" not in html
    # A small copy from the map's IIIF image service, never the whole map.
    assert reverse("iiif:world-image", args=[lake.slug]) + "/full/!1024,1024/0/default.jpg" in html
    assert "The town today." in html
    assert "1830" in html  # the historic map's date beside its kind


def test_a_hidden_world_cannot_be_opened_by_its_address(client, hidden_world):
    assert client.get(reverse("kiosk:paint", args=[hidden_world.slug])).status_code == 404


def test_an_editable_world_opens_with_the_painting_tools(client, lake):
    response = client.get(reverse("kiosk:paint", args=[lake.slug]))
    html = response.content.decode()
    assert 'id="paint-layer"' in html and 'id="wish-form"' in html
    for tool in ("brush", "shape", "select", "eraser"):
        assert f'name="tool" value="{tool}"' in html
    for button in ("zoom-in", "zoom-out", "whole-map"):
        assert f'id="{button}"' in html
    assert re.search(r'<button[^>]*id="generate"[^>]*disabled', html), "Generate starts disabled"
    config = kiosk_config(response)
    assert config["world"] == {
        "id": lake.pk, "slug": lake.slug,
        "imageUrl": reverse("gallery:world-image", args=[lake.slug]),
        "regionsUrl": reverse("kiosk:world-regions", args=[lake.slug]),
        "tiles": None, "width": 160, "height": 120,
    }
    assert config["urls"]["jobs"] == reverse("inpainting:api:job-list")
    # The map's size lays the page out before the picture has loaded.
    assert 'data-map-ratio="160 / 120"' in html  # set as --map-ratio by map-ratio.js


def test_a_big_world_opens_from_its_tiles(client, lake, settings):
    """A map with more pixels than a visitor's upload is never fetched whole: an overview
    and the tiles of its IIIF image service (static/js/kiosk/tiles.js)."""
    settings.OLPE_MAX_IMAGE_PIXELS = 100 * 100
    config = kiosk_config(client.get(reverse("kiosk:paint", args=[lake.slug])))
    service = reverse("iiif:world-image", args=[lake.slug])
    assert config["world"]["tiles"] == service
    assert config["world"]["imageUrl"] == service + "/full/!2048,2048/0/default.jpg"
    assert (config["world"]["width"], config["world"]["height"]) == (160, 120)


def test_a_non_editable_world_opens_for_viewing_only(client, old_map):
    response = client.get(reverse("kiosk:paint", args=[old_map.slug]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="paint-layer"' not in html
    assert 'id="wish-form"' not in html
    assert 'name="tool"' not in html
    assert 'id="view-only-title"' in html
    assert "paint-page.js" not in html


def test_kiosk_pages_are_never_cached(client, lake):
    for url in (reverse("kiosk:start"), reverse("kiosk:paint", args=[lake.slug])):
        assert "no-store" in client.get(url)["Cache-Control"]


# --- what curators configure -----------------------------------------------------------------


def test_idle_time_and_suggestions_reach_the_page(client, lake):
    site = SiteSettings.load()
    site.idle_reset_seconds = 45
    site.prompt_suggestions_de = "Ein See mitten in der Stadt\n\n  Ein Schloss auf dem Berg  \n"
    site.prompt_suggestions_en = "A lake in the middle of town"
    site.save()
    response = client.get(reverse("kiosk:paint", args=[lake.slug]))
    html = response.content.decode()
    config = kiosk_config(response)
    assert config["idleSeconds"] == 45
    assert config["countdownSeconds"] == countdown_seconds(45)
    assert '<option value="Ein See mitten in der Stadt">' in html
    assert '<option value="Ein Schloss auf dem Berg">' in html
    assert 'data-suggestion="Ein Schloss auf dem Berg"' in html
    assert "A lake in the middle of town" not in html

    client.cookies[LANGUAGE_COOKIE] = "en"
    english = client.get(reverse("kiosk:paint", args=[lake.slug])).content.decode()
    assert '<option value="A lake in the middle of town">' in english
    assert "Ein See mitten in der Stadt" not in english


def test_the_countdown_is_a_share_of_the_idle_time_within_bounds():
    assert countdown_seconds(5) == 5
    assert countdown_seconds(120) == 30
    assert countdown_seconds(80) == 20
    assert countdown_seconds(3600) == 30


def test_styles_and_the_three_fidelity_levels_are_offered(client, lake, settings):
    settings.OLPE_GUIDANCE = 6.0
    response = client.get(reverse("kiosk:paint", args=[lake.slug]))
    html = response.content.decode()
    assert '<option value="none">' in html and '<option value="winter">' in html
    assert kiosk_config(response)["fidelity"] == {"free": 4.0, "balanced": 6.0, "exact": 12.0}
    assert re.search(r'name="fidelity" value="balanced"\s+checked', html)


def test_visitors_choose_the_engine_only_when_curators_allow_it(client, lake):
    html = client.get(reverse("kiosk:paint", args=[lake.slug])).content.decode()
    assert 'name="engine"' not in html

    site = SiteSettings.load()
    site.visitors_choose_engine = True
    site.visitor_engine = engines.CLASSIC
    site.save()
    html = client.get(reverse("kiosk:paint", args=[lake.slug])).content.decode()
    assert re.search(r'name="engine" value="classic"\s+checked', html)
    # OpenAI has no key in tests: an engine that cannot run is not offered.
    assert 'name="engine" value="openai"' not in html


# --- the gallery endpoint ----------------------------------------------------------------------


def test_a_visitor_hands_their_result_to_the_gallery_and_gets_its_code(client, lake, map_png):
    job = finished_job(map_png, visit(client, lake), world=lake)
    response = client.post(
        gallery_url(job), {"title": "Der Olpesee", "visitor_name": "Mia", "consent": "1"}
    )
    assert response.status_code == 201
    answer = response.json()
    creation = Creation.objects.get(job=job)
    assert answer["slug"] == creation.slug
    assert answer["url"].endswith(reverse("gallery:creation", args=[creation.slug]))
    assert answer["qr_svg"].startswith("<svg")
    assert (creation.title, creation.visitor_name, creation.consent) == ("Der Olpesee", "Mia", True)
    assert creation.status == Creation.Status.PENDING
    assert creation.world == lake


def test_without_consent_the_first_name_is_not_stored(client, lake, map_png):
    job = finished_job(map_png, visit(client, lake))
    response = client.post(gallery_url(job), {"title": "Winter", "visitor_name": "Mia"})
    assert response.status_code == 201
    creation = Creation.objects.get(job=job)
    assert creation.visitor_name == ""
    assert creation.consent is False
    assert creation.title == "Winter"


def test_a_second_tap_does_not_create_a_second_creation(client, lake, map_png):
    job = finished_job(map_png, visit(client, lake))
    first = client.post(gallery_url(job), {"title": "Eins"})
    second = client.post(gallery_url(job), {"title": "Zwei"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["slug"] == first.json()["slug"]
    assert Creation.objects.get(job=job).title == "Eins"


def test_only_this_kiosk_sessions_jobs_may_go_to_the_gallery(client, lake, map_png):
    visit(client, lake)
    someone_else = Client()
    other_job = finished_job(map_png, visit(someone_else, lake))
    api_job = finished_job(map_png, "")  # made with an API token: no kiosk session

    for job in (other_job, api_job):
        response = client.post(gallery_url(job), {"consent": "1", "visitor_name": "Mia"})
        assert response.status_code == 404
    assert not Creation.objects.exists()
    # An unknown job answers the same, so job ids cannot be probed.
    unknown = client.post(reverse("kiosk:gallery", args=["6d1f4c5e-0000-4000-8000-000000000000"]))
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "status", [InpaintJob.Status.QUEUED, InpaintJob.Status.RUNNING, InpaintJob.Status.FAILED],
)
def test_only_a_finished_picture_may_go_to_the_gallery(client, lake, map_png, status):
    job = finished_job(map_png, visit(client, lake), status=status)
    response = client.post(gallery_url(job), {"title": "Zu früh"})
    assert response.status_code == 409
    assert response.json()["detail"][0]["code"] == "not_finished"
    assert not Creation.objects.exists()


def test_a_title_with_a_blocked_word_is_refused_like_a_wish(client, lake, map_png):
    BlockedTerm.objects.create(term="Stinkstiefel", category=BlockedTerm.Category.INSULT)
    job = finished_job(map_png, visit(client, lake))
    response = client.post(gallery_url(job), {"title": "Der Stinkstiefel von Olpe"})
    assert response.status_code == 400
    assert response.json()["title"][0]["code"] == "blocked"
    assert not Creation.objects.exists()


def test_an_overlong_title_is_refused_with_a_message(client, lake, map_png):
    job = finished_job(map_png, visit(client, lake))
    response = client.post(gallery_url(job), {"title": "x" * 500})
    assert response.status_code == 400
    assert response.json()["title"][0]["code"] == "max_length"
    assert not Creation.objects.exists()


def test_the_gallery_endpoint_needs_a_post_with_a_csrf_token(lake, map_png):
    browser = Client(enforce_csrf_checks=True)
    job = finished_job(map_png, visit(browser, lake))
    assert browser.get(gallery_url(job)).status_code == 405
    assert browser.post(gallery_url(job), {"title": "Ohne Token"}).status_code == 403
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(gallery_url(job), {"title": "Mit Token"}, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


# --- the next visitor ---------------------------------------------------------------------------


def test_the_reset_starts_a_new_visit_in_german(client, lake, map_png):
    client.cookies[LANGUAGE_COOKIE] = "en"
    old_key = visit(client, lake)
    job = finished_job(map_png, old_key)

    response = client.post(reverse("kiosk:reset"))
    assert response.status_code == 302 and response["Location"] == reverse("kiosk:start")
    assert response.cookies[LANGUAGE_COOKIE].value == "de"
    assert client.session.session_key != old_key
    # The previous visitor's picture is no longer this kiosk's.
    assert client.post(gallery_url(job), {"title": "Fremd"}).status_code == 404
    assert '<html lang="de">' in client.get(reverse("kiosk:start")).content.decode()


def test_the_reset_is_post_only(client):
    assert client.get(reverse("kiosk:reset")).status_code == 405
