"""IIIF: the Image API 3.0 (level 2) and the Presentation API 3.0 of Worlds and creations.

In process, through Django's test client, on small pictures with tile pyramids
made as a worker makes them (`museum.tasks.make_pyramid`): every field the
specifications require, every form of request the server offers, the errors
it answers (JSON, 400/404, never a 500), what is not published (hidden Worlds,
pending and rejected creations) and the manifests, validated by iiif-prezi3
and followed link by link. Real viewers (OpenSeadragon in Chromium) are
tests/test_iiif_browser.py.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from iiif_prezi3 import Collection, Manifest
from PIL import Image

from gallery import creations
from gallery.models import Creation
from museum import pyramids, tasks
from tests.test_gallery_public import new_creation, new_world, picture_pair

pytestmark = pytest.mark.django_db

IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
LEVEL2 = '<http://iiif.io/api/image/3/level2.json>;rel="profile"'
SIZE = (480, 360)
BASE = "http://testserver"


@pytest.fixture
def published(settings):
    """A visible World and an approved creation on it, with pyramids, a hidden World,
    a pending and a rejected creation."""
    settings.OLPE_PYRAMID_MIN_PIXELS = 200 * 150  # small pictures get pyramids too
    world = new_world("olpe-1830", name="Olpe 1830", map_date="1830", metres_per_pixel=0.5)
    world.image.save("map.png", io.BytesIO(picture_pair(*SIZE, seed=9)[0]), save=True)
    hidden = new_world("geheim", visible=False)
    creation = new_creation(world=world, pictures=picture_pair(*SIZE, seed=4))
    pending = new_creation(Creation.Status.PENDING, world=world, title="Noch nicht")
    rejected = new_creation(Creation.Status.REJECTED, world=world, title="Nein")
    for name in (world.image.name, creation.before_image.name, creation.after_image.name):
        assert tasks.make_pyramid(name) is True
    return {"world": world, "hidden": hidden, "creation": creation, "pending": pending,
            "rejected": rejected}


def world_base(slug="olpe-1830") -> str:
    return reverse("iiif:world-image", args=[slug])


def creation_base(slug, which="after") -> str:
    return reverse("iiif:creation-image", args=[slug, which])


def document(response) -> dict:
    return json.loads(response.content)


def picture(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


# --- the image information -----------------------------------------------------------------


def test_info_json_has_every_field_the_specification_requires(client, published, settings):
    response = client.get(world_base() + "/info.json")
    assert response.status_code == 200
    assert response["Content-Type"] == f'application/ld+json;profile="{IMAGE_CONTEXT}"'
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Link"] == LEVEL2
    info = document(response)
    assert next(iter(info)) == "@context" and info["@context"] == IMAGE_CONTEXT
    assert info["id"] == BASE + world_base()  # no trailing slash
    assert info["type"] == "ImageService3"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level2"
    assert (info["width"], info["height"]) == SIZE
    assert info["maxWidth"] == info["maxHeight"] == settings.OLPE_IIIF_MAX_SIDE
    # The pyramid's levels are the sizes offered: whole, half, a quarter, ...
    assert [(s["width"], s["height"]) for s in info["sizes"]] == [(60, 45), (120, 90), (240, 180),
                                                                 (480, 360)]
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1]}]
    assert set(info["extraFeatures"]) == {"canonicalLinkHeader", "mirroring", "profileLinkHeader",
                                          "sizeUpscaling"}
    assert info["rights"] == settings.OLPE_IIIF_RIGHTS

    plain = client.get(world_base() + "/info.json", HTTP_ACCEPT="application/json")
    assert plain["Content-Type"] == "application/json" and document(plain) == info
    base = client.get(world_base())
    assert base.status_code == 303 and base["Location"] == world_base() + "/info.json"


def test_a_big_picture_offers_tiles_at_every_scale(client, published, settings):
    settings.OLPE_IIIF_MAX_SIDE = 300
    info = document(client.get(creation_base(published["creation"].slug, "before") + "/info.json"))
    assert [(s["width"], s["height"]) for s in info["sizes"]] == [(60, 45), (120, 90), (240, 180)]
    from iiif.image_api import scale_factors

    assert scale_factors((16384, 12000)) == [1, 2, 4, 8, 16, 32]


# --- image requests --------------------------------------------------------------------------

REQUESTS = [
    ("full/max/0/default.jpg", (480, 360), "JPEG"),
    ("full/240,/0/default.jpg", (240, 180), "JPEG"),
    ("full/,90/0/default.png", (120, 90), "PNG"),
    ("full/pct:25/0/default.jpg", (120, 90), "JPEG"),
    ("full/100,100/0/default.jpg", (100, 100), "JPEG"),
    ("full/!100,100/0/default.jpg", (100, 75), "JPEG"),
    ("full/^960,/0/default.jpg", (960, 720), "JPEG"),
    ("full/^!1000,1000/0/default.jpg", (1000, 750), "JPEG"),
    ("full/^pct:150/0/default.jpg", (720, 540), "JPEG"),
    ("square/max/0/default.jpg", (360, 360), "JPEG"),
    ("0,0,256,256/256,/0/default.jpg", (256, 256), "JPEG"),
    ("400,300,200,200/max/0/default.jpg", (80, 60), "JPEG"),  # cut at the picture's edge
    ("pct:50,50,50,50/max/0/default.jpg", (240, 180), "JPEG"),
    ("full/max/90/default.jpg", (360, 480), "JPEG"),
    ("full/120,/270/default.png", (90, 120), "PNG"),
    ("full/max/!0/default.jpg", (480, 360), "JPEG"),
    ("full/max/0/color.jpg", (480, 360), "JPEG"),
    ("full/max/0/gray.png", (480, 360), "PNG"),
    ("full/max/0/bitonal.png", (480, 360), "PNG"),
]


def test_every_form_of_request_gets_its_picture(client, published):
    for request, size, kind in REQUESTS:
        response = client.get(f"{world_base()}/{request}")
        assert response.status_code == 200, (request, document(response))
        assert response["Content-Type"] == {"JPEG": "image/jpeg", "PNG": "image/png"}[kind]
        assert response["Access-Control-Allow-Origin"] == "*"
        profile, canonical = response["Link"].split(", ")
        assert profile == LEVEL2 and canonical.endswith('>;rel="canonical"'), request
        answer = picture(response)
        assert (answer.size, answer.format) == (size, kind), request
        if "gray" in request or "bitonal" in request:
            assert answer.mode == "L"
        if "bitonal" in request:
            assert set(np.unique(np.asarray(answer))) <= {0, 255}


def test_pictures_are_the_region_asked_for(client, published):
    source = np.asarray(Image.open(published["world"].image.path).convert("RGB"), np.int16)
    region = picture(client.get(f"{world_base()}/100,50,200,150/max/0/default.png"))
    assert region.size == (200, 150)
    assert np.abs(np.asarray(region, np.int16) - source[50:200, 100:300]).mean() < 3
    mirrored = picture(client.get(f"{world_base()}/100,50,200,150/max/!0/default.png"))
    assert np.array_equal(np.asarray(mirrored), np.asarray(region)[:, ::-1])
    turned = picture(client.get(f"{world_base()}/100,50,200,150/max/90/default.png"))
    assert np.array_equal(np.asarray(turned), np.rot90(np.asarray(region), -1))


def test_the_canonical_link_names_the_same_picture(client, published):
    response = client.get(f"{world_base()}/pct:0,0,50,50/pct:50/0/default.jpg")
    canonical = response["Link"].split(", ")[1]
    assert canonical == f'<{BASE}{world_base()}/0,0,240,180/120,90/0/default.jpg>;rel="canonical"'
    full = client.get(f"{world_base()}/0,0,480,360/480,360/0/default.jpg")
    assert f"{world_base()}/full/max/0/default.jpg>" in full["Link"]


BAD_REQUESTS = [
    ("480,0,10,10/max/0/default.jpg", "outside the picture"),
    ("0,400,10,10/max/0/default.jpg", "outside the picture"),
    ("0,0,0,10/max/0/default.jpg", "no width or height"),
    ("pct:0,0,0,0/max/0/default.jpg", "no width or height"),
    ("nowhere/max/0/default.jpg", "not one of"),
    ("full/481,/0/default.jpg", "larger than the region"),
    ("full/pct:101/0/default.jpg", "larger than the region"),
    ("full/^5000,/0/default.jpg", "limit"),
    ("full/0,/0/default.jpg", "less than one pixel"),
    ("full/big/0/default.jpg", "not one of"),
    ("full/max/45/default.jpg", "multiple of 90"),
    ("full/max/400/default.jpg", "more than 360"),
    ("full/max/-90/default.jpg", "not a number"),
    ("full/max/0/sepia.jpg", "quality"),
    ("full/max/0/default.gif", "format"),
]


def test_bad_requests_are_told_why_in_json(client, published):
    for request, reason in BAD_REQUESTS:
        response = client.get(f"{world_base()}/{request}")
        assert response.status_code == 400, request
        assert response["Content-Type"] == "application/json"
        assert reason in document(response)["error"], (request, document(response))
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "no-store" in response["Cache-Control"]


def test_what_is_not_published_is_not_found(client, published):
    unpublished = [
        world_base("geheim"), world_base("no-such-world"),
        creation_base(published["pending"].slug), creation_base(published["rejected"].slug),
        creation_base(published["creation"].slug, "middle"), creation_base("no-such-creation"),
    ]
    for base in unpublished:
        for address in (base, base + "/info.json", base + "/full/max/0/default.jpg"):
            response = client.get(address)
            assert response.status_code == 404, address
            assert document(response)["status"] == 404
            assert response["Access-Control-Allow-Origin"] == "*"
    for slug in (published["pending"].slug, published["rejected"].slug):
        assert client.get(reverse("iiif:creation-manifest", args=[slug])).status_code == 404
    assert client.get(reverse("iiif:world-manifest", args=["geheim"])).status_code == 404


def test_a_published_picture_whose_file_is_gone_is_not_found(client, published):
    creation = published["creation"]
    pyramids.delete_pyramid(creation.after_image.name)
    creation.after_image.storage.delete(creation.after_image.name)
    assert client.get(creation_base(creation.slug) + "/info.json").status_code == 404
    assert client.get(creation_base(creation.slug) + "/full/max/0/default.jpg").status_code == 404
    assert client.get(reverse("iiif:creation-manifest", args=[creation.slug])).status_code == 404


def test_answers_are_cached_revalidated_and_shared_across_origins(client, published):
    address = f"{creation_base(published['creation'].slug)}/full/240,/0/default.jpg"
    first = client.get(address)
    assert "public" in first["Cache-Control"] and first["ETag"]
    again = client.get(address, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    head = client.head(address)
    assert head.status_code == 200 and head.content == b""
    preflight = client.options(address, HTTP_ORIGIN="https://viewer.example.org",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert client.post(address).status_code == 405


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.text(alphabet="0123456789,.!^:pctfulmaxsqre-", max_size=14),
                         min_size=3, max_size=3),
       quality=st.sampled_from(["default", "gray", "x"]), format=st.sampled_from(["jpg", "png", "tif"]))
def test_no_request_is_ever_a_server_error(client, published, segments, quality, format):
    region, size, rotation = (segment or "0" for segment in segments)
    response = client.get(f"{world_base()}/{region}/{size}/{rotation}/{quality}.{format}")
    assert response.status_code in (200, 400, 404), response.content[:200]


# --- pyramids --------------------------------------------------------------------------------


def test_a_new_world_map_queues_its_pyramid_and_a_replaced_one_drops_it(
        published, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda task, *args, **kwargs: queued.append((task, args)))
    world = published["world"]
    old = world.image.name
    assert pyramids.has_pyramid(old)
    with django_capture_on_commit_callbacks(execute=True):
        world.image.save("map.png", io.BytesIO(picture_pair(*SIZE, seed=12)[0]), save=False)
        world.save()
    assert (tasks.PYRAMID_TASK, (world.image.name,)) in queued
    assert not pyramids.has_pyramid(old), "the old map's pyramid went with it"
    with django_capture_on_commit_callbacks(execute=True):
        world.delete()
    assert not pyramids.has_pyramid(world.image.name)


def test_approving_a_creation_queues_the_pyramids_of_its_pictures(
        published, curator, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda task, *args, **kwargs: queued.append(args))
    pending = new_creation(Creation.Status.PENDING, pictures=picture_pair(*SIZE, seed=5))
    with django_capture_on_commit_callbacks(execute=True):
        creations.approve(pending, curator)
    assert sorted(queued) == sorted([(pending.after_image.name,), (pending.before_image.name,)])
    assert tasks.make_pyramid(pending.after_image.name) is True
    assert tasks.make_pyramid(pending.after_image.name) is False  # made once


def test_small_pictures_are_served_from_their_file(client, published, settings):
    settings.OLPE_PYRAMID_MIN_PIXELS = 1024 * 1024
    creation = new_creation(pictures=picture_pair(*SIZE, seed=6))
    assert tasks.make_pyramid(creation.after_image.name) is False
    info = document(client.get(creation_base(creation.slug) + "/info.json"))
    assert (info["width"], info["height"]) == SIZE
    response = client.get(creation_base(creation.slug) + "/full/max/0/default.png")
    expected = np.asarray(Image.open(creation.after_image.path).convert("RGB"))
    assert np.array_equal(np.asarray(picture(response)), expected), "PNG from PNG: exact"


def test_a_big_picture_without_its_pyramid_yet_asks_to_come_back(client, published, settings,
                                                                   monkeypatch):
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda task, *args, **kwargs: queued.append(args))
    settings.OLPE_MAX_IMAGE_PIXELS = 200 * 200  # bigger pictures are not read whole per request
    creation = new_creation(pictures=picture_pair(*SIZE, seed=7))
    info = document(client.get(creation_base(creation.slug) + "/info.json"))
    assert (info["width"], info["height"]) == SIZE and info["sizes"] == []
    response = client.get(creation_base(creation.slug) + "/0,0,256,256/256,/0/default.jpg")
    assert response.status_code == 503 and response["Retry-After"] == "10"
    assert "no-store" in response["Cache-Control"] and "ETag" not in response
    assert queued == [(creation.after_image.name,)], "queued once, not per request"
    assert tasks.make_pyramid(creation.after_image.name) is True
    assert client.get(creation_base(creation.slug) + "/0,0,256,256/256,/0/default.jpg").status_code == 200


def test_huge_maps_get_a_lossless_pyramid(published, settings):
    settings.OLPE_HUGE_MAP_PIXELS = 300 * 300
    world = new_world("gross")
    world.image.save("map.png", io.BytesIO(picture_pair(*SIZE, seed=8)[0]), save=True)
    assert tasks.make_pyramid(world.image.name) is True
    source = pyramids.open_picture(world.image.name)
    assert source.is_pyramid
    exact = np.asarray(Image.open(world.image.path).convert("RGB"))
    assert np.array_equal(source.read((10, 20, 410, 300)), exact[20:300, 10:410])


# --- manifests -------------------------------------------------------------------------------


def validated(model, data: dict):
    """The document read back by iiif-prezi3's models (made from the specification's schema)."""
    assert data["@context"] == PRESENTATION_CONTEXT
    return model(**{key: value for key, value in data.items() if key != "@context"})


def fetch(client, address: str):
    assert address.startswith(BASE), address
    return client.get(address[len(BASE):])


def test_a_creation_manifest_validates_and_every_link_in_it_answers(client, published, settings):
    creation = published["creation"]
    address = reverse("iiif:creation-manifest", args=[creation.slug])
    response = client.get(address)
    assert response.status_code == 200
    assert response["Content-Type"] == f'application/ld+json;profile="{PRESENTATION_CONTEXT}"'
    assert response["Access-Control-Allow-Origin"] == "*"
    manifest = document(response)
    validated(Manifest, manifest)
    assert manifest["id"] == BASE + address and manifest["type"] == "Manifest"
    assert manifest["label"] == {"none": ["Der Olpe-See"]}
    summary = manifest["summary"]
    for language, words in {"de": ("Wunsch", "Olpe 1830"), "en": ("wish", "Olpe 1830")}.items():
        assert all(word in summary[language][0] for word in words), summary
        assert "Was wäre, wenn hier ein See wäre?" in summary[language][0]
    facts = {entry["label"]["en"][0]: entry["value"] for entry in manifest["metadata"]}
    assert facts["Wish"] == {"none": ["Was wäre, wenn hier ein See wäre?"]}
    assert facts["World"] == {"none": ["Olpe 1830"]} and facts["Painted by"] == {"none": ["Mira"]}
    assert set(facts["Date"]) == {"de", "en"}
    assert manifest["requiredStatement"]["value"] == {"none": ["Stadtmuseum Olpe"]}
    assert manifest["requiredStatement"]["label"]["de"] == ["Namensnennung"]
    assert manifest["rights"] == settings.OLPE_IIIF_RIGHTS
    assert manifest["navDate"].startswith(str(creation.created_at.year))

    [canvas] = manifest["items"]
    assert canvas["type"] == "Canvas" and (canvas["width"], canvas["height"]) == SIZE
    [page] = canvas["items"]
    [annotation] = page["items"]
    assert page["type"] == "AnnotationPage" and annotation["type"] == "Annotation"
    assert annotation["motivation"] == "painting" and annotation["target"] == canvas["id"]
    body = annotation["body"]
    assert body["type"] == "Choice"
    after, before = body["items"]
    assert after["label"]["de"] == ["Nachher"] and before["label"]["de"] == ["Vorher"]
    for image, which in ((after, "after"), (before, "before")):
        assert image["type"] == "Image" and image["format"] == "image/jpeg"
        [service] = image["service"]
        assert service == {"id": BASE + creation_base(creation.slug, which),
                           "type": "ImageService3", "profile": "level2"}
        shown = fetch(client, image["id"])
        assert shown.status_code == 200 and picture(shown).size == (image["width"], image["height"])
        assert document(fetch(client, service["id"] + "/info.json"))["id"] == service["id"]

    [thumbnail] = manifest["thumbnail"]
    assert picture(fetch(client, thumbnail["id"])).size == (thumbnail["width"], thumbnail["height"])
    [homepage] = manifest["homepage"]
    assert homepage["type"] == "Text" and homepage["format"] == "text/html"
    assert fetch(client, homepage["id"]).status_code == 200
    [see_also] = manifest["seeAlso"]
    data = fetch(client, see_also["id"])
    assert see_also["format"] == "application/json" and data.json()["slug"] == creation.slug
    [part_of] = manifest["partOf"]
    assert part_of["type"] == "Collection"
    validated(Collection, document(fetch(client, part_of["id"])))
    assert [provider["label"] for provider in manifest["provider"]] == [{"none": ["Stadtmuseum Olpe"]}]


def test_a_world_manifest_validates_and_shows_its_map(client, published):
    address = reverse("iiif:world-manifest", args=["olpe-1830"])
    manifest = document(client.get(address))
    validated(Manifest, manifest)
    assert manifest["label"] == {"none": ["Olpe 1830"]}
    facts = {entry["label"]["de"][0]: entry["value"] for entry in manifest["metadata"]}
    assert facts["Datum der Karte"] == {"none": ["1830"]}
    assert "0,5" in facts["Bodenauflösung"]["de"][0]
    [canvas] = manifest["items"]
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Image" and body["service"][0]["id"] == BASE + world_base()
    assert fetch(client, body["id"]).status_code == 200
    assert fetch(client, manifest["seeAlso"][0]["id"]).json()["slug"] == "olpe-1830"
    assert fetch(client, manifest["homepage"][0]["id"]).status_code == 200


def test_the_gallery_collection_pages_the_approved_creations(client, published, settings):
    settings.OLPE_IIIF_COLLECTION_PAGE = 2
    older = new_creation(title="Älter")
    newest = new_creation(title="Neu")
    top = document(client.get(reverse("iiif:collection")))
    validated(Collection, top)
    worlds_ref, *pages = top["items"]
    assert worlds_ref["id"] == BASE + reverse("iiif:worlds")
    assert [page["id"] for page in pages] == [
        BASE + reverse("iiif:collection-page", args=[number]) for number in (1, 2)]
    assert top["requiredStatement"]["value"] == {"none": ["Stadtmuseum Olpe"]}
    listed = []
    for page in pages:
        collection = document(fetch(client, page["id"]))
        validated(Collection, collection)
        assert collection["partOf"][0]["id"] == top["id"]
        for reference in collection["items"]:
            assert reference["type"] == "Manifest"
            validated(Manifest, document(fetch(client, reference["id"])))
            listed.append(reference["label"]["none"][0])
    assert listed == ["Neu", "Älter", "Der Olpe-See"], "the gallery's order, approved only"
    assert client.get(reverse("iiif:collection-page", args=[3])).status_code == 404
    worlds = document(client.get(reverse("iiif:worlds")))
    validated(Collection, worlds)
    assert [item["label"] for item in worlds["items"]] == [{"none": ["Olpe 1830"]}]
    assert older.slug and newest.slug


# --- pages -----------------------------------------------------------------------------------


def test_the_creation_page_and_the_gallery_link_to_iiif(client, published, curator):
    creation = published["creation"]
    page = client.get(reverse("gallery:creation", args=[creation.slug])).content.decode()
    manifest = BASE + reverse("iiif:creation-manifest", args=[creation.slug])
    assert f'data-manifest="{manifest}"' in page, "deep zoom from the manifest"
    assert f'href="{manifest}?manifest=' in page and "iiif-logo.svg" in page
    assert "openseadragon.min.js" in page
    gallery = client.get(reverse("gallery:index")).content.decode()
    assert f'href="{BASE}{reverse("iiif:collection")}?manifest=' in gallery
    client.force_login(curator)
    preview = client.get(reverse("gallery:creation", args=[published["pending"].slug]))
    assert b"data-manifest" not in preview.content and b"iiif-logo" not in preview.content


def test_the_viewer_page_shows_only_this_sites_manifests(client, published):
    world_manifest = BASE + reverse("iiif:world-manifest", args=["olpe-1830"])
    page = client.get(reverse("iiif:viewer"), {"manifest": world_manifest})
    assert page.status_code == 200 and f'data-manifest="{world_manifest}"'.encode() in page.content
    relative = client.get(reverse("iiif:viewer"),
                          {"manifest": reverse("iiif:creation-manifest", args=[published["creation"].slug])})
    assert relative.status_code == 200
    for address in ("https://elsewhere.example.org" + reverse("iiif:world-manifest", args=["olpe-1830"]),
                    reverse("iiif:world-manifest", args=["geheim"]), reverse("gallery:index"), "",
                    reverse("iiif:creation-manifest", args=[published["pending"].slug])):
        assert client.get(reverse("iiif:viewer"), {"manifest": address}).status_code == 404, address
