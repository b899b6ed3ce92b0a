"""The curators' admin, used as a curator: a staff member of `Curators`, not a superuser."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from gallery import creations
from gallery.models import Creation
from museum import moderation
from museum.engine_choice import today
from museum.models import BlockedAttempt, BlockedTerm, OpenAIUsage, SiteSettings
from tests.test_gallery_data import make_job, make_world

pytestmark = pytest.mark.django_db

Status = Creation.Status
CHANGELIST = "admin:gallery_creation_changelist"


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the admin's texts are checked in English
    return client


@pytest.fixture
def changes():
    sent = []

    def listener(sender, creation, action, **kwargs):
        sent.append((creation.pk, action))

    creations.creation_changed.connect(listener)
    yield sent
    creations.creation_changed.disconnect(listener)


@pytest.fixture
def gallery():
    """Three pending creations: a lake on a historic World, a castle, a forest."""
    world = make_world()
    lake = creations.create_creation(make_job(seed=1), title="Der Olpe-See", world=world)
    castle = creations.create_creation(
        make_job(
            seed=2,
            prompt_original="Eine Burg auf dem Berg",
            prompt_translated="A castle on the hill",
        )
    )
    forest = creations.create_creation(
        make_job(seed=3, prompt_original="Ein Wald", prompt_translated="A forest", engine="openai")
    )
    return {"world": world, "lake": lake, "castle": castle, "forest": forest}


def listed(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def run_action(client, action, objects, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0, **extra},
    )


# --- creations ----------------------------------------------------------------------------


def test_a_curator_lists_filters_and_searches_creations(curator_client, gallery):
    response = curator_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert listed(response) == {gallery[name].pk for name in ("lake", "castle", "forest")}
    page = response.content.decode()
    assert "A castle on the hill" in page  # the translation beside the wish
    assert f"/admin/gallery/creation/{gallery['lake'].pk}/picture/before/?size=thumb" in page
    assert f"/admin/gallery/creation/{gallery['lake'].pk}/picture/after/?size=thumb" in page

    assert listed(curator_client.get(reverse(CHANGELIST), {"q": "Burg"})) == {gallery["castle"].pk}
    assert listed(curator_client.get(reverse(CHANGELIST), {"q": "forest"})) == {
        gallery["forest"].pk
    }
    assert listed(curator_client.get(reverse(CHANGELIST), {"q": "Olpe-See"})) == {
        gallery["lake"].pk
    }
    assert listed(curator_client.get(reverse(CHANGELIST), {"engine": "openai"})) == {
        gallery["forest"].pk
    }
    assert listed(
        curator_client.get(reverse(CHANGELIST), {"world__id__exact": gallery["world"].pk})
    ) == {gallery["lake"].pk}
    creations.approve(gallery["castle"], None)
    assert listed(curator_client.get(reverse(CHANGELIST), {"status__exact": "approved"})) == {
        gallery["castle"].pk
    }


def test_bulk_approve_feature_and_unfeature_go_through_the_decisions(
    curator_client, curator, gallery, changes, django_capture_on_commit_callbacks
):
    lake, castle, forest = gallery["lake"], gallery["castle"], gallery["forest"]
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(curator_client, "approve_selected", [lake, castle])
        assert response.status_code == 302
        response = run_action(curator_client, "feature_selected", [lake, forest])
    lake.refresh_from_db()
    forest.refresh_from_db()
    assert lake.status == Status.APPROVED and lake.featured and lake.moderated_by == curator
    assert forest.status == Status.PENDING and not forest.featured  # only approved ones
    messages = [str(message) for message in response.wsgi_request._messages]
    assert any("skipped" in message for message in messages)

    with django_capture_on_commit_callbacks(execute=True):
        run_action(curator_client, "unfeature_selected", [lake, castle])
    lake.refresh_from_db()
    assert not lake.featured
    assert sorted(changes) == sorted(
        [
            (lake.pk, "approved"),
            (castle.pk, "approved"),
            (lake.pk, "featured"),
            (lake.pk, "unfeatured"),
        ]
    )


def test_bulk_reject_asks_for_a_reason_first(
    curator_client, gallery, changes, django_capture_on_commit_callbacks
):
    lake, castle = gallery["lake"], gallery["castle"]
    page = run_action(curator_client, "reject_selected", [lake, castle])
    assert page.status_code == 200
    assert "admin/gallery/creation/reject_selected.html" in [t.name for t in page.templates]
    assert Creation.objects.filter(status=Status.REJECTED).count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(
            reverse(CHANGELIST),
            {
                "action": "reject_selected",
                ACTION_CHECKBOX_NAME: [lake.pk, castle.pk],
                "confirm": "yes",
                "reason": "Gesichter erkennbar",
            },
        )
    assert response.status_code == 302
    assert set(
        Creation.objects.filter(status=Status.REJECTED).values_list("pk", "rejection_reason")
    ) == {(lake.pk, "Gesichter erkennbar"), (castle.pk, "Gesichter erkennbar")}
    assert sorted(changes) == sorted([(lake.pk, "rejected"), (castle.pk, "rejected")])


def test_the_page_of_a_creation_compares_before_and_after(curator_client, gallery):
    lake = gallery["lake"]
    response = curator_client.get(reverse("admin:gallery_creation_change", args=[lake.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="olpe-compare"' in page and 'type="range"' in page
    # the change's frame first (gallery/pictures.py), the whole pictures a link away
    assert f'src="/admin/gallery/creation/{lake.pk}/picture/before/?size=frame"' in page
    assert f'src="/admin/gallery/creation/{lake.pk}/picture/after/?size=frame"' in page
    assert 'name="_approve"' in page and 'name="_reject"' in page and 'name="_feature"' not in page


def test_decision_buttons_on_the_page_of_a_creation(
    curator_client, curator, gallery, changes, django_capture_on_commit_callbacks
):
    lake = gallery["lake"]
    url = reverse("admin:gallery_creation_change", args=[lake.pk])
    form = {
        "title": "Der Olpe-See",
        "visitor_name": "",
        "world": lake.world_id,
        "rejection_reason": "",
    }

    with django_capture_on_commit_callbacks(execute=True):
        assert curator_client.post(url, {**form, "_approve": "1"}).status_code == 302
        curator_client.post(url, {**form, "_feature": "1"})
        curator_client.post(url, {**form, "rejection_reason": "doch nicht", "_reject": "1"})

    lake.refresh_from_db()
    assert (lake.status, lake.featured, lake.rejection_reason) == (
        Status.REJECTED,
        False,
        "doch nicht",
    )
    assert [action for _pk, action in changes] == ["approved", "featured", "rejected"]


def test_a_name_without_consent_cannot_be_added(curator_client, gallery):
    lake = gallery["lake"]
    response = curator_client.post(
        reverse("admin:gallery_creation_change", args=[lake.pk]),
        {"title": "x", "visitor_name": "Mira", "world": "", "rejection_reason": ""},
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    lake.refresh_from_db()
    assert lake.visitor_name == ""


def test_pictures_are_served_to_curators_as_thumbnails_and_originals(curator_client, gallery):
    lake = gallery["lake"]
    base = f"/admin/gallery/creation/{lake.pk}/picture/"
    thumbnail = curator_client.get(base + "after/?size=thumb")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
    assert b"".join(thumbnail.streaming_content).startswith(b"\xff\xd8")
    assert "private" in thumbnail["Cache-Control"]
    original = curator_client.get(base + "before/")
    assert original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content) == lake.before_image.open("rb").read()
    assert curator_client.get(base + "mask/").status_code == 404
    assert curator_client.get("/admin/gallery/creation/999999/picture/after/").status_code == 404


def test_nobody_else_sees_the_pictures(client, gallery):
    url = f"/admin/gallery/creation/{gallery['lake'].pk}/picture/after/?size=thumb"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]

    visitor = get_user_model().objects.create_user("besucher", password="x")
    client.force_login(visitor)
    assert client.get(url).status_code == 302  # not staff: to the login page

    staff = get_user_model().objects.create_user("hausmeister", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403  # staff without permission on creations


def test_a_curator_without_moderation_permission_cannot_decide(client, gallery):
    viewer = get_user_model().objects.create_user("praktikant", password="x", is_staff=True)
    group = Group.objects.create(name="Viewers")
    group.permissions.set(
        Group.objects.get(name="Curators").permissions.exclude(codename="moderate_creation")
    )
    viewer.groups.add(group)
    client.force_login(viewer)

    run_action(client, "approve_selected", [gallery["lake"]])
    assert Creation.objects.get(pk=gallery["lake"].pk).status == Status.PENDING
    page = client.get(reverse("admin:gallery_creation_change", args=[gallery["lake"].pk]))
    assert 'name="_approve"' not in page.content.decode()


def test_curators_do_not_manage_users(curator_client):
    assert curator_client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert curator_client.get(reverse("admin:auth_user_add")).status_code == 403
    assert curator_client.get(reverse("admin:auth_group_changelist")).status_code == 403
    index = curator_client.get(reverse("admin:index")).content.decode()
    assert "/admin/auth/user/" not in index
    assert "/admin/gallery/creation/" in index and "/admin/inpainting/inpaintjob/" in index


def test_curators_cannot_add_or_delete_creations(curator_client, gallery):
    assert curator_client.get("/admin/gallery/creation/add/").status_code == 403
    delete = reverse("admin:gallery_creation_delete", args=[gallery["lake"].pk])
    assert curator_client.get(delete).status_code == 403


# --- Worlds, settings, blocklist -------------------------------------------------------------


def test_worlds_show_previews_and_their_order_is_edited_in_the_list(curator_client):
    first, second = make_world("Olpe 1830"), make_world("Olpe 1900")
    url = reverse("admin:museum_world_changelist")
    page = curator_client.get(url).content.decode()
    assert f"/admin/museum/world/{first.pk}/picture/image/?size=thumb" in page
    assert (
        curator_client.get(f"/admin/museum/world/{first.pk}/picture/image/?size=thumb")[
            "Content-Type"
        ]
        == "image/jpeg"
    )

    form = {
        "form-TOTAL_FORMS": 2,
        "form-INITIAL_FORMS": 2,
        "_save": "Save",
        "form-0-id": second.pk,
        "form-0-order": 1,
        "form-0-visible": "on",
        "form-0-editable": "on",
        "form-1-id": first.pk,
        "form-1-order": 2,
        "form-1-visible": "on",
        "form-1-editable": "on",
    }
    assert curator_client.post(url, form).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.order, second.order) == (2, 1)


def test_site_settings_are_one_row_with_todays_openai_usage(curator_client):
    response = curator_client.get(reverse("admin:museum_sitesettings_changelist"))
    row = SiteSettings.objects.get()
    change_url = reverse("admin:museum_sitesettings_change", args=[row.pk])
    assert response.status_code == 302 and response["Location"] == change_url
    assert curator_client.get(reverse("admin:museum_sitesettings_add")).status_code == 403
    assert (
        curator_client.get(reverse("admin:museum_sitesettings_delete", args=[row.pk])).status_code
        == 403
    )

    OpenAIUsage.objects.create(day=today(), images=12)
    page = curator_client.get(change_url).content.decode()
    assert "12 of 50 used today (38 left)" in page
    assert "Classic" in page or "classic" in page  # engine status list

    form = {
        "visitor_engine": "openai",
        "openai_daily_budget": 80,
        "idle_reset_seconds": 90,
        "auto_approve": "on",
        "prompt_suggestions_de": "Ein See\nEin Wald",
        "prompt_suggestions_en": "",
    }
    assert curator_client.post(change_url, form).status_code == 302
    assert SiteSettings.cached().visitor_engine == "openai" and SiteSettings.cached().auto_approve
    assert SiteSettings.objects.count() == 1


def test_openai_usage_is_read_only(curator_client):
    usage = OpenAIUsage.objects.create(day=today(), images=3)
    assert curator_client.get(reverse("admin:museum_openaiusage_changelist")).status_code == 200
    change = curator_client.post(
        reverse("admin:museum_openaiusage_change", args=[usage.pk]),
        {"day": usage.day, "images": 0},
    )
    assert change.status_code == 403
    usage.refresh_from_db()
    assert usage.images == 3


def test_curators_edit_the_blocklist_and_it_applies_at_once(curator_client):
    assert moderation.find_blocked_term("Hitler") is not None
    hitler = BlockedTerm.objects.get(term="hitler")
    run = curator_client.post(
        reverse("admin:museum_blockedterm_changelist"),
        {
            "action": "deactivate",
            ACTION_CHECKBOX_NAME: [hitler.pk],
            "index": 0,
        },
    )
    assert run.status_code == 302
    assert moderation.find_blocked_term("Hitler") is None

    add = curator_client.post(
        reverse("admin:museum_blockedterm_add"),
        {
            "term": "Drache",
            "category": "other",
            "active": "on",
        },
    )
    assert add.status_code == 302
    assert moderation.find_blocked_term("Drachenfels").term == "Drache"

    refused = curator_client.post(
        reverse("admin:museum_blockedterm_add"),
        {
            "term": "!!",
            "category": "other",
            "active": "on",
        },
    )
    assert refused.status_code == 200 and "term" in refused.context["adminform"].form.errors


def test_a_blocked_symbol_is_a_term_of_its_own(curator_client):
    """A swastika is one character: curators can still edit its term (say, allow 卍)."""
    manji = BlockedTerm.objects.get(term="\u534d")
    change = curator_client.post(
        reverse("admin:museum_blockedterm_change", args=[manji.pk]),
        {"term": "\u534d", "category": "extremism"},  # "active" left out: switched off
    )
    assert change.status_code == 302
    assert moderation.find_blocked_term("\u534d") is None
    assert moderation.find_blocked_term("\u5350").term == "\u5350"

    refused = curator_client.post(
        reverse("admin:museum_blockedterm_add"),
        {"term": "x", "category": "other", "active": "on"},
    )
    assert refused.status_code == 200 and "term" in refused.context["adminform"].form.errors


def test_curators_try_a_wish_against_the_blocklist(curator_client):
    url = reverse("admin:museum_blockedterm_try")
    assert (
        "Try a wish"
        in curator_client.get(reverse("admin:museum_blockedterm_changelist")).content.decode()
    )
    blocked = curator_client.get(url, {"text": "N4zi-Burg"}).content.decode()
    assert "nazi" in blocked and "errornote" in blocked
    passes = curator_client.get(url, {"text": "Schwanensee"}).content.decode()
    assert re.search(r"class=\"success\"", passes)
    assert not BlockedAttempt.objects.exists()  # trying records nothing


def test_blocked_attempts_are_a_read_only_list(curator_client):
    with pytest.raises(moderation.WishBlocked):
        moderation.check_wish("Hitler", kiosk_session="kiosk-2")
    attempt = BlockedAttempt.objects.get()
    page = curator_client.get(reverse("admin:museum_blockedattempt_changelist"))
    assert page.status_code == 200 and "kiosk-2" in page.content.decode()
    assert curator_client.get(reverse("admin:museum_blockedattempt_add")).status_code == 403
    assert (
        curator_client.post(
            reverse("admin:museum_blockedattempt_change", args=[attempt.pk]), {"wish": "x"}
        ).status_code
        == 403
    )
    assert (
        curator_client.get(
            reverse("admin:museum_blockedattempt_delete", args=[attempt.pk])
        ).status_code
        == 403
    )


@pytest.mark.parametrize("size", [(1, 1), (63, 400), (400, 20)])
def test_a_world_map_too_small_to_paint_is_refused_with_the_reason(curator_client, size):
    """Every wish on such a map would fail: the admin says so when the curator uploads it."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from museum.models import World

    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, format="PNG")
    form = {"kind": "historic", "name": "Olpe 1650", "slug": "olpe-1650", "order": 0,
            "visible": "on", "editable": "on",
            "image": SimpleUploadedFile("tiny.png", buffer.getvalue(), "image/png")}
    response = curator_client.post(reverse("admin:museum_world_add"), form,
                                   HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "it needs at least 64 pixels on each side" in response.content.decode()
    assert not World.objects.filter(slug="olpe-1650").exists()
