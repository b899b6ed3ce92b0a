"""The gallery's public side: pages, pictures, QR codes and the API.

The promise under test: what a curator has not approved is unreachable for
everybody else, by any page, picture, API call, storage path or guessed
name, and answers exactly like a creation that does not exist.
"""

import io
import re

import pytest
import segno
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from gallery import pictures, qr, views
from gallery.models import Creation
from museum.models import World
from tooling.demo import make_demo_map

pytestmark = pytest.mark.django_db

Status = Creation.Status


# --- making creations ---------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def picture_pair(width=160, height=120, seed=3) -> tuple[bytes, bytes]:
    """A demo map and the same map with a lake painted into its middle."""
    before = make_demo_map(width=width, height=height, seed=seed)
    after = before.copy()
    after.paste((40, 90, 140), (width // 4, height // 4, width * 3 // 4, height * 3 // 4))
    return png_bytes(before), png_bytes(after)


def new_creation(status=Status.APPROVED, *, world=None, pictures=None, **fields) -> Creation:
    """A creation as the kiosk leaves it, in the given state."""
    before, after = pictures or picture_pair()
    values = {
        "prompt_original": "Was wäre, wenn hier ein See wäre?",
        "prompt_translated": "What if there were a lake here?",
        "engine": "classic",
        "title": "Der Olpe-See",
        "visitor_name": "Mira",
        "consent": True,
        **fields,
    }
    creation = Creation(status=status, world=world, **values)
    creation.before_image.save("before.png", ContentFile(before), save=False)
    creation.after_image.save("after.png", ContentFile(after), save=False)
    creation.save()
    return creation


def new_world(slug="olpe-1830", visible=True, **fields) -> World:
    world = World(slug=slug, name=fields.pop("name", slug.title()), visible=visible, **fields)
    world.image.save("map.png", ContentFile(picture_pair(seed=9)[0]), save=False)
    world.save()
    return world


def user_with(*codenames: str, username="curator"):
    user = get_user_model().objects.create_user(username, password="secret-passphrase-42")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


def picture_urls(slug: str) -> list[str]:
    return [
        reverse("gallery:before", args=[slug]),
        reverse("gallery:after", args=[slug]),
        reverse("gallery:after", args=[slug]) + "?download=1",
        reverse("gallery:thumb", args=[slug]),
        *(reverse(f"gallery:{name}", args=[slug]) for name in (
            "thumb-before", "frame-before", "frame-after", "whole-before", "whole-after",
            "detail", "postcard")),
        reverse("gallery:postcard", args=[slug]) + "?download=1",
        reverse("gallery:qr", args=[slug]),
    ]


def every_url(slug: str) -> list[str]:
    return [
        reverse("gallery:creation", args=[slug]),
        *picture_urls(slug),
        reverse("gallery:api:creation-detail", args=[slug]),
    ]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the API's throttle counters live in the cache
    yield
    cache.clear()


# --- nothing unapproved leaks -------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.PENDING, Status.REJECTED])
def test_unapproved_creations_are_unreachable_anonymously(client, status):
    world = new_world()
    hidden = new_creation(status, world=world, title="Geheimer Entwurf", rejection_reason="no")
    for url in every_url(hidden.slug):
        assert client.get(url).status_code == 404, url

    listings = [
        reverse("gallery:index"),
        reverse("gallery:index") + f"?world={world.slug}",
        reverse("gallery:wall"),
        reverse("gallery:api:creation-list"),
        reverse("gallery:api:creation-list") + f"?world={world.slug}",
    ]
    for url in listings:
        response = client.get(url)
        assert response.status_code == 200, url
        assert hidden.slug not in response.content.decode(), url
        assert "Geheimer Entwurf" not in response.content.decode(), url


@pytest.mark.parametrize("status", [Status.PENDING, Status.REJECTED, Status.APPROVED])
def test_storage_paths_are_never_served(client, status):
    creation = new_creation(status)
    for field in (creation.before_image, creation.after_image):
        assert client.get(f"/media/{field.name}").status_code == 404
        assert client.get(f"/{field.name}").status_code == 404


def test_a_pending_creation_answers_like_one_that_does_not_exist(client):
    pending = new_creation(Status.PENDING)
    missing = "AAAAAAAAAAAA"  # the shape of a real slug
    for hidden_url, missing_url in zip(every_url(pending.slug), every_url(missing), strict=True):
        hidden, absent = client.get(hidden_url), client.get(missing_url)
        assert hidden.status_code == absent.status_code == 404
        assert hidden["Content-Type"] == absent["Content-Type"]
        assert hidden.get("Cache-Control") == absent.get("Cache-Control")
    page = client.get(reverse("gallery:creation", args=[pending.slug]), HTTP_ACCEPT_LANGUAGE="en")
    assert [t.name for t in page.templates][0] == "gallery/not_public.html"
    assert "not public (yet)" in page.content.decode()
    assert "no-cache" in page["Cache-Control"]  # it may be approved a minute later


def test_slugs_are_random_and_unrelated(client):
    slugs = {new_creation().slug for _ in range(5)}
    assert len(slugs) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{12}", slug) for slug in slugs)


# --- approved creations are public ------------------------------------------------------------


def test_an_approved_creation_has_a_page_for_phones(client):
    world = new_world(name="Olpe 1830")
    creation = new_creation(world=world)
    page_url = reverse("gallery:creation", args=[creation.slug])
    response = client.get(page_url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    for expected in ("Der Olpe-See", "Was wäre, wenn hier ein See wäre?", "Mira", "Olpe 1830",
                     'name="viewport"', "data-compare", 'class="qr-code"',
                     f"/c/{creation.slug}/after.png?download=1",
                     f"http://testserver/c/{creation.slug}/"):
        assert expected in html, expected
    assert 'alt="The map after the wish' in html


def test_the_name_is_shown_only_with_consent(client):
    creation = new_creation(consent=False, visitor_name="Heimlich")
    page = client.get(reverse("gallery:creation", args=[creation.slug])).content.decode()
    assert "Heimlich" not in page
    detail = client.get(reverse("gallery:api:creation-detail", args=[creation.slug])).json()
    assert detail["visitor_name"] == ""


def test_pictures_of_an_approved_creation(client):
    creation = new_creation()
    expectations = {
        "before": "image/png", "after": "image/png", "thumb": "image/jpeg", "qr": "image/svg+xml",
    }
    for name, content_type in expectations.items():
        response = client.get(reverse(f"gallery:{name}", args=[creation.slug]))
        assert response.status_code == 200, name
        assert response["Content-Type"] == content_type
        cache_control = response["Cache-Control"]
        assert "public" in cache_control and "max-age=" in cache_control, name
    served = b"".join(client.get(reverse("gallery:after", args=[creation.slug])).streaming_content)
    assert served == creation.after_image.open("rb").read()


def test_a_client_holding_a_picture_revalidates_it_cheaply(client):
    creation = new_creation()
    url = reverse("gallery:after", args=[creation.slug])
    first = client.get(url)
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and not again.content
    assert "public" in again["Cache-Control"]


def test_download_offers_the_after_picture_as_a_file(client):
    creation = new_creation()
    response = client.get(reverse("gallery:after", args=[creation.slug]) + "?download=1")
    assert response.status_code == 200
    expected = f'attachment; filename="olpe-{creation.slug}-after.png"'
    assert response["Content-Disposition"] == expected
    inline = client.get(reverse("gallery:after", args=[creation.slug]))
    assert "attachment" not in inline.get("Content-Disposition", "")


def test_the_thumbnail_is_made_once_and_removed_with_its_creation(
    client, django_capture_on_commit_callbacks
):
    large = Image.linear_gradient("L").resize((1200, 900)).convert("RGB")
    creation = new_creation(pictures=(png_bytes(large), png_bytes(large)))
    url = reverse("gallery:thumb", args=[creation.slug])
    first = b"".join(client.get(url).streaming_content)
    name = pictures.name_of(creation, "thumb")
    assert default_storage.exists(name)
    made_at = default_storage.get_modified_time(name)
    assert b"".join(client.get(url).streaming_content) == first
    assert default_storage.get_modified_time(name) == made_at
    with Image.open(io.BytesIO(first)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) == pictures.KINDS["thumb"].side
        assert thumbnail.size[0] / thumbnail.size[1] == pytest.approx(1200 / 900, rel=0.01)
    with django_capture_on_commit_callbacks(execute=True):  # files go once the delete commits
        creation.delete()
    assert not default_storage.exists(name)


def test_the_qr_code_encodes_the_absolute_page_address(client, settings):
    creation = new_creation()
    svg = client.get(reverse("gallery:qr", args=[creation.slug])).content.decode()
    assert svg.startswith('<svg role="img" xmlns="http://www.w3.org/2000/svg"')
    assert qr_paths(svg) == qr_paths(expected_svg(f"http://testserver/c/{creation.slug}/"))

    settings.OLPE_PUBLIC_BASE_URL = "https://geschichten.example.org/"
    page = client.get(reverse("gallery:creation", args=[creation.slug])).content.decode()
    public_url = f"https://geschichten.example.org/c/{creation.slug}/"
    assert public_url in page
    assert qr_paths(page) == qr_paths(expected_svg(public_url))


def expected_svg(url: str) -> str:
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(
        buffer, kind="svg", border=qr.QUIET_ZONE, dark=qr.DARK, light=qr.LIGHT
    )
    return buffer.getvalue().decode()


def qr_paths(svg: str) -> list[str]:
    return re.findall(r'<path[^>]* d="([^"]+)"', svg)


# --- curators ---------------------------------------------------------------------------------


def test_curators_see_pending_creations_privately(client):
    pending = new_creation(Status.PENDING, title="Noch offen")
    client.force_login(user_with("moderate_creation"))
    page = client.get(reverse("gallery:creation", args=[pending.slug]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Only curators see this page" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    for url in picture_urls(pending.slug):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    # The API shows the public gallery, also to curators.
    api_detail = reverse("gallery:api:creation-detail", args=[pending.slug])
    assert client.get(api_detail).status_code == 404


def test_staff_without_the_permission_see_nothing_pending(client):
    pending = new_creation(Status.PENDING)
    staff = user_with("view_creation", username="helper")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    for url in every_url(pending.slug):
        assert client.get(url).status_code == 404, url


# --- the gallery page -------------------------------------------------------------------------


def test_the_gallery_shows_featured_first_in_pages_of_24(client):
    shared = picture_pair()
    featured = new_creation(title="Empfohlen", featured=True, pictures=shared)
    for number in range(29):
        new_creation(title=f"Werk {number:02d}", pictures=shared)
    first = client.get(reverse("gallery:index")).content.decode()
    second = client.get(reverse("gallery:index") + "?page=2").content.decode()
    assert first.count('class="creation-card') == views.CREATIONS_PER_PAGE
    assert second.count('class="creation-card') == 30 - views.CREATIONS_PER_PAGE
    assert first.index("Empfohlen") < first.index("Werk 28")  # featured before the newest
    assert "Werk 28" in first and "Werk 00" in second  # then newest first
    assert f"/c/{featured.slug}/thumb.jpg" in first
    assert client.get(reverse("gallery:index") + "?page=nonsense").status_code == 200


def test_the_gallery_filters_by_world(client):
    lake, town = new_world("see"), new_world("stadt")
    new_creation(world=lake, title="Am See")
    new_creation(world=town, title="In der Stadt")
    html = client.get(reverse("gallery:index") + "?world=see").content.decode()
    assert "Am See" in html and "In der Stadt" not in html
    assert 'href="?world=see" aria-current="page"' in html


def test_an_empty_gallery_says_so_calmly(client):
    html = client.get(reverse("gallery:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No creations here yet." in html


# --- the API ----------------------------------------------------------------------------------


def test_the_gallery_api_lists_approved_creations_in_pages(client):
    world = new_world()
    shared = picture_pair()
    creations = [new_creation(world=world, title=f"Werk {n}", pictures=shared) for n in range(26)]
    new_creation(Status.PENDING, pictures=shared)
    page = client.get(reverse("gallery:api:creation-list")).json()
    assert page["count"] == 26
    assert len(page["results"]) == 24 and page["next"]
    assert page["results"][0]["title"] == "Werk 25"
    second = client.get(page["next"]).json()
    assert len(second["results"]) == 2

    entry = client.get(reverse("gallery:api:creation-detail", args=[creations[0].slug])).json()
    slug = creations[0].slug
    assert entry == {
        "slug": slug,
        "title": "Werk 0",
        "visitor_name": "Mira",
        "wish": "Was wäre, wenn hier ein See wäre?",
        "wish_translated": "What if there were a lake here?",
        "world": {"id": world.id, "slug": world.slug, "name": world.name, "kind": "scenario"},
        "engine": "classic",
        "created": entry["created"],
        "featured": False,
        "url": f"http://testserver/c/{slug}/",
        "before_url": f"http://testserver/c/{slug}/before.png",
        "after_url": f"http://testserver/c/{slug}/after.png",
        "thumbnail_url": f"http://testserver/c/{slug}/thumb.jpg",
        "thumbnail_before_url": f"http://testserver/c/{slug}/thumb-before.jpg",
        "frame": None,  # not known for this one: its pictures are shown whole
        "frame_before_url": f"http://testserver/c/{slug}/frame-before.jpg",
        "frame_after_url": f"http://testserver/c/{slug}/frame-after.jpg",
        "postcard_url": f"http://testserver/c/{slug}/postcard.jpg",
        "qr_url": f"http://testserver/c/{slug}/qr.svg",
    }
    assert "rejection_reason" not in entry and "status" not in entry
    for url in (entry["before_url"], entry["thumbnail_url"], entry["qr_url"]):
        assert client.get(url).status_code == 200


def test_the_gallery_api_filters(client):
    lake = new_world("see")
    new_creation(world=lake, title="Am See", featured=True)
    new_creation(title="Anderswo")
    by_world = client.get(reverse("gallery:api:creation-list") + "?world=see").json()
    assert [item["title"] for item in by_world["results"]] == ["Am See"]
    featured = client.get(reverse("gallery:api:creation-list") + "?featured=true").json()
    assert [item["title"] for item in featured["results"]] == ["Am See"]
    others = client.get(reverse("gallery:api:creation-list") + "?featured=false").json()
    assert [item["title"] for item in others["results"]] == ["Anderswo"]


def test_the_worlds_api_shows_visible_worlds_only(client):
    shown = new_world("olpe-1830", name="Olpe 1830", kind=World.Kind.HISTORIC, map_date="1830",
                      order=1)
    hidden = new_world("entwurf", visible=False)
    listing = client.get(reverse("gallery:api:world-list")).json()
    assert listing == [{
        "id": shown.id, "slug": "olpe-1830", "name": "Olpe 1830", "kind": "historic",
        "description": "", "map_date": "1830", "editable": True, "order": 1,
        "image_url": "http://testserver/worlds/olpe-1830/image.png",
    }]
    assert client.get(reverse("gallery:api:world-detail", args=["olpe-1830"])).status_code == 200
    assert client.get(reverse("gallery:api:world-detail", args=[hidden.slug])).status_code == 404


def test_world_images_are_public_for_visible_worlds_and_curators_see_all(client):
    new_world("olpe-1830")
    hidden = new_world("entwurf", visible=False)
    visible_image = client.get(reverse("gallery:world-image", args=["olpe-1830"]))
    assert visible_image.status_code == 200
    assert visible_image["Content-Type"] == "image/png"
    assert "public" in visible_image["Cache-Control"]
    assert client.get(reverse("gallery:world-image", args=[hidden.slug])).status_code == 404
    client.force_login(user_with("view_world"))
    private = client.get(reverse("gallery:world-image", args=[hidden.slug]))
    assert private.status_code == 200 and "no-store" in private["Cache-Control"]


def test_the_schema_documents_the_gallery_and_stays_valid(tmp_path):
    # Warnings (a view it cannot introspect, a guessed type) fail the command too.
    schema_file = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))
    schema = schema_file.read_text()
    for path in ("/api/v1/gallery/:", "/api/v1/gallery/{slug}/:", "/api/v1/worlds/:",
                 "/api/v1/worlds/{slug}/:"):
        assert f"\n  {path}\n" in schema, path


# --- the wall page ----------------------------------------------------------------------------


def test_the_wall_page_carries_its_first_playlist_and_pace(client):
    shown = new_creation(title="An der Wand")
    html = client.get(reverse("gallery:wall") + "?seconds=2").content.decode()
    assert f'"slug": "{shown.slug}"' in html
    assert 'data-seconds="4"' in html  # clamped to the shortest sensible pace
    assert "/jsi18n/" in html and "js/wall.js" in html
    assert 'class="site-header"' not in html  # no page chrome on the wall
    assert 'data-seconds="12"' in client.get(reverse("gallery:wall")).content.decode()
