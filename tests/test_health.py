"""Health endpoints: in process against the test database, in subprocesses with
unreachable services, and through the real platform (daphne and a cluster).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import Task
from django_q.signals import post_execute_in_worker

from inpainting import worker_reports
from inpainting.models import InpaintJob
from olpe_site.health import web as health_web
from olpe_site.health import workers as health_workers

HOST = {"HTTP_HOST": "localhost"}


@pytest.fixture
def shared_cache(settings, tmp_path):
    """The shared cache in a directory of this test, so no report outlives it."""
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "shared-cache"),
        },
    }
    yield


def closed_port() -> int:
    """A port nothing listens on: bound once, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_django(script: str, env: dict, timeout: float = 120) -> dict:
    """Run `script` in a fresh Django process; it prints one JSON object last.

    `env` adds variables to this process's environment; None removes one.
    """
    preamble = textwrap.dedent(
        """
        import json, sys
        import django
        django.setup()
        from django.test import Client
        client = Client(HTTP_HOST="localhost")
        """
    )
    merged = {**os.environ, "DJANGO_SETTINGS_MODULE": "olpe_site.settings", **env}
    completed = subprocess.run(
        [sys.executable, "-c", preamble + textwrap.dedent(script)],
        env={name: value for name, value in merged.items() if value is not None},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- /health/ ----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_part_of_the_embedded_profile_answers(client):
    response = client.get("/health/", **HOST)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "media"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["channel_layer"]["backend"] == "InMemoryChannelLayer"
    assert body["checks"]["broker"]["queued_tasks"] == 0
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_the_media_probe_leaves_no_file_behind(client, settings):
    client.get("/health/", **HOST)

    probes = Path(settings.MEDIA_ROOT) / health_web.MEDIA_PROBE_DIRECTORY
    assert not probes.exists() or not any(probes.iterdir())


@pytest.mark.django_db
def test_unwritable_media_fails_with_media_named(client, settings, tmp_path):
    not_a_directory = tmp_path / "media-is-a-file"
    not_a_directory.write_text("x")
    settings.MEDIA_ROOT = not_a_directory

    response = client.get("/health/", **HOST)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and body["failing"] == ["media"]
    assert body["checks"]["media"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_a_check_that_hangs_fails_by_timeout(client, settings, monkeypatch):
    settings.OLPE_HEALTH_TIMEOUT = 0.2

    async def never_answers():
        import asyncio

        await asyncio.Event().wait()

    monkeypatch.setitem(health_web.WEB_CHECKS, "channel_layer", never_answers)

    response = client.get("/health/", **HOST)

    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"]["error"] == "timeout"


@pytest.mark.django_db
def test_only_safe_methods_are_answered(client):
    assert client.post("/health/", **HOST).status_code == 405
    assert client.head("/health/", **HOST).status_code == 200


def test_unreachable_database_broker_and_channel_layer_answer_503_without_details(tmp_path):
    port = closed_port()
    answer = run_django(
        """
        web = client.get("/health/")
        workers = client.get("/health/workers/")
        print(json.dumps({"web": [web.status_code, web.json()],
                          "workers": [workers.status_code, workers.json()]}))
        """,
        env={
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/olpe",
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "OLPE_DATA_DIR": str(tmp_path),
        },
    )

    status, body = answer["web"]
    assert status == 503
    assert body["failing"] == ["database", "channel_layer", "broker"]
    assert body["checks"]["media"]["ok"] is True
    assert body["checks"]["channel_layer"]["error"] == "ConnectionError"
    status, body = answer["workers"]
    assert status == 503 and body["status"] == "failing"
    assert set(body["failing"]) == {"clusters", "workers", "jobs", "maintenance"}
    # Class names only: neither addresses nor credentials reach the answer.
    assert str(port) not in json.dumps(answer)


@pytest.mark.scaled
def test_every_part_of_the_scaled_profile_answers(tmp_path):
    from tests.live import scaled_profile

    with scaled_profile(tmp_path) as profile:
        answer = run_django(
            """
            response = client.get("/health/")
            print(json.dumps([response.status_code, response.json()]))
            """,
            env={**profile.env, "OLPE_DATA_DIR": str(tmp_path)},
        )

    status, body = answer
    assert status == 200, body
    assert body["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"
    assert body["checks"]["broker"]["queued_tasks"] == 0


def test_the_web_check_imports_no_torch(tmp_path):
    answer = run_django(
        """
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        response = client.get("/health/")
        print(json.dumps({"status": response.status_code, "torch": "torch" in sys.modules}))
        """,
        env={"OLPE_DATA_DIR": str(tmp_path), "DATABASE_URL": None, "REDIS_URL": None},
    )

    assert answer == {"status": 200, "torch": False}


# --- /health/workers/ --------------------------------------------------------------------


@pytest.mark.django_db
def test_no_cluster_and_no_report_means_no_workers(client, shared_cache):
    response = client.get("/health/workers/", **HOST)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "no workers" and body["failing"] == []
    assert body["clusters"] == [] and body["workers"] == []
    assert body["maintenance"] == {"seconds_since_run": None, "success": None}


@pytest.fixture
def worker_signals():
    """The receivers a worker process connects, for this test only."""
    from django_q.signals import post_spawn

    worker_reports.connect_worker_signals()
    yield
    post_spawn.disconnect(dispatch_uid="olpe-health-spawn")
    post_execute_in_worker.disconnect(dispatch_uid="olpe-health-task")


@pytest.mark.django_db
def test_a_worker_report_names_its_engines_and_gpu(
    client, shared_cache, reset_engines, worker_signals
):
    post_execute_in_worker.send(sender="django_q", func=print, task={})

    response = client.get("/health/workers/", **HOST)

    assert response.status_code == 200
    (report,) = response.json()["workers"]
    assert report["worker"] == f"{socket.gethostname()}:{os.getpid()}"
    assert report["engines"] == {"diffusers": {"loaded": False}}
    assert report["gpu"]["available"] in (None, False)  # no GPU on this machine
    assert report["alive"] is False  # no cluster lists this process
    assert report["seconds_since_report"] < 60


@pytest.mark.django_db
def test_a_job_with_a_fresh_heartbeat_is_a_sign_of_life(client, shared_cache):
    now = timezone.now()
    InpaintJob.objects.create(
        engine="classic", prompt_original="Ein See", status=InpaintJob.Status.RUNNING,
        worker="gpu-host:4242", heartbeat_at=now, progress_step=3, progress_total=30,
    )
    InpaintJob.objects.create(engine="classic", prompt_original="Ein Wald",
                              created_at=now - timedelta(seconds=90))

    body = client.get("/health/workers/", **HOST).json()

    assert body["status"] == "ok"
    assert body["jobs"]["queued"] == 1 and body["jobs"]["oldest_queued_seconds"] >= 90
    (running,) = body["jobs"]["running"]
    assert running["worker"] == "gpu-host:4242" and (running["step"], running["steps"]) == (3, 30)


@pytest.mark.django_db
def test_the_last_maintenance_run_is_reported(client, shared_cache):
    stopped = timezone.now() - timedelta(seconds=40)
    Task.objects.create(
        id="a" * 32, name="maintenance", func=health_workers.MAINTENANCE_FUNC, started=stopped,
        stopped=stopped, success=True,
    )

    body = client.get("/health/workers/", **HOST).json()

    assert body["maintenance"]["success"] is True
    assert 40 <= body["maintenance"]["seconds_since_run"] < 100


# --- through the real platform ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_running_platform_reports_itself_healthy(tmp_path):
    from tests.live import live_platform

    with live_platform("embedded", tmp_path, workers=1) as live:
        status, payload = live.request("GET", "/health/")
        assert status == 200, payload
        body = wait_for_cluster(live)

    (cluster,) = body["clusters"]
    assert len(cluster["workers"]) == 1
    assert cluster["seconds_since_report"] < 10


def wait_for_cluster(live, timeout: float = 60) -> dict:
    """/health/workers/ once the cluster's statistics reach the web process."""
    deadline = time.monotonic() + timeout
    while True:
        status, payload = live.request("GET", "/health/workers/")
        body = json.loads(payload)
        if status == 200 and body["clusters"]:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"no live cluster within {timeout} s: {body}\n{live.log_tail()}")
        time.sleep(0.5)
