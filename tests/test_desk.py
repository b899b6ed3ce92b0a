"""The curators' review desk and the admin's home (gallery/desk.py), as a curator uses them.

The desk's JSON endpoints decide through `gallery.creations`, so walls hear of
every decision and of every undo; the browser side is tests/test_desk_browser.py.
"""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from gallery import creations, desk
from gallery.admin import RejectForm
from gallery.models import Creation, RejectionReason
from museum.models import BlockedAttempt
from tests.errors import codes, message
from tests.test_gallery_data import make_job

pytestmark = pytest.mark.django_db

Status = Creation.Status
DESK = "admin:gallery_creation_desk"


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def waiting():
    """Three pending creations, submitted a minute apart: the lake first."""
    made = []
    for number, wish in enumerate(("Ein See", "Eine Burg", "Ein Wald")):
        creation = creations.create_creation(make_job(seed=number + 1, prompt_original=wish))
        creation.created_at = timezone.now() - timedelta(minutes=10 - number)
        creation.save(update_fields=["created_at"])
        made.append(creation)
    return made


@pytest.fixture
def heard():
    sent = []

    def listener(sender, creation, action, **kwargs):
        sent.append((creation.pk, action))

    creations.creation_changed.connect(listener)
    yield sent
    creations.creation_changed.disconnect(listener)


def post(client, name, body):
    return client.post(reverse(name), json.dumps(body), content_type="application/json")


def decide(client, creation, action, reason=""):
    return post(client, "admin:gallery_creation_desk_decide",
                {"id": creation.pk, "action": action, "reason": reason})


# --- who may use it -----------------------------------------------------------------------


def test_only_curators_who_may_moderate_reach_the_desk(client, waiting):
    urls = [reverse(DESK), reverse("admin:gallery_creation_desk_queue"),
            reverse("admin:gallery_creation_desk_outline", args=[waiting[0].pk])]
    for url in urls:  # anonymous: the admin's login
        assert client.get(url).status_code == 302
    viewer = get_user_model().objects.create_user("besuch", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_creation"))
    client.force_login(viewer)
    for url in urls:
        assert client.get(url).status_code == 403
    assert decide(client, waiting[0], "approve").status_code == 403
    assert Creation.objects.get(pk=waiting[0].pk).status == Status.PENDING


# --- the page and the queue ---------------------------------------------------------------


def test_the_desk_starts_with_the_longest_waiting_creations_and_the_kept_reasons(
    curator_client, waiting
):
    response = curator_client.get(reverse(DESK))
    assert response.status_code == 200
    config = response.context["desk_config"]
    assert [entry["id"] for entry in config["creations"]] == [c.pk for c in waiting]
    assert config["pending"] == 3
    assert config["reasons"] == list(
        RejectionReason.objects.filter(active=True).values_list("text", flat=True)
    )
    assert "Nichts Erkennbares verändert" in config["reasons"]  # the first list, in German
    first = config["creations"][0]
    assert first["wish"] == "Ein See" and first["translation"]
    assert first["urls"]["before"].endswith("/picture/before/?size=frame")
    assert first["frame"]["size"] == [96, 64]
    html = response.content.decode()
    assert 'id="desk-config"' in html and 'aria-keyshortcuts="A"' in html
    for name in ("before", "after", "overview"):
        assert curator_client.get(first["urls"][name]).status_code == 200, name


def test_the_queue_leaves_out_what_the_desk_holds(curator_client, waiting):
    url = reverse("admin:gallery_creation_desk_queue")
    held = f"{waiting[0].pk},{waiting[1].pk},x"
    body = curator_client.get(url, {"exclude": held, "limit": 5}).json()
    assert [entry["id"] for entry in body["creations"]] == [waiting[2].pk]
    assert body["pending"] == 3
    assert "no-store" in curator_client.get(url)["Cache-Control"]


def test_the_outline_is_what_was_painted(curator_client, db):
    job = make_job()  # a "lake" pasted into (24, 16) – (72, 48); the mask is empty
    creation = creations.create_creation(job)
    body = curator_client.get(
        reverse("admin:gallery_creation_desk_outline", args=[creation.pk])
    ).json()
    assert len(body["polygons"]) == 1
    xs, ys = zip(*body["polygons"][0], strict=True)
    assert (min(xs), min(ys), max(xs), max(ys)) == (24, 16, 71, 47)


# --- deciding -------------------------------------------------------------------------------


def test_a_curator_approves_rejects_and_features(curator_client, curator, waiting, heard,
                                                  django_capture_on_commit_callbacks):
    lake, castle, forest = waiting
    with django_capture_on_commit_callbacks(execute=True):
        assert decide(curator_client, lake, "approve").json()["pending"] == 2
        rejected = decide(curator_client, castle, "reject", "Doppelt eingereicht – schon da")
        featured = decide(curator_client, forest, "feature")
    assert rejected.status_code == featured.status_code == 200
    lake, castle, forest = (Creation.objects.get(pk=c.pk) for c in waiting)
    assert lake.status == Status.APPROVED and lake.moderated_by == curator
    assert castle.status == Status.REJECTED
    assert castle.rejection_reason == "Doppelt eingereicht – schon da"
    assert forest.status == Status.APPROVED and forest.featured
    assert heard == [(lake.pk, "approved"), (castle.pk, "rejected"),
                     (forest.pk, "approved"), (forest.pk, "featured")]


def test_a_creation_decided_by_someone_else_is_not_decided_twice(curator_client, waiting):
    other = get_user_model().objects.create_user("kollege", password="x", is_staff=True)
    creations.reject(waiting[0], other, "zu spät")
    answer = decide(curator_client, waiting[0], "approve")
    assert answer.status_code == 409
    assert codes(answer) == ["decided"] and "kollege" in message(answer)
    assert Creation.objects.get(pk=waiting[0].pk).status == Status.REJECTED


@pytest.mark.parametrize("body", [
    {"id": 1, "action": "delete"},
    {"id": 1, "action": "reject", "reason": "x" * 1001},
    ["approve"],
])
def test_bad_decisions_are_refused_readably(curator_client, waiting, body):
    if isinstance(body, dict):
        body = {**body, "id": waiting[0].pk}
    answer = post(curator_client, "admin:gallery_creation_desk_decide", body)
    assert answer.status_code == 400 and codes(answer)
    garbled = curator_client.post(reverse("admin:gallery_creation_desk_decide"), b"{nope",
                                  content_type="application/json")
    assert garbled.status_code == 400
    missing = post(curator_client, "admin:gallery_creation_desk_decide",
                   {"id": 999999, "action": "approve"})
    assert missing.status_code == 404


# --- undoing --------------------------------------------------------------------------------


def test_an_approval_undone_is_pending_again_and_leaves_the_walls(
    curator_client, waiting, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        token = decide(curator_client, waiting[0], "feature").json()["undo"]
        undone = post(curator_client, "admin:gallery_creation_desk_undo", {"undo": token})
    assert undone.status_code == 200
    assert undone.json()["creation"]["id"] == waiting[0].pk  # shown again on the desk
    creation = Creation.objects.get(pk=waiting[0].pk)
    assert creation.status == Status.PENDING and not creation.featured
    assert creation.moderated_by is None and creation.moderated_at is None
    assert heard[-1] == (creation.pk, "reopened")
    again = post(curator_client, "admin:gallery_creation_desk_undo", {"undo": token})
    assert again.status_code == 409  # undone already: the state is no longer the decision's


def test_a_rejection_undone_forgets_its_reason(curator_client, waiting):
    token = decide(curator_client, waiting[1], "reject", "Titel unpassend").json()["undo"]
    post(curator_client, "admin:gallery_creation_desk_undo", {"undo": token})
    creation = Creation.objects.get(pk=waiting[1].pk)
    assert creation.status == Status.PENDING and creation.rejection_reason == ""


def test_an_undo_comes_too_late_or_after_another_decision(curator_client, curator, waiting,
                                                          monkeypatch):
    token = decide(curator_client, waiting[0], "approve").json()["undo"]
    creations.set_featured(Creation.objects.get(pk=waiting[0].pk), True, curator)
    changed = post(curator_client, "admin:gallery_creation_desk_undo", {"undo": token})
    assert changed.status_code == 409 and Creation.objects.get(pk=waiting[0].pk).featured

    token = decide(curator_client, waiting[1], "approve").json()["undo"]
    monkeypatch.setattr(desk, "UNDO_SECONDS", -desk.UNDO_GRACE_SECONDS - 1)
    late = post(curator_client, "admin:gallery_creation_desk_undo", {"undo": token})
    assert late.status_code == 409 and codes(late) == ["too_late"]

    forged = signing.dumps({"id": waiting[2].pk}, salt="something else")
    assert post(curator_client, "admin:gallery_creation_desk_undo",
                {"undo": forged}).status_code == 400


# --- the admin around it ----------------------------------------------------------------------


def test_the_admins_home_shows_what_waits_and_todays_figures(curator_client, curator, waiting):
    creations.approve(waiting[1], curator)
    creations.reject(waiting[2], curator, "")
    BlockedAttempt.objects.create(wish="böse", matched_term="böse")
    html = curator_client.get(reverse("admin:index")).content.decode()
    assert "Stadtmuseum Olpe · Alternative World Histories" in html  # the header
    assert "<title>Overview | Stadtmuseum Olpe · curators</title>" in html
    overview = desk.overview(curator)
    assert overview["pending"] == 1 and overview["oldest"] == waiting[0]
    assert (overview["created"], overview["approved"], overview["rejected"],
            overview["blocked"]) == (3, 1, 1, 1)
    assert "<strong>1</strong> creation waits" in html
    assert reverse(DESK) in html
    assert reverse("admin:gallery_creation_change", args=[waiting[0].pk]) in html


def test_the_list_shows_the_wish_first_framed_pictures_and_the_desk(curator_client, waiting):
    html = curator_client.get(reverse("admin:gallery_creation_changelist")).content.decode()
    assert reverse(DESK) in html
    wish_at = html.index("„Ein See“")
    assert html.index("What if there were a lake here?", wish_at) > wish_at
    thumbnail = curator_client.get(
        reverse("admin:gallery_creation_picture", args=[waiting[0].pk, "after"]) + "?size=thumb"
    )
    assert thumbnail["Content-Type"] == "image/jpeg"


def test_the_bulk_rejection_offers_the_kept_reasons():
    form = RejectForm({"kept_reason": "Doppelt eingereicht", "reason": " siehe Nr. 12 "})
    assert form.is_valid()
    assert form.cleaned_data["reason"] == "Doppelt eingereicht – siehe Nr. 12"
    assert RejectForm({"reason": "frei"}).is_valid()
    assert not RejectForm({"kept_reason": "gibt es nicht"}).is_valid()
