"""The real platform in subprocesses, for end-to-end tests.

A `LivePlatform` is daphne plus the django-q2 cluster, started by the same
`Platform` class a museum PC runs, in one of two profiles:

* embedded: a SQLite file and the ORM broker, the in-memory channel layer;
* scaled: a fresh PostgreSQL database, a Redis database of its own (broker
  and channel layer).

Each gets its own data directory, and a small settings module written there
that shortens the fault timings (heartbeat, stale detection) so that crash
recovery can be watched within seconds. The test process reads the job table
directly (sqlite3 / psycopg) for what the API does not show, such as the
worker's process id.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import psutil
import psycopg
import redis
from django.conf import settings
from websockets.asyncio.client import connect as websocket_connect

from tooling.launcher import CLUSTER, Platform

SETTINGS_MODULE = "olpe_e2e_settings"
# Fault timings short enough to watch: a worker that stops beating for 3 s is lost.
QUICK_SETTINGS = {
    "OLPE_JOB_STALE_SECONDS": 3,
    "OLPE_HEARTBEAT_SECONDS": 0.5,
    "OLPE_JOB_REQUEUE_SECONDS": 5,
    "OLPE_WS_POLL_SECONDS": 0.1,
    "OLPE_WS_CHECK_SECONDS": 0.5,
}
POSTGRES_ADMIN_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://root@127.0.0.1:5432/postgres",
)
REDIS_SERVER = "redis://127.0.0.1:6379"
PICTURE_COLUMNS = ("input_image", "mask_image", "result_image", "preview_image")


async def wait_for(condition, what: str, timeout: float = 60, interval: float = 0.05):
    """Check `condition` (a plain function, run in a thread) until it returns something true,
    and return that; after `timeout` seconds fail with a message that says what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_settings_module(directory: Path) -> None:
    """A settings module for the children: the project's settings plus QUICK_SETTINGS."""
    lines = ["from olpe_site.settings import *  # noqa: F401,F403", ""]
    lines += [f"{name} = {value!r}" for name, value in QUICK_SETTINGS.items()]
    (directory / f"{SETTINGS_MODULE}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- profiles ----------------------------------------------------------------------------


@dataclass
class Profile:
    """Where a platform keeps its data: environment for the children, access for the test."""

    name: str
    env: dict[str, Optional[str]]
    database_url: str

    def job(self, job_id) -> Optional[dict]:
        """The job's row as the workers left it (status, attempts, worker, ...)."""
        if self.database_url.startswith("sqlite"):
            path = self.database_url.removeprefix("sqlite:///")
            with sqlite3.connect(path, timeout=30) as connection:
                connection.row_factory = sqlite3.Row
                row = connection.execute(
                    "SELECT * FROM inpainting_inpaintjob WHERE id = ?", [uuid.UUID(str(job_id)).hex]
                ).fetchone()
            return dict(row) if row else None
        with psycopg.connect(self.database_url, row_factory=psycopg.rows.dict_row) as connection:
            return connection.execute(
                "SELECT * FROM inpainting_inpaintjob WHERE id = %s", [str(job_id)]
            ).fetchone()


@contextmanager
def embedded_profile(data_dir: Path) -> Iterator[Profile]:
    database_url = f"sqlite:///{data_dir / 'db.sqlite3'}"
    # Explicit values, so neither the caller's environment nor a .env file chooses.
    yield Profile("embedded", {"DATABASE_URL": database_url, "REDIS_URL": ""}, database_url)


@contextmanager
def scaled_profile(data_dir: Path) -> Iterator[Profile]:
    """A fresh PostgreSQL database and an empty Redis database, both removed afterwards."""
    admin_url = _postgres_admin_url()
    name = f"olpe_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    redis_url = f"{REDIS_SERVER}/{_empty_redis_database()}"
    try:
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
        yield Profile("scaled", env, database_url)
    finally:
        redis.Redis.from_url(redis_url).flushdb()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_admin_url() -> str:
    for url in POSTGRES_ADMIN_URLS:
        try:
            psycopg.connect(url, connect_timeout=5).close()
            return url
        except psycopg.OperationalError:
            continue
    raise RuntimeError(f"No PostgreSQL at any of {POSTGRES_ADMIN_URLS}")


def _empty_redis_database() -> int:
    numbers = list(range(1, 16))
    random.shuffle(numbers)
    for number in numbers:
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{number}")
        # Claimed atomically: two test workers may look at the same empty database at once.
        if client.dbsize() == 0 and client.set("olpe:test-claim", os.getpid(), nx=True):
            return number
    raise RuntimeError("No empty Redis database among 1-15")


PROFILES = {"embedded": embedded_profile, "scaled": scaled_profile}


# --- migrated databases ------------------------------------------------------------------

TEMPLATE_TOKENS = 32
CREATE_TOKENS = (
    "import json\n"
    "from django.contrib.auth import get_user_model\n"
    "from rest_framework.authtoken.models import Token\n"
    "User = get_user_model()\n"
    f"users = [User.objects.create_user(f'client{{n}}') for n in range({TEMPLATE_TOKENS})]\n"
    "print(json.dumps([Token.objects.create(user=user).key for user in users]))\n"
)


@dataclass
class DatabaseTemplate:
    """A migrated database with TEMPLATE_TOKENS API clients, to copy for each platform."""

    url: str
    tokens: list[str]

    def copy_to(self, target_url: str) -> None:
        if self.url.startswith("sqlite"):
            source = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            target = sqlite3.connect(target_url.removeprefix("sqlite:///"))
            with source, target:
                source.backup(target)
            source.close()
            target.close()
            return
        server, name = target_url.rsplit("/", 1)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.url.rsplit("/", 1)[1]}"')


_templates: dict[str, DatabaseTemplate] = {}


def database_template(database_url: str, env: dict[str, Optional[str]]) -> DatabaseTemplate:
    """This process's template for the server of `database_url` (SQLite or a PostgreSQL
    server), made on first use with the platform's own settings (`env`)."""
    server = "sqlite" if database_url.startswith("sqlite") else database_url.rsplit("/", 1)[0]
    if server not in _templates:
        directory = Path(tempfile.mkdtemp(prefix="olpe-db-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        if server == "sqlite":
            url = f"sqlite:///{directory / 'template.sqlite3'}"
        else:
            name = f"olpe_template_{secrets.token_hex(4)}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            url = f"{server}/{name}"
            atexit.register(_drop_database, server, name)
        template_env = {**env, "DATABASE_URL": url, "OLPE_DATA_DIR": str(directory)}
        _manage(template_env, "migrate", "--noinput")
        tokens = json.loads(_manage(template_env, "shell", "-c", CREATE_TOKENS)
                            .strip().splitlines()[-1])
        _templates[server] = DatabaseTemplate(url, tokens)
    return _templates[server]


def forget_database_templates(server: str) -> None:
    """The PostgreSQL server at `server` (URL without a database) is gone with its template."""
    _templates.pop(server, None)


def _drop_database(server: str, name: str) -> None:
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # the server is gone already (a fault test's own cluster)


def _manage(env: dict[str, Optional[str]], *args: str, timeout: float = 180) -> str:
    environment = {**os.environ, **env}
    completed = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env={name: value for name, value in environment.items() if value is not None},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=timeout,
    )
    if completed.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return completed.stdout


# --- the platform ----------------------------------------------------------------------


@dataclass
class LivePlatform:
    profile: Profile
    data_dir: Path
    platform: Platform
    env: dict[str, Optional[str]]
    tokens: list[str] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def manage(self, *args: str, timeout: float = 180) -> str:
        return _manage(self.env, *args, timeout=timeout)

    def prepare_database(self, tokens: int = 0) -> None:
        """Migrate the platform's database and give it `tokens` API clients (`self.tokens`).

        The database is a copy of a template migrated once per test process and
        database server: migrating costs seconds of CPU a time, copying does not.
        """
        template = database_template(self.profile.database_url, self.env)
        if tokens > len(template.tokens):
            raise ValueError(f"at most {len(template.tokens)} tokens, not {tokens}")
        template.copy_to(self.profile.database_url)
        self.tokens = template.tokens[:tokens]

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- HTTP ---

    def submit(self, image: bytes, mask: bytes, wish: str, token: str, **parameters) -> dict:
        body = {
            "image": base64.b64encode(image).decode("ascii"),
            "mask": base64.b64encode(mask).decode("ascii"),
            "prompt": wish,
            **parameters,
        }
        status, payload = self.request("POST", "/api/v1/jobs/", body, token=token)
        assert status == 202, f"submission answered {status}: {payload!r}"
        return json.loads(payload)

    def get_json(self, path: str) -> dict:
        status, payload = self.request("GET", path)
        assert status == 200, f"GET {path} answered {status}: {payload!r}"
        return json.loads(payload)

    def request(self, method: str, path: str, body: Optional[dict] = None,
                token: Optional[str] = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json", "Accept-Language": "en"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Token {token}"
        request = urllib.request.Request(self.platform.url(path), data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    # --- websocket ---

    async def follow(self, websocket_path: str, after: Optional[int] = None,
                     timeout: float = 90) -> tuple[list[dict], int]:
        """Every message of a job's websocket until the server closes it, and the close code."""
        query = f"?after={after}" if after is not None else ""
        origin = self.platform.url("").rstrip("/")
        messages = []
        try:
            async with asyncio.timeout(timeout):
                async with websocket_connect(
                    self.platform.ws_url(websocket_path + query), origin=origin, open_timeout=20,
                ) as socket_:
                    async for text in socket_:
                        messages.append(json.loads(text))
        except TimeoutError:
            raise AssertionError(
                f"no terminal event within {timeout} s; got {messages}\n{self.log_tail()}"
            ) from None
        return messages, socket_.close_code

    # --- processes ---

    def worker_pid(self, job_id) -> Optional[int]:
        row = self.profile.job(job_id)
        if not row or row["status"] != "running" or not row["worker"]:
            return None
        return int(row["worker"].rsplit(":", 1)[1])

    def is_our_worker(self, pid: int) -> bool:
        """Whether `pid` descends from the cluster this platform started (safe to kill)."""
        cluster_pid = self.platform.processes[CLUSTER].pid
        try:
            return any(parent.pid == cluster_pid for parent in psutil.Process(pid).parents())
        except psutil.NoSuchProcess:
            return False

    def result_files(self, job_id) -> list[Path]:
        return sorted((self.data_dir / "media" / "jobs").glob(f"*/*/*/{job_id}/result*.png"))

    def stray_files(self) -> list[str]:
        """Stored job pictures that no job row points to: orphans of failed submissions or
        of attempts that could not commit. Call it once every job has ended."""
        media = self.data_dir / "media"
        stray = []
        for folder in sorted(media.glob("jobs/*/*/*/*")):
            row = self.profile.job(folder.name)
            kept = {row[name] for name in PICTURE_COLUMNS} if row else set()
            stray += [str(path.relative_to(media)) for path in sorted(folder.iterdir())
                      if str(path.relative_to(media)) not in kept]
        return stray


def platform_env(profile: Profile, data_dir: Path) -> dict[str, str]:
    """The environment of a test platform's processes: the profile's servers, fast polling,
    the classic engine, no translation service, rate limits out of the way."""
    return {
        **profile.env,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "PYTHONPATH": os.pathsep.join([str(data_dir), str(settings.BASE_DIR)]),
        "OLPE_DATA_DIR": str(data_dir),
        "OLPE_QUEUE_POLL": "0.1",
        "OLPE_DEFAULT_ENGINE": "classic",
        "OLPE_TRANSLATION_ENABLED": "false",
        "OLPE_THROTTLE_ANON": "100000/minute",
        "OLPE_THROTTLE_USER": "100000/minute",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "INFO",
    }


@contextmanager
def live_platform(profile_name: str, data_dir: Path, *, workers: int = 2,
                  tokens: int = 0, env: dict[str, str] | None = None) -> Iterator[LivePlatform]:
    """Migrate, start daphne and the cluster, yield, stop everything and remove the data.

    `env` adds environment variables (settings) for every process of the platform.
    """
    write_settings_module(data_dir)
    with PROFILES[profile_name](data_dir) as profile:
        env = {**platform_env(profile, data_dir), "OLPE_WORKERS": str(workers), **(env or {})}
        platform = Platform(ports=[free_port()], env=env, log_dir=data_dir / "logs",
                            grace_seconds=10)
        live = LivePlatform(profile, data_dir, platform, env)
        live.prepare_database(tokens)
        platform.start()
        try:
            yield live
        finally:
            platform.stop()
