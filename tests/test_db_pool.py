"""The scaled profile's PostgreSQL connection pool: its settings, and fork().

Settings are read once per process, so each configuration is tried in a fresh
one. The fork test needs PostgreSQL on 127.0.0.1 (marked `scaled`): a process
that has used its pool forks a child as django-q2's sentinel does, and the
child must open a pool (and PostgreSQL sessions) of its own, while the
parent's keep working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/olpe_never_connected"

SHOW_DATABASE = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.conf import settings
    database = settings.DATABASES["default"]
    print(json.dumps({"conn_max_age": database["CONN_MAX_AGE"],
                      "pool": database.get("OPTIONS", {}).get("pool")}))
    """
)


def run_python(script: str, tmp_path, **env) -> subprocess.CompletedProcess:
    merged = {**os.environ, "DJANGO_SETTINGS_MODULE": "olpe_site.settings",
              "OLPE_DATA_DIR": str(tmp_path)}
    for name in ("DATABASE_URL", "REDIS_URL", "DATABASE_CONN_MAX_AGE", "OLPE_DB_POOL",
                 "OLPE_DB_POOL_MIN", "OLPE_DB_POOL_MAX", "OLPE_DB_POOL_TIMEOUT"):
        merged.pop(name, None)
    merged.update(env)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=merged,
                          capture_output=True, text=True, timeout=120)


def database_settings(tmp_path, **env) -> dict:
    completed = run_python(SHOW_DATABASE, tmp_path, **env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- settings ------------------------------------------------------------------------------


def test_postgresql_gets_a_pool_by_default(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL)
    assert database == {"conn_max_age": 0,
                        "pool": {"min_size": 2, "max_size": 10, "timeout": 10.0}}


def test_the_pool_sizes_come_from_the_environment(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, OLPE_DB_POOL_MIN="1",
                                 OLPE_DB_POOL_MAX="4", OLPE_DB_POOL_TIMEOUT="2.5")
    assert database["pool"] == {"min_size": 1, "max_size": 4, "timeout": 2.5}


def test_operators_can_turn_the_pool_off(tmp_path):
    """The behaviour before the pool: a connection per request, or kept DATABASE_CONN_MAX_AGE."""
    assert database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, OLPE_DB_POOL="false") == {
        "conn_max_age": 0, "pool": None,
    }
    assert database_settings(
        tmp_path, DATABASE_URL=POSTGRES_URL, OLPE_DB_POOL="false", DATABASE_CONN_MAX_AGE="60"
    ) == {"conn_max_age": 60, "pool": None}


def test_sqlite_has_no_pool(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert database["pool"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_CONN_MAX_AGE": "60"}, "DATABASE_CONN_MAX_AGE must be 0 with the pool"),
        ({"OLPE_DB_POOL_MIN": "5", "OLPE_DB_POOL_MAX": "2"}, "need 0 <= min <= max"),
        ({"OLPE_DB_POOL_MAX": "0", "OLPE_DB_POOL_MIN": "0"}, "max >= 1"),
    ],
    ids=["persistent-connections", "min-above-max", "empty-pool"],
)
def test_a_contradictory_pool_configuration_refuses_to_start(tmp_path, env, message):
    completed = run_python(SHOW_DATABASE, tmp_path, DATABASE_URL=POSTGRES_URL, **env)
    assert completed.returncode != 0
    assert "ImproperlyConfigured" in completed.stderr and message in completed.stderr


# --- fork() --------------------------------------------------------------------------------

# The sentinel's situation: it has queried (its pool is open, with idle connections),
# closes its connections as django-q2 does before it spawns, and forks.
FORK_SCRIPT = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.db import connection, connections
    from django_q.cluster import get_mp_context

    def backend_pid():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def sessions():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return sorted(row[0] for row in cursor.fetchall())

    def child(queue):
        pool = connection.pool
        queue.put({"pid": backend_pid(), "inherited_pool": pool is parent_pool,
                   "pool_size": pool.get_stats()["pool_size"]})
        connections.close_all()

    parent_pid = backend_pid()
    parent_pool = connection.pool
    parent_pool.wait(timeout=30)  # its minimum of sessions is open
    connections.close_all()  # back into the pool, which stays open
    before = sessions()
    context = get_mp_context()
    queue = context.Queue()
    children = []
    for _ in range(2):
        process = context.Process(target=child, args=(queue,))
        process.start()
        children.append(process)
    reports = [queue.get(timeout=60) for _ in children]
    for process in children:
        process.join(60)
    # The parent's pooled sessions still work after the children are gone.
    after_pid = backend_pid()
    print(json.dumps({
        "start_method": context.get_start_method(),
        "parent_pid": parent_pid, "after_pid": after_pid, "before": before,
        "children": reports, "exit_codes": [process.exitcode for process in children],
    }))
    """
)


@pytest.mark.scaled
def test_forked_children_open_their_own_pool_and_leave_the_parents_alone(tmp_path):
    from tests.live import scaled_profile

    with scaled_profile(tmp_path) as profile:
        completed = run_python(FORK_SCRIPT, tmp_path, DATABASE_URL=profile.database_url)
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["start_method"] == "fork"
    assert report["exit_codes"] == [0, 0]
    assert report["parent_pid"] in report["before"]
    for child in report["children"]:
        assert child["inherited_pool"] is False
        assert child["pid"] not in report["before"], "a child used a session of its parent's pool"
        assert child["pool_size"] >= 1
    assert report["children"][0]["pid"] != report["children"][1]["pid"]
    assert report["after_pid"] in report["before"], "the parent's pool kept its sessions"
    assert "Traceback" not in completed.stderr, completed.stderr[-4000:]
