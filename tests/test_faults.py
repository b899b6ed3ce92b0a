"""Faults of a scaled installation, caused on purpose while visitors wait for their pictures.

Real processes on loopback: daphne and the django-q2 cluster, started by
`tooling.launcher.Platform`, against a PostgreSQL cluster and a
redis-server of this module's own (initdb in a temporary directory, a
redis-server on a free port), so that they can be killed and restarted
without touching the machine's shared servers.

What every test checks, whatever the fault: nothing submitted is lost (each
job ends succeeded, or failed with a reason), no visitor sees a job done twice
(one terminal event on their websocket, one stored terminal event, one result
file, attempts within the limit), and nothing stays queued or running.

A worker killed in the middle of a job is covered for both profiles by
`tests/test_jobs_e2e.py::test_a_job_whose_worker_is_killed_is_finished_by_another`;
here the whole cluster dies at once instead.
"""

from __future__ import annotations

import asyncio
import base64
import glob
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import psycopg
import pytest
import redis
from PIL import Image

from benchmarks.load_test import Watch, exactly_once_problems, run_visitors, watch_job
from benchmarks.load_test import audit_jobs as audit_load_test_jobs
from benchmarks.load_test import running_platform as load_test_platform
from tests.live import (
    LivePlatform,
    Profile,
    forget_database_templates,
    free_port,
    platform_env,
    wait_for,
    write_settings_module,
)
from tooling.demo import make_demo_map
from tooling.launcher import CLUSTER, Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SMALL = 256
# The classic engine works a few seconds on it: time to cause a fault mid-job.
LARGE = 1024
FINISHED = ("succeeded", "failed", "cancelled")
# How long a job may take to end after a fault. A job the broker forgot waits
# for the maintenance schedule (every minute, checked every 30 s by the cluster).
RECOVERY_TIMEOUT_S = 150


# --- servers of our own ------------------------------------------------------------------


class RedisServer:
    """A redis-server on a free loopback port that keeps nothing on disk.

    Killing it loses every key, as a Redis without persistence does when it
    restarts: the broker's queue, the channel layer's groups, the cache.
    """

    def __init__(self, directory: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        log = open(self.directory / "redis.log", "a")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, on a free loopback port.

    initdb refuses to run as root, so as root the cluster belongs to the
    `postgres` system user. fsync is off: the data is thrown away anyway.
    """

    def __init__(self):
        self.bin_dir = _postgres_bin_dir()
        if self.bin_dir is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.as_postgres = os.geteuid() == 0
        self.directory = Path(tempfile.mkdtemp(prefix="olpe-faults-pg-"))
        if self.as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                f"-c fsync=off -c max_connections=100")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(),
                  "-l", str(self.directory / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"olpe_faults_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def connections(self, database_url: str) -> int:
        name = database_url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as admin:
            return admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
            ).fetchone()[0]

    def remove(self) -> None:
        forget_database_templates(self.url("").rstrip("/"))
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


# --- the platform ------------------------------------------------------------------------


@contextmanager
def fault_platform(data_dir: Path, database_url: str, redis_url: str, *, web_processes: int = 1,
                   workers: int = 2, tokens: int = 12) -> Iterator[LivePlatform]:
    """`tests.live.live_platform`'s platform, on servers the test chose, with several daphnes."""
    write_settings_module(data_dir)
    profile = Profile("scaled", {"DATABASE_URL": database_url, "REDIS_URL": redis_url},
                      database_url)
    env = platform_env(profile, data_dir)
    platform = Platform(ports=[free_port() for _ in range(web_processes)], workers=workers,
                        env=env, log_dir=data_dir / "logs", grace_seconds=10)
    live = LivePlatform(profile, data_dir, platform, env)
    live.prepare_database(tokens)
    platform.start(timeout=90)
    try:
        yield live
    finally:
        platform.stop()


# --- wishes and what became of them ----------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def wish_pictures(size: int, seed: int) -> tuple[bytes, bytes]:
    """A map and a kiosk-style mask (red paint on transparency) over its middle."""
    paint = np.zeros((size, size, 4), dtype=np.uint8)
    paint[size // 4: size * 3 // 4, size // 4: size * 3 // 4] = (255, 0, 0, 255)
    return png_bytes(make_demo_map(width=size, height=size, seed=seed)), png_bytes(
        Image.fromarray(paint, "RGBA")
    )


async def submit_wishes(live: LivePlatform, sizes: list[int]) -> list[dict]:
    """One wish per size, all at once, each from its own API client (its own rate limit)."""
    assert len(sizes) <= len(live.tokens) - 1, "one token is kept for submit_raw"

    def submit(seed: int, size: int, token: str) -> dict:
        image, mask = wish_pictures(size, seed)
        return live.submit(image, mask, "Was wäre, wenn hier ein See wäre?", token,
                           engine="classic", seed=seed)

    return await asyncio.gather(*(
        asyncio.to_thread(submit, seed, size, token)
        for seed, (size, token) in enumerate(zip(sizes, live.tokens, strict=False), start=1)
    ))


def submit_raw(live: LivePlatform, size: int, seed: int) -> tuple[int, bytes]:
    """Submit a wish and return the answer as it is, whatever its status."""
    image, mask = wish_pictures(size, seed)
    body = {"image": base64.b64encode(image).decode("ascii"),
            "mask": base64.b64encode(mask).decode("ascii"),
            "prompt": "Ein Wald", "engine": "classic", "seed": seed}
    return live.request("POST", "/api/v1/jobs/", body, token=live.tokens[-1])


def follow(live: LivePlatform, job: dict, ports: list[int] | None = None,
           watch: Watch | None = None) -> asyncio.Task:
    """Watch a job like the kiosk does, reconnecting (to the next daphne) when the socket drops."""
    ports = ports or live.platform.ports
    urls = [live.platform.ws_url(job["websocket_url"], port=port) for port in ports]
    origin = live.platform.url("").rstrip("/")

    async def watched() -> Watch:
        try:
            return await watch_job(urls, origin, timeout=RECOVERY_TIMEOUT_S, watch=watch)
        except TimeoutError:
            raise AssertionError(
                f"job {job['id']} did not end within {RECOVERY_TIMEOUT_S} s: "
                f"{live.profile.job(job['id'])}\nwatched: {watch and watch.kinds}\n"
                f"{live.log_tail(80)}"
            ) from None

    return asyncio.create_task(watched())


async def wait_until_running(live: LivePlatform, jobs: list[dict], timeout: float = 60) -> int:
    """The process id of the first worker seen running one of `jobs`."""
    def running_worker():
        return next(filter(None, (live.worker_pid(job["id"]) for job in jobs)), None)

    return await wait_for(running_worker, "a worker to start one of the wishes", timeout)


def outage_noticed(live: LivePlatform) -> bool:
    """The web tier's health check fails: the platform itself has seen the server go."""
    return live.request("GET", "/health/")[0] == 503


def unfinished_jobs(live: LivePlatform) -> list[tuple]:
    with psycopg.connect(live.profile.database_url) as connection:
        return connection.execute(
            "SELECT id, status FROM inpainting_inpaintjob WHERE status NOT IN (%s, %s, %s)",
            FINISHED,
        ).fetchall()


def stored_terminal_events(live: LivePlatform, job_id) -> int:
    with psycopg.connect(live.profile.database_url) as connection:
        return connection.execute(
            "SELECT count(*) FROM inpainting_jobevent WHERE job_id = %s AND kind IN (%s, %s, %s)",
            [str(job_id), *FINISHED],
        ).fetchone()[0]


def assert_each_job_ended_once(live: LivePlatform, jobs: list[dict], watches: list[Watch],
                               max_attempts: int = 2) -> None:
    """Nothing lost, nothing done twice in a way a visitor would see, nothing left running."""
    for job, watch in zip(jobs, watches, strict=True):
        row = live.profile.job(job["id"])
        context = f"job {job['id']}: {row}\nwatched: {watch.kinds}\n{live.log_tail()}"
        assert row["status"] in ("succeeded", "failed"), context
        assert 1 <= row["attempts"] <= max_attempts, context
        assert [message["type"] for message in watch.terminal] == [row["status"]], context
        assert len(watch.terminal_event_ids) <= 1, context
        assert stored_terminal_events(live, job["id"]) == 1, context
        if row["status"] == "failed":
            assert row["error_message"], context
            continue
        assert len(live.result_files(job["id"])) == 1, context
        status, png = live.request("GET", watch.terminal[0]["result_url"])
        assert status == 200 and Image.open(io.BytesIO(png)).size[0] in (SMALL, LARGE), context
    assert unfinished_jobs(live) == []
    assert live.stray_files() == [], "pictures left behind by failed attempts or submissions"


# --- (a) Redis ------------------------------------------------------------------------------


BROKER_LIST = "django_q:olpe:q"  # the Redis broker's list of waiting tasks


@pytest.mark.scaled
@pytest.mark.anyio
async def test_jobs_survive_a_redis_restart_that_forgets_everything(tmp_path, postgres, own_redis):
    with fault_platform(tmp_path, postgres.create_database(), own_redis.url, tokens=16) as live:
        # Wishes pile up while the cluster is away (as during its own restart), more than it
        # takes at once when it is back (it buffers workers² tasks): some still wait in Redis.
        live.platform.stop_process(CLUSTER)
        jobs = await submit_wishes(live, [LARGE] * 2 + [SMALL] * 12)
        live.platform.start_process(CLUSTER)
        watches = [Watch() for _ in jobs]
        followers = [follow(live, job, watch=watch)
                     for job, watch in zip(jobs, watches, strict=True)]
        await wait_until_running(live, jobs)
        forgotten = redis.Redis.from_url(own_redis.url).llen(BROKER_LIST)

        own_redis.kill()  # the broker's list, the channel groups and the cache are gone
        await wait_for(lambda: outage_noticed(live), "the health check to notice Redis is gone")
        # What a kiosk does meanwhile: a new wish, and reading a job (the websocket's fallback).
        submitted, payload = await asyncio.to_thread(submit_raw, live, SMALL, seed=99)
        read, _ = await asyncio.to_thread(live.request, "GET", jobs[-1]["url"])
        own_redis.start()
        if submitted == 202:  # stored while the broker was away: painted all the same
            jobs.append(json.loads(payload))
            watches.append(Watch())
            followers.append(follow(live, jobs[-1], watch=watches[-1]))
        await asyncio.gather(*followers)

        assert forgotten > 0, "no wish was waiting in Redis when it went away"
        assert_each_job_ended_once(live, jobs, watches)
        assert live.platform.died() == []
        # The outage showed as clean answers, never as server errors.
        assert submitted in (202, 503), f"a wish in the outage answered {submitted}: {payload!r}"
        assert read == 200, f"reading a job during the outage answered {read}"


# --- (b) PostgreSQL --------------------------------------------------------------------------


@pytest.mark.scaled
@pytest.mark.anyio
async def test_jobs_survive_a_postgres_restart(tmp_path, postgres, own_redis):
    with fault_platform(tmp_path, postgres.create_database(), own_redis.url) as live:
        jobs = await submit_wishes(live, [LARGE] * 2 + [SMALL] * 6)
        watches = [Watch() for _ in jobs]
        followers = [follow(live, job, watch=watch)
                     for job, watch in zip(jobs, watches, strict=True)]
        await wait_until_running(live, jobs)

        await asyncio.to_thread(postgres.stop, "fast")  # every connection is cut
        await wait_for(lambda: outage_noticed(live), "the health check to notice PostgreSQL is gone")
        submitted, payload = await asyncio.to_thread(submit_raw, live, SMALL, seed=99)
        await asyncio.to_thread(postgres.start)
        await asyncio.gather(*followers)

        assert_each_job_ended_once(live, jobs, watches)
        assert live.platform.died() == []
        # Without its database the platform cannot store a wish, and must not claim it did.
        assert submitted != 202, payload


# --- (c) the whole cluster killed ---------------------------------------------------------------


@pytest.mark.scaled
@pytest.mark.anyio
async def test_jobs_survive_a_cluster_killed_in_the_middle_of_its_work(tmp_path, postgres,
                                                                       own_redis):
    """A power cut of the worker machine: running jobs and the tasks it had taken from Redis."""
    with fault_platform(tmp_path, postgres.create_database(), own_redis.url) as live:
        jobs = await submit_wishes(live, [LARGE] * 2 + [SMALL] * 8)
        watches = [Watch() for _ in jobs]
        followers = [follow(live, job, watch=watch)
                     for job, watch in zip(jobs, watches, strict=True)]
        pid = await wait_until_running(live, jobs)
        assert live.is_our_worker(pid)

        await asyncio.to_thread(live.platform.kill, CLUSTER)  # SIGKILL to every process of it
        await wait_for(lambda: not psutil.pid_exists(pid), "the killed worker to be gone")
        live.platform.start_process(CLUSTER)
        await asyncio.gather(*followers)

        assert_each_job_ended_once(live, jobs, watches)
        interrupted = [job for job in jobs if live.profile.job(job["id"])["attempts"] == 2]
        assert interrupted, "no job was running when the cluster died"


# --- (d) a web process restarted while visitors watch ---------------------------------------------


@pytest.mark.scaled
@pytest.mark.anyio
async def test_watchers_reconnect_and_see_the_end_when_their_daphne_restarts(tmp_path, postgres,
                                                                          own_redis):
    with fault_platform(tmp_path, postgres.create_database(), own_redis.url,
                        web_processes=2) as live:
        restarted, other = live.platform.ports
        jobs = await submit_wishes(live, [LARGE] * 2 + [SMALL] * 6)
        watches = [Watch() for _ in jobs]
        # Half the kiosks can only reach the restarted daphne (one museum PC); the others
        # are sent to the second one by the proxy when their socket drops.
        followers = [
            follow(live, job, ports=[restarted] if index % 2 else [restarted, other], watch=watch)
            for index, (job, watch) in enumerate(zip(jobs, watches, strict=True))
        ]
        await wait_for(lambda: all(watch.connections for watch in watches),
                       "every watcher to connect", timeout=30)
        await wait_until_running(live, jobs)

        await asyncio.to_thread(live.platform.restart, live.platform.web_name(restarted))
        await asyncio.gather(*followers)

        assert_each_job_ended_once(live, jobs, watches, max_attempts=1)
        reconnected = [watch for watch in watches if watch.connections > 1]
        assert reconnected, "the restart dropped no socket"
        assert live.platform.died() == []


# --- connections under load ---------------------------------------------------------------


POOL_MAX = 4  # per process, well below the 20 clients that ask at once


def database_sessions(pid: int, port: int) -> int:
    """How many connections process `pid` has open to the PostgreSQL server on `port`."""
    return sum(
        1 for connection in psutil.Process(pid).net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port == port
    )


@pytest.mark.scaled
def test_web_processes_keep_few_database_connections(tmp_path, postgres, own_redis, monkeypatch):
    """Connections stay bounded per process, however many requests run at once.

    Under ASGI each request runs in a thread of its own. With persistent
    connections (CONN_MAX_AGE > 0) every finished request left its thread's
    connection open, and a busy afternoon exhausted PostgreSQL's
    max_connections: requests failed with "too many clients". With the pool
    (OLPE_DB_POOL, the scaled default) a process holds at most
    OLPE_DB_POOL_MAX connections; more requests at once wait for one instead of
    opening more, and none fails.
    """
    monkeypatch.setenv("OLPE_DB_POOL_MAX", str(POOL_MAX))  # the platform's processes inherit it
    with fault_platform(tmp_path, postgres.create_database(), own_redis.url, tokens=1) as live:
        web = live.platform.processes[live.platform.web_names[0]].pid
        cluster = psutil.Process(live.platform.processes[CLUSTER].pid)
        with ThreadPoolExecutor(max_workers=20) as clients:
            statuses = list(clients.map(
                lambda _: live.request("GET", f"/api/v1/jobs/{uuid.uuid4()}/")[0], range(200)
            ))
        web_sessions = database_sessions(web, postgres.port)
        processes = 1 + 1 + len(cluster.children(recursive=True))  # daphne, qcluster and its own
        total = postgres.connections(live.profile.database_url)
        log_tail = live.log_tail()

    failed = len(statuses) - statuses.count(404)
    assert failed == 0, f"{failed} of 200 requests failed, {total} connections open\n{log_tail}"
    assert 1 <= web_sessions <= POOL_MAX, f"the web process holds {web_sessions} connections"
    assert total <= POOL_MAX * processes, f"{total} connections for {processes} processes"


# --- a small load test --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["embedded", pytest.param("scaled", marks=pytest.mark.scaled)])
def test_ten_visitors_at_once_each_get_their_picture_exactly_once(tmp_path, profile):
    """`benchmarks/load_test.py --visitors 10`: pages, wish, websocket and result per visitor."""
    with load_test_platform(profile, tmp_path) as live:
        reports, _ = asyncio.run(run_visitors(live, 10))
        problems = exactly_once_problems(reports, audit_load_test_jobs(live), live)

    assert problems == [], "\n".join(problems)
    assert all(report.result_at is not None for report in reports)
