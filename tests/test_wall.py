"""The gallery wall's websocket: a snapshot on connect, then each curator decision, live.

Decisions go through `gallery.creations` in a worker thread, as admin
actions run in the web process's thread pool; the news reaches the socket
through the channel layer: in memory as on one museum PC, and through the
local Redis as between several daphnes.
"""

import secrets

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from gallery import creations
from gallery.models import Creation
from olpe_site.asgi import application
from tests.test_gallery_public import new_creation, new_world

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

Status = Creation.Status
ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")
REDIS_SERVER = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True, params=["memory", pytest.param("redis", marks=pytest.mark.scaled)])
def channel_layer(request, settings):
    """The in-memory layer of one museum PC, or Redis, which carries news between daphnes."""
    if request.param == "memory":
        layer = {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    else:
        layer = {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A prefix of its own: nothing else on this Redis hears these tests' groups.
            "CONFIG": {"hosts": [REDIS_SERVER], "prefix": f"olpe-test-{secrets.token_hex(4)}"},
        }
    settings.CHANNEL_LAYERS = {"default": layer}  # channels drops its cached layers on this change


@pytest.fixture
def curator():
    return get_user_model().objects.create_user("kuratorin", password="secret-passphrase-42")


async def open_wall():
    communicator = WebsocketCommunicator(application, "/ws/wall/", headers=[ORIGIN, HOST])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def slugs(snapshot: dict) -> list[str]:
    return [slide["slug"] for slide in snapshot["slides"]]


async def test_a_wall_follows_every_curator_decision(curator):
    create = database_sync_to_async(new_creation)
    world = await database_sync_to_async(new_world)("olpe-1830", name="Olpe 1830")
    on_the_wall = await create(title="Schon da")
    waiting = await create(Status.PENDING, title="Ein See am Markt", world=world)
    wall = await open_wall()

    snapshot = await wall.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    assert slugs(snapshot) == [on_the_wall.slug]

    await database_sync_to_async(creations.approve)(waiting, curator)
    added = await wall.receive_json_from(timeout=5)
    assert added["type"] == "added"
    assert added["slide"] == {
        "slug": waiting.slug,
        "title": "Ein See am Markt",
        "wish": "Was wäre, wenn hier ein See wäre?",
        "name": "Mira",
        "world": "Olpe 1830",
        "featured": False,
        "frame": None,  # not known for this creation: the wall shows it whole
        "created": added["slide"]["created"],
        "before_url": f"/c/{waiting.slug}/before.png",
        "after_url": f"/c/{waiting.slug}/after.png",
        "qr_url": f"/c/{waiting.slug}/qr.svg",
        "page_url": f"/c/{waiting.slug}/",
    }

    await database_sync_to_async(creations.set_featured)(waiting, True, curator)
    featured = await wall.receive_json_from(timeout=5)
    assert featured["type"] == "updated"
    assert featured["slide"]["slug"] == waiting.slug and featured["slide"]["featured"] is True

    await database_sync_to_async(creations.set_featured)(waiting, False, curator)
    unfeatured = await wall.receive_json_from(timeout=5)
    assert unfeatured["type"] == "updated" and unfeatured["slide"]["featured"] is False

    await database_sync_to_async(creations.reject)(waiting, curator, "Bitte nicht")
    assert await wall.receive_json_from(timeout=5) == {"type": "removed", "slug": waiting.slug}

    await database_sync_to_async(on_the_wall.delete)()
    assert await wall.receive_json_from(timeout=5) == {"type": "removed", "slug": on_the_wall.slug}
    assert await wall.receive_nothing(timeout=0.3)
    await wall.disconnect()


async def test_a_sync_request_answers_the_current_playlist_featured_first(curator):
    create = database_sync_to_async(new_creation)
    older_featured = await create(title="Empfohlen", featured=True)
    newer = await create(title="Neu")
    wall = await open_wall()
    first = await wall.receive_json_from(timeout=5)
    assert slugs(first) == [older_featured.slug, newer.slug]

    # Changes the socket never heard of (another process, a lost message) heal on sync.
    await database_sync_to_async(Creation.objects.filter(pk=newer.pk).update)(
        status=Status.REJECTED
    )
    await wall.send_json_to({"action": "sync"})
    healed = await wall.receive_json_from(timeout=5)
    assert healed["type"] == "snapshot" and slugs(healed) == [older_featured.slug]
    await wall.disconnect()


async def test_pending_creations_and_private_facts_never_reach_a_wall(curator):
    create = database_sync_to_async(new_creation)
    await create(Status.PENDING, title="Noch offen")
    await create(Status.REJECTED, title="Abgelehnt", rejection_reason="Beleidigung")
    shy = await create(title="Ohne Namen", consent=False, visitor_name="Heimlich")
    wall = await open_wall()
    snapshot = await wall.receive_json_from(timeout=5)
    assert slugs(snapshot) == [shy.slug]
    assert snapshot["slides"][0]["name"] == ""
    assert "Heimlich" not in str(snapshot) and "Beleidigung" not in str(snapshot)
    await wall.disconnect()


async def test_the_playlist_is_capped(settings):
    settings.OLPE_WALL_MAX_SLIDES = 3
    create = database_sync_to_async(new_creation)
    for number in range(5):
        await create(title=f"Werk {number}")
    wall = await open_wall()
    snapshot = await wall.receive_json_from(timeout=5)
    assert snapshot["max_slides"] == 3
    assert [slide["title"] for slide in snapshot["slides"]] == ["Werk 4", "Werk 3", "Werk 2"]
    await wall.disconnect()


async def test_an_unknown_action_is_answered_with_an_error():
    wall = await open_wall()
    await wall.receive_json_from(timeout=5)
    await wall.send_to(text_data="not json")
    assert (await wall.receive_json_from(timeout=5))["type"] == "error"
    await wall.send_json_to({"action": "approve"})
    assert (await wall.receive_json_from(timeout=5))["type"] == "error"
    await wall.disconnect()
