"""Wishes through the real platform: daphne and the django-q2 cluster as subprocesses.

Each profile (embedded: SQLite and the ORM broker; scaled: PostgreSQL and
Redis) starts once for this module. A wish goes in over HTTP, is followed
over a real websocket, and its result comes back over HTTP; workers are
killed in the middle of a job, the cluster is stopped while wishes arrive,
and twenty clients submit at once.
"""

import asyncio
import base64
import io
import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from tests.live import live_platform, wait_for
from tooling.demo import make_demo_map
from tooling.launcher import CLUSTER

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(240)]

TOKENS = 32
SMALL = 256
# Large enough that the classic engine works for a few seconds: time to kill its worker.
LARGE = 1024


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def wish_pictures(size: int, seed: int = 1) -> tuple[bytes, bytes]:
    """A map and a kiosk-style mask (red paint on transparency) over its middle."""
    paint = np.zeros((size, size, 4), dtype=np.uint8)
    paint[size // 4: size * 3 // 4, size // 4: size * 3 // 4] = (255, 0, 0, 255)
    return png_bytes(make_demo_map(width=size, height=size, seed=seed)), png_bytes(
        Image.fromarray(paint, "RGBA")
    )


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("scaled", marks=pytest.mark.scaled)],
)
def live(request, tmp_path_factory):
    with live_platform(request.param, tmp_path_factory.mktemp(request.param),
                       tokens=TOKENS) as platform:
        yield platform


@pytest.fixture(scope="module")
def tokens(live):
    """Hands out each client token once: every client has its own rate limit."""
    return iter(live.tokens)


def kinds(messages) -> list[str]:
    return [message["type"] for message in messages]


async def submit(live, tokens, size=SMALL, seed=1) -> dict:
    image, mask = wish_pictures(size, seed)
    return await asyncio.to_thread(
        live.submit, image, mask, "Was wäre, wenn hier ein See wäre?", next(tokens),
        engine="classic", seed=seed,
    )


async def test_a_wish_goes_from_http_through_the_websocket_to_its_result(live, tokens):
    job = await submit(live, tokens)
    assert job["status"] == "queued"

    messages, code = await live.follow(job["websocket_url"], after=0)

    assert messages[0]["snapshot"] is True
    history = kinds(messages[1:])
    assert history[:2] == ["queued", "started"] and history[-1] == "succeeded"
    assert "progress" in history and set(history[2:-1]) <= {"progress", "preview"}
    ids = [message["event_id"] for message in messages[1:]]
    assert ids == sorted(set(ids))
    assert code == 1000

    state = await asyncio.to_thread(live.get_json, job["url"])
    assert state["status"] == "succeeded" and state["attempts"] == 1
    status, png = await asyncio.to_thread(live.request, "GET", state["result_url"])
    assert status == 200
    result = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    original = np.asarray(Image.open(io.BytesIO(wish_pictures(SMALL)[0])).convert("RGB"))
    assert result.shape == original.shape
    assert not np.array_equal(result[96:160, 96:160], original[96:160, 96:160])
    assert np.array_equal(result[:, :16], original[:, :16])  # far from the paint: untouched


async def test_a_wish_on_a_world_by_reference_is_painted_by_a_worker(live, tokens, tmp_path):
    """`add_world` adds the map; the wish sends only the World's slug and the mask, and a
    worker paints on the World's map, which the job does not copy."""
    world_png, mask = wish_pictures(SMALL, seed=6)
    (tmp_path / "welt.png").write_bytes(world_png)
    output = await asyncio.to_thread(
        live.manage, "add_world", str(tmp_path / "welt.png"), "--name", "Welt e2e"
    )
    slug = output.strip().splitlines()[-1]
    body = {"world": slug, "mask": base64.b64encode(mask).decode("ascii"),
            "prompt": "Was wäre, wenn hier ein See wäre?", "engine": "classic", "seed": 6}
    status, payload = await asyncio.to_thread(
        live.request, "POST", "/api/v1/jobs/", body, next(tokens)
    )
    assert status == 202, payload
    job = json.loads(payload)

    messages, _code = await live.follow(job["websocket_url"], after=0)
    assert kinds(messages)[-1] == "succeeded"
    row = live.profile.job(job["id"])
    assert row["input_image"] == "" and row["painted_world_id"] is not None
    state = await asyncio.to_thread(live.get_json, job["url"])
    status, png = await asyncio.to_thread(live.request, "GET", state["result_url"])
    result = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    original = np.asarray(Image.open(io.BytesIO(world_png)).convert("RGB"))
    assert not np.array_equal(result[96:160, 96:160], original[96:160, 96:160])
    assert np.array_equal(result[:, :16], original[:, :16])  # far from the paint: untouched


async def test_a_job_whose_worker_is_killed_is_finished_by_another(live, tokens):
    job = await submit(live, tokens, size=LARGE, seed=2)
    follower = asyncio.create_task(live.follow(job["websocket_url"], after=0))

    pid = await wait_for_worker(live, job["id"])
    assert live.is_our_worker(pid)
    os.kill(pid, signal.SIGKILL)

    messages, _ = await follower
    history = kinds(messages[1:])
    assert history[-1] == "succeeded", f"{history}\n{live.log_tail()}"
    # Recovery put it back in the queue, and a fresh worker painted it.
    second_start = history.index("started", history.index("started") + 1)
    assert "queued" in history[history.index("started"):second_start]
    row = live.profile.job(job["id"])
    assert (row["status"], row["attempts"]) == ("succeeded", 2)
    assert not row["worker"].endswith(f":{pid}")
    assert len(live.result_files(job["id"])) == 1
    assert live.stray_files() == [], "the killed attempt's pictures were left behind"


async def wait_for_worker(live, job_id, timeout=60) -> int:
    return await wait_for(lambda: live.worker_pid(job_id), f"a worker to start job {job_id}",
                          timeout, interval=0.02)


LOSE_AND_RECOVER = """
import json
from datetime import timedelta
from django.utils import timezone
from django_q.brokers import get_broker
from inpainting.jobs import queued_job_ids, recover_stale_jobs
before = sorted(queued_job_ids())
get_broker().purge_queue()  # what Redis does to tasks of a cluster that dies
lost = sorted(queued_job_ids())
recovered = recover_stale_jobs(now=timezone.now() + timedelta(minutes=10))
print(json.dumps([before, lost, recovered, sorted(queued_job_ids())]))
"""


async def test_wishes_wait_for_a_worker_even_when_the_broker_forgets_them(live, tokens):
    live.platform.stop_process(CLUSTER)
    try:
        jobs = [await submit(live, tokens, seed=seed) for seed in (3, 4, 5)]
        followers = [
            asyncio.create_task(live.follow(job["websocket_url"], after=0)) for job in jobs
        ]
        for job in jobs:
            state = await asyncio.to_thread(live.get_json, job["url"])
            assert state["status"] == "queued"

        output = await asyncio.to_thread(live.manage, "shell", "-c", LOSE_AND_RECOVER)
        before, lost, recovered, after = json.loads(output.strip().splitlines()[-1])
        ids = sorted(job["id"] for job in jobs)
        # The ORM broker may also hold tasks delivered to a killed worker.
        assert set(ids) <= set(before)
        assert (lost, recovered, after) == ([], 3, ids)
    finally:
        live.platform.start_process(CLUSTER)

    for job, (messages, _) in zip(jobs, await asyncio.gather(*followers), strict=True):
        assert kinds(messages)[-1] == "succeeded", live.log_tail()
        assert live.profile.job(job["id"])["attempts"] == 1


async def test_twenty_clients_at_once_each_get_their_picture_exactly_once(live, tokens):
    client_tokens = [next(tokens) for _ in range(20)]
    image, mask = wish_pictures(SMALL, seed=6)
    jobs = await asyncio.gather(*(
        asyncio.to_thread(live.submit, image, mask, f"Ein Wald Nummer {n}", token,
                          engine="classic", seed=n)
        for n, token in enumerate(client_tokens)
    ))
    assert len({job["id"] for job in jobs}) == 20

    followed = await asyncio.gather(*(live.follow(job["websocket_url"], after=0) for job in jobs))

    for job, (messages, code) in zip(jobs, followed, strict=True):
        history = kinds(messages[1:])
        assert history.count("started") == 1 and history.count("succeeded") == 1, history
        assert history[-1] == "succeeded" and code == 1000
        row = live.profile.job(job["id"])
        assert (row["status"], row["attempts"]) == ("succeeded", 1)
        assert len(live.result_files(job["id"])) == 1
    status, png = await asyncio.to_thread(live.request, "GET", jobs[-1]["url"] + "result.png")
    assert status == 200 and Image.open(io.BytesIO(png)).size == (SMALL, SMALL)


async def test_a_web_process_that_dies_is_noticed_and_restarted(live, tokens):
    web = live.platform.web_names[0]
    crashed = live.platform.processes[web].popen
    os.kill(crashed.pid, signal.SIGKILL)
    await asyncio.to_thread(crashed.wait)
    assert live.platform.died() == [web]

    await asyncio.to_thread(live.platform.restart, web)
    assert live.platform.died() == []
    job = await submit(live, tokens, seed=7)
    messages, _ = await live.follow(job["websocket_url"])
    assert kinds(messages)[-1] == "succeeded"
