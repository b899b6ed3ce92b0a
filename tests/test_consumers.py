"""The job websocket, through the project's ASGI application and the in-memory layer.

The worker runs in another thread here, as it runs in another process in
production: its events reach the socket only through the database, which is
the path the in-memory channel layer relies on.
"""

import io
import json
import threading
import uuid

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django_q.conf import Conf
from PIL import Image

from inpainting import jobs, tasks
from inpainting.models import InpaintJob
from inpainting_core.generation import GenerationSettings
from olpe_site.asgi import application
from tooling.demo import make_demo_map

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

Status = InpaintJob.Status
ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def quick_sockets(settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # tasks wait in the ORM broker's table
    settings.OLPE_WS_POLL_SECONDS = 0.05
    settings.OLPE_WS_CHECK_SECONDS = 0.1


@pytest.fixture
def submit():
    paint = np.zeros((96, 128, 4), dtype=np.uint8)
    paint[20:70, 30:100] = (255, 0, 0, 255)
    image = png_bytes(make_demo_map(width=128, height=96, seed=2))
    mask = png_bytes(Image.fromarray(paint, "RGBA"))

    def submit(**who):
        return jobs.submit_job(image=image, mask=mask, wish="Ein Wald",
                               generation=GenerationSettings(engine="classic", seed=1), **who)
    return submit


def browser_session() -> str:
    """A kiosk browser's session, as the REST API starts one for a visitor's first wish."""
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session.create()
    return session.session_key


def run_in_another_thread(function, *args):
    """A worker elsewhere: its own thread and database connection."""
    def target():
        try:
            function(*args)
        finally:
            connections.close_all()
    thread = threading.Thread(target=target)
    thread.start()
    return thread


async def connect(job_id, query="", headers=(ORIGIN, HOST)):
    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{job_id}/{query}", headers=list(headers)
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive_until_closed(communicator, timeout=20):
    """Every JSON message up to the server's close, and the close code."""
    messages = []
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return messages, output.get("code", 1000)
        messages.append(json.loads(output["text"]))


async def test_the_first_message_is_the_stored_state(submit):
    job = await sync_to_async(submit)()
    communicator = await connect(job.pk)

    first = await communicator.receive_json_from()
    assert first["type"] == "queued" and first["snapshot"] is True
    assert first["position"] == 1
    assert first["job"]["id"] == str(job.pk) and first["job"]["status"] == "queued"
    assert first["event_id"] > 0
    await communicator.disconnect()


async def test_a_late_socket_gets_the_finished_state_and_is_closed(submit):
    job = await sync_to_async(submit)()
    await sync_to_async(tasks.run_job)(str(job.pk))
    communicator = await connect(job.pk)

    messages, code = await receive_until_closed(communicator)
    assert [m["type"] for m in messages] == ["succeeded"]
    assert messages[0]["snapshot"] and messages[0]["result_url"] == messages[0]["job"]["result_url"]
    assert code == 1000


async def test_a_reconnecting_socket_gets_the_events_it_missed(submit):
    job = await sync_to_async(submit)()
    await sync_to_async(tasks.run_job)(str(job.pk))
    communicator = await connect(job.pk, query="?after=0")

    messages, code = await receive_until_closed(communicator)
    kinds = [m["type"] for m in messages]
    assert messages[0]["snapshot"] and kinds[0] == "succeeded"
    assert kinds[1:3] == ["queued", "started"] and kinds[-1] == "succeeded"
    assert "progress" in kinds and code == 1000

    seen = messages[3]["event_id"]
    communicator = await connect(job.pk, query=f"?after={seen}")
    replayed, _ = await receive_until_closed(communicator)
    assert [m["event_id"] for m in replayed[1:]] == [m["event_id"] for m in messages[4:]]


async def test_events_of_a_worker_elsewhere_are_relayed_in_order(submit):
    job = await sync_to_async(submit)()
    communicator = await connect(job.pk)
    assert (await communicator.receive_json_from())["type"] == "queued"

    worker = run_in_another_thread(tasks.run_job, str(job.pk))
    messages, code = await receive_until_closed(communicator)
    await sync_to_async(worker.join)()

    kinds = [m["type"] for m in messages]
    assert kinds[0] == "started" and kinds[-1] == "succeeded" and "progress" in kinds
    assert set(kinds[1:-1]) <= {"progress", "preview"}
    ids = [m["event_id"] for m in messages]
    assert ids == sorted(set(ids))  # in order, none twice
    assert messages[-1]["result_url"]
    assert code == 1000


async def test_an_unknown_job_is_closed_with_4404():
    communicator = await connect(uuid.uuid4())
    messages, code = await receive_until_closed(communicator, timeout=5)
    assert messages == [] and code == 4404


def session_cookie(session_key: str) -> tuple[bytes, bytes]:
    return (b"cookie", f"sessionid={session_key}".encode())


async def test_the_browser_that_made_a_wish_may_cancel_it(submit):
    session_key = await sync_to_async(browser_session)()
    job = await sync_to_async(submit)(kiosk_session=session_key)
    communicator = await connect(job.pk, headers=(ORIGIN, HOST, session_cookie(session_key)))
    await communicator.receive_json_from()

    await communicator.send_json_to({"action": "cancel"})
    messages, code = await receive_until_closed(communicator)

    assert [m["type"] for m in messages] == ["cancelled"] and code == 1000
    await sync_to_async(job.refresh_from_db)()
    assert job.status == Status.CANCELLED


@pytest.mark.parametrize("cookie", ["none", "another visitor's"])
async def test_nobody_else_may_cancel_a_wish_over_the_socket(submit, cookie):
    owner = await sync_to_async(browser_session)()
    job = await sync_to_async(submit)(kiosk_session=owner)
    headers = [ORIGIN, HOST]
    if cookie != "none":
        headers.append(session_cookie(await sync_to_async(browser_session)()))
    communicator = await connect(job.pk, headers=headers)
    await communicator.receive_json_from()

    await communicator.send_json_to({"action": "cancel"})
    answer = await communicator.receive_json_from()

    assert answer["type"] == "error" and answer["reason"]
    await sync_to_async(job.refresh_from_db)()
    assert job.status == Status.QUEUED and not job.cancel_requested
    await communicator.disconnect()


async def test_a_curator_may_cancel_any_wish_over_the_socket(submit):
    from django.contrib.auth import get_user_model
    from django.test import Client

    def curator_session() -> str:
        client = Client()
        client.force_login(get_user_model().objects.create_user("kuratorin", is_staff=True))
        return client.cookies["sessionid"].value

    job = await sync_to_async(submit)(kiosk_session=await sync_to_async(browser_session)())
    communicator = await connect(
        job.pk, headers=(ORIGIN, HOST, session_cookie(await sync_to_async(curator_session)()))
    )
    await communicator.receive_json_from()

    await communicator.send_json_to({"action": "cancel"})
    messages, code = await receive_until_closed(communicator)

    assert [m["type"] for m in messages] == ["cancelled"] and code == 1000


async def test_an_api_client_without_a_browser_uses_its_token(submit):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    def token_owner_job():
        user = get_user_model().objects.create_user("museum-app")
        return Token.objects.create(user=user).key, submit(api_user=user)

    key, job = await sync_to_async(token_owner_job)()
    communicator = await connect(job.pk, headers=[(b"authorization", f"Token {key}".encode())])
    assert (await communicator.receive_json_from())["snapshot"] is True

    await communicator.send_json_to({"action": "cancel"})
    messages, code = await receive_until_closed(communicator)

    assert [m["type"] for m in messages] == ["cancelled"] and code == 1000


async def test_unknown_actions_and_garbage_are_answered_not_fatal(submit):
    job = await sync_to_async(submit)()
    communicator = await connect(job.pk)
    await communicator.receive_json_from()

    await communicator.send_json_to({"action": "explode"})
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.send_to(text_data="{not json")
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.disconnect()


async def test_a_waiting_socket_hears_its_place_in_the_queue_move(submit):
    first = await sync_to_async(submit)()
    second = await sync_to_async(submit)()
    communicator = await connect(second.pk)
    assert (await communicator.receive_json_from())["position"] == 2

    await sync_to_async(jobs.cancel_job)(first)
    update = await communicator.receive_json_from(timeout=5)
    assert update == {"type": "queued", "position": 1}
    await communicator.disconnect()


async def test_a_watched_job_whose_worker_died_is_recovered(submit, settings):
    job = await sync_to_async(submit)()
    claimed = await sync_to_async(tasks.claim_job)(job.pk)
    communicator = await connect(job.pk)
    assert (await communicator.receive_json_from())["type"] == "started"

    # The worker dies: no heartbeat comes any more, and now any silence is too long.
    settings.OLPE_JOB_STALE_SECONDS = 0
    requeued = await communicator.receive_json_from(timeout=10)
    assert requeued["type"] == "queued" and requeued["retry"] is True
    await sync_to_async(claimed.refresh_from_db)()
    assert claimed.status == Status.QUEUED and claimed.attempts == 1
    await communicator.disconnect()


async def test_a_running_job_snapshot_shows_its_progress(submit):
    job = await sync_to_async(submit)()
    await sync_to_async(tasks.claim_job)(job.pk)
    await sync_to_async(InpaintJob.objects.filter(pk=job.pk).update)(
        progress_step=3, progress_total=7
    )
    communicator = await connect(job.pk)

    first = await communicator.receive_json_from()
    assert (first["type"], first["step"], first["total"]) == ("started", 3, 7)
    await communicator.disconnect()
