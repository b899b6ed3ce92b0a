"""Websockets under hostile clients and a failing channel layer: answered, never a crash.

Each test replays something a probe or a fault did to `/ws/jobs/<id>/` and
`/ws/wall/` through the project's real ASGI application (origin gate, session
and token authentication, routing, consumers), with the real database.

Before: unknown paths failed the handshake with a 500 ("No route found"), a
binary frame, `{"action": {"x": 1}}` or deeply nested JSON closed the socket
with 1011, `https://localhost:9999` passed the origin check of an
`http://localhost` site, a client without Origin got an unexplained 403, and
a channel layer whose Redis timed out closed a visitor's socket with 1011.
"""

import asyncio
import json
import logging
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django_q.conf import Conf
from redis.exceptions import TimeoutError as RedisTimeout

from gallery import wall
from inpainting import tasks
from inpainting.websockets import layer_health
from olpe_site.asgi import application
from tests.test_consumers import (
    HOST,
    ORIGIN,
    receive_until_closed,
    run_in_another_thread,
    submit,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def quick_sockets(settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.OLPE_WS_POLL_SECONDS = 0.05
    settings.OLPE_WS_CHECK_SECONDS = 0.1


async def open_socket(path, headers=(ORIGIN, HOST)):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await communicator.connect()
    return communicator, connected, code


# --- routes ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/jobs/not-a-uuid/", "/ws/nothing/", "/ws/", "/"])
async def test_a_path_no_app_serves_is_closed_with_4404(path):
    communicator, connected, _ = await open_socket(path)
    assert connected
    messages, code = await receive_until_closed(communicator, timeout=5)
    assert messages == [] and code == 4404


# --- frames ------------------------------------------------------------------------------


HOSTILE_FRAMES = {
    "binary": {"bytes_data": b"\x00\x01\x02"},
    "action is an object": {"text_data": json.dumps({"action": {"x": 1}})},
    "action is a list": {"text_data": json.dumps({"action": ["cancel"]})},
    "a JSON list": {"text_data": "[1, 2, 3]"},
    "nested 100k deep": {"text_data": '{"action": ' + "[" * 100_000 + "]" * 100_000 + "}"},
    "not JSON": {"text_data": "{not json"},
    "a lone surrogate": {"text_data": '{"action": "\\ud800"}'},
}


@pytest.mark.parametrize("frame", HOSTILE_FRAMES, ids=list(HOSTILE_FRAMES))
@pytest.mark.parametrize("path", ["job", "wall"])
async def test_hostile_frames_are_answered_and_the_socket_stays_open(submit, frame, path):  # noqa: F811
    if path == "job":
        job = await sync_to_async(submit)()
        path = f"/ws/jobs/{job.pk}/"
    else:
        path = "/ws/wall/"
    communicator, connected, _ = await open_socket(path)
    assert connected
    await communicator.receive_json_from()  # the snapshot

    await communicator.send_to(**HOSTILE_FRAMES[frame])
    answer = await communicator.receive_json_from(timeout=10)

    assert answer["type"] == "error" and answer["reason"]
    # Still open and still serving: a valid request is answered as usual.
    if path == "/ws/wall/":
        await communicator.send_json_to({"action": "sync"})
        assert (await communicator.receive_json_from())["type"] == wall.SNAPSHOT
    else:
        await communicator.send_json_to({"action": "hello"})
        assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.disconnect()


# --- who may connect -------------------------------------------------------------------


@pytest.mark.parametrize("origin", [
    "https://localhost",  # another scheme
    "http://localhost:9999",  # another port
    "https://localhost:9999",
    "http://evil.example",
    "null",
])
async def test_pages_of_other_origins_may_not_open_a_socket(origin):
    communicator, connected, code = await open_socket(
        "/ws/wall/", headers=[(b"origin", origin.encode()), HOST]
    )
    assert not connected, f"{origin} was let in"


async def test_the_sites_own_origin_with_its_port_may(settings):
    communicator, connected, _ = await open_socket(
        "/ws/wall/", headers=[(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]
    )
    assert connected
    assert (await communicator.receive_json_from())["type"] == wall.SNAPSHOT
    await communicator.disconnect()


async def test_a_trusted_origin_may(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://olpe.example.org"]
    communicator, connected, _ = await open_socket(
        "/ws/wall/", headers=[(b"origin", b"https://olpe.example.org"), HOST]
    )
    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize("authorization", [None, b"Token not-a-real-token", b"Token "])
async def test_a_client_without_origin_is_told_to_send_its_token(authorization):
    headers = [HOST] + ([(b"authorization", authorization)] if authorization else [])
    communicator, connected, _ = await open_socket("/ws/wall/", headers=headers)
    assert connected  # accepted only to say why not
    messages, code = await receive_until_closed(communicator, timeout=5)
    assert code == 4401
    assert [message["type"] for message in messages] == ["error"]
    assert "Token" in messages[0]["reason"]


# --- a channel layer that fails ------------------------------------------------------------


class FlakyLayer(BaseChannelLayer):
    """A channel layer that crosses processes, like Redis, and fails like it when `broken`.

    It keeps its messages in memory (one process is enough for the test) and
    raises what channels-redis raises when Redis times out or restarts.
    """

    broken = threading.Event()
    operations: list[str] = []
    extensions = ["groups", "flush"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = InMemoryChannelLayer(**kwargs)

    def _check(self, operation):
        if self.broken.is_set():
            type(self).operations.append(operation)
            raise RedisTimeout("Timeout reading from 127.0.0.1:6379")

    async def new_channel(self, prefix="specific."):
        return await self.inner.new_channel(prefix)

    async def send(self, channel, message):
        self._check("send")
        await self.inner.send(channel, message)

    async def receive(self, channel):
        while self.broken.is_set():  # a blocking read that times out, again and again
            await asyncio.sleep(0.05)
            self._check("receive")
        return await self.inner.receive(channel)

    async def group_add(self, group, channel):
        self._check("group_add")
        await self.inner.group_add(group, channel)

    async def group_discard(self, group, channel):
        self._check("group_discard")
        await self.inner.group_discard(group, channel)

    async def group_send(self, group, message):
        self._check("group_send")
        await self.inner.group_send(group, message)

    async def flush(self):
        await self.inner.flush()


@pytest.fixture
def flaky_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.FlakyLayer"}}
    FlakyLayer.broken.clear()
    FlakyLayer.operations.clear()
    layer_health.failed = False  # each test is a fresh outage
    yield FlakyLayer
    FlakyLayer.broken.clear()


def layer_warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "inpainting.websockets" and record.levelno == logging.WARNING]


async def test_a_job_socket_outlives_its_channel_layer(submit, flaky_layer, caplog):  # noqa: F811
    job = await sync_to_async(submit)()
    flaky_layer.broken.set()  # Redis times out before the visitor even connects
    communicator, connected, _ = await open_socket(f"/ws/jobs/{job.pk}/")
    assert connected
    assert (await communicator.receive_json_from())["type"] == "queued"

    worker = run_in_another_thread(tasks.run_job, str(job.pk))
    messages, code = await receive_until_closed(communicator)
    await sync_to_async(worker.join)()

    kinds = [message["type"] for message in messages]
    assert kinds[0] == "started" and kinds[-1] == "succeeded" and code == 1000
    assert {"group_add", "receive"} <= set(flaky_layer.operations)
    assert len(layer_warnings(caplog)) == 1, layer_warnings(caplog)


async def test_a_job_socket_uses_its_layer_again_once_it_is_back(submit, flaky_layer, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="inpainting.websockets")
    job = await sync_to_async(submit)()
    flaky_layer.broken.set()
    communicator, connected, _ = await open_socket(f"/ws/jobs/{job.pk}/")
    assert (await communicator.receive_json_from())["type"] == "queued"
    flaky_layer.broken.clear()

    # The socket joins its group again on its next check; then news comes over the layer.
    async with asyncio.timeout(10):
        while not any(record.getMessage().startswith("Channel layer is back")
                      for record in caplog.records):
            await asyncio.sleep(0.02)
    await get_channel_layer().group_send(f"job.{job.pk}", {"type": "job.event", "event": {
        "type": "progress", "event_id": 10**9, "step": 1, "total": 2, "job_id": str(job.pk),
    }})
    message = await communicator.receive_json_from(timeout=10)
    assert message["type"] == "progress" and message["event_id"] == 10**9
    await communicator.disconnect()


async def test_the_wall_outlives_its_channel_layer(flaky_layer, caplog):
    from django.contrib.auth import get_user_model

    from gallery.models import Creation
    from tests.test_gallery_public import new_creation

    curator = await sync_to_async(get_user_model().objects.create_user)("kuratorin",
                                                                         is_staff=True)
    flaky_layer.broken.set()
    communicator, connected, _ = await open_socket("/ws/wall/")
    assert connected
    assert (await communicator.receive_json_from())["slides"] == []

    # A curator approves while the layer is down: the decision cannot be sent to the
    # group, so the wall reads the playlist from the database.
    creation = await sync_to_async(new_creation)(Creation.Status.PENDING, title="Ein See am Markt")
    from gallery import creations

    await sync_to_async(creations.approve)(creation, curator)
    snapshot = await communicator.receive_json_from(timeout=10)
    assert snapshot["type"] == wall.SNAPSHOT
    assert [slide["slug"] for slide in snapshot["slides"]] == [creation.slug]
    assert len(layer_warnings(caplog)) == 1
    await communicator.disconnect()
