"""The web tier under load while a worker paints, beside the prototype's design.

It starts the real platform (daphne + the django-q2 cluster, via
`tooling.launcher.Platform`) on loopback, once per profile: embedded
(SQLite, ORM broker, in-memory channel layer) and, when PostgreSQL and Redis
answer on 127.0.0.1, scaled (PostgreSQL, Redis broker and channel layer).
For each it measures

(a) submit-to-start latency: a small wish is POSTed to /api/v1/jobs/ while the
    worker is idle, and the time until the job's `started_at` is taken
    (p50, p95), plus how long the POST itself took;
(b) `GET /api/v1/jobs/{id}/` from 20 concurrent clients while the worker
    paints large maps with the classic engine, twice: paced (each client
    reads every 250 ms, as a progress display polls: 80 requests a second
    offered) and saturated (each client reads back to back: capacity);
    requests per second, p50 and p95.

(c) runs the same 20 clients against `benchmarks/prototype_server.py`, one
process that paints inside the request handler like the prototype did, while
it paints the same large maps, reading its cheapest endpoint.

Goals: with the paced clients the platform's p95 stays under 100 ms while it
paints (the prototype's design makes every request wait for the generation);
in the embedded profile, submit-to-start stays under 100 ms at the median
(the ORM broker's poll, OLPE_QUEUE_POLL, 0.05 s; it was 0.5 s).
Rate limits are lifted for the run (one client stands for a whole museum).
Everything binds to 127.0.0.1, every loop is bounded, and every process it
starts is stopped before it exits.

    .venv/bin/python benchmarks/bench_web.py [--quick] [--profile embedded|scaled|both]
                                             [--no-prototype] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.cookiejar
import io
import json
import logging
import os
import platform as host_platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

import httpx2 as httpx  # noqa: E402  (the HTTP client the openai package brings)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tooling.demo import make_demo_map  # noqa: E402
from tooling.launcher import Platform  # noqa: E402

logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request otherwise

CLIENTS = 20
PACE_S = 0.25  # a paced client reads this often, like a progress display
GOAL_P95_MS = 100.0
GOAL_START_P50_MS = 100.0  # submit-to-start, embedded profile (issue 13)
REQUEST_TIMEOUT_S = 120.0
SMALL_MAP = (256, 192)
LARGE_MAP = (1536, 1024)  # the classic engine paints its 70 % stroke in about 3 s
POSTGRES_USERS = ("postgres", "root")
REDIS_DB = 14  # a database of its own, away from the tests' and a museum's data

# Rate limits out of the way: the benchmark is one client standing for many.
BENCH_SETTINGS = '''\
from olpe_site.settings import *  # noqa: F401,F403
from olpe_site.settings import REST_FRAMEWORK

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "1000000/minute", "user": "1000000/minute",
                               "jobs": "1000000/minute"},
}
'''


@dataclass
class Sizes:
    submissions: int  # (a) small jobs submitted one after another
    window_s: float  # (b), (c) how long the clients read, per phase
    busy_jobs: int  # (b) large maps queued so that the worker paints through both phases


# Enough large maps for a fast machine (about 1.5 s each) to paint through both
# phases; the ones left over are cancelled, which costs nothing.
FULL = Sizes(submissions=20, window_s=8.0, busy_jobs=24)
QUICK = Sizes(submissions=6, window_s=3.0, busy_jobs=10)


@dataclass
class LoadFigures:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> dict:
        requests = len(self.latencies_ms)
        return {
            "requests": requests,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "requests_per_second": round(requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p95_ms": round(percentile(self.latencies_ms, 95), 1),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 1),
        }


def percentile(values: list[float], percent: float) -> float:
    return float(np.percentile(np.asarray(values), percent)) if values else float("nan")


# --- wishes ----------------------------------------------------------------------------------


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Wish:
    image: bytes
    mask: bytes
    prompt: str = "Ein See"

    @classmethod
    def on_demo_map(cls, size: tuple[int, int], painted_share: float) -> "Wish":
        """The demo map with a centred stroke covering `painted_share` of each side."""
        width, height = size
        margin_x, margin_y = (int(side * (1 - painted_share) / 2) for side in size)
        strokes = np.zeros((height, width, 4), np.uint8)
        strokes[margin_y:height - margin_y, margin_x:width - margin_x] = (255, 0, 0, 255)
        return cls(png(make_demo_map(width=width, height=height, seed=3)),
                   png(Image.fromarray(strokes, "RGBA")))

    def multipart(self) -> dict:
        return {"image": ("map.png", self.image, "image/png"),
                "mask": ("mask.png", self.mask, "image/png")}

    def prototype_json(self) -> dict:
        """The prototype frontend's request body."""
        return {"prompt": self.prompt, "image": data_url(self.image), "mask": data_url(self.mask),
                "model": 0, "guidance_scale": 7}


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def child_env(work_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    settings_dir = work_dir / "settings"
    settings_dir.mkdir(parents=True, exist_ok=True)
    (settings_dir / "bench_settings.py").write_text(BENCH_SETTINGS)
    return {
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(settings_dir), str(ROOT)]),
        "OLPE_DATA_DIR": str(work_dir / "data"),
        "OLPE_TRANSLATION_ENABLED": "false",  # loopback only: no Google Translate
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env={**os.environ, **env}, cwd=ROOT, check=True, timeout=300,
    )


def postgres_admin_connection():
    import psycopg

    for user in POSTGRES_USERS:
        try:
            return user, psycopg.connect(host="127.0.0.1", user=user, dbname="postgres",
                                         autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            continue
    return None, None


@contextmanager
def scaled_services() -> Iterator[Optional[dict[str, str]]]:
    """A fresh PostgreSQL database and a Redis database for the scaled profile, or None."""
    if not (answers(5432) and answers(6379)):
        yield None
        return
    user, admin = postgres_admin_connection()
    if admin is None:
        yield None
        return
    name = f"olpe_bench_{os.getpid()}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {
                "DATABASE_URL": f"postgres://{user}@127.0.0.1:5432/{name}",
                "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
                # Under ASGI every request runs in a thread of its own, so persistent
                # connections are never reused and exhaust PostgreSQL's connection slots.
                "DATABASE_CONN_MAX_AGE": "0",
            }
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_platform(work_dir: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """The platform's base URL while daphne and one worker run."""
    env = child_env(work_dir, extra_env)
    migrate(env)
    platform = Platform(ports=[free_port()], workers=1, env=env, log_dir=work_dir / "logs",
                        grace_seconds=5)
    try:
        platform.start(timeout=60)
        yield platform.url("").rstrip("/")
    except BaseException:
        print_log_tails(work_dir / "logs")
        raise
    finally:
        platform.stop()


def print_log_tails(log_dir: Path, lines: int = 30) -> None:
    """The end of each process's log, to see why a measurement failed before they vanish."""
    for log in sorted(log_dir.glob("*.log")):
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        print(f"--- {log.name}", *tail, sep="\n", file=sys.stderr)


@contextmanager
def running_prototype(work_dir: Path) -> Iterator[str]:
    port = free_port()
    env = child_env(work_dir, {})
    with open(work_dir / "prototype.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "prototype_server.py"), "--port", str(port)],
            env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the prototype server did not start; see {log.name}")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the platform ------------------------------------------------------------------------------


def http_client(base_url: str) -> httpx.Client:
    """A script's client: it keeps no cookies, so it needs no CSRF token (docs/security.md)."""
    no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False,
                        cookies=no_cookies)


def submit(client: httpx.Client, wish: Wish, **fields) -> dict:
    fields = {"prompt": wish.prompt, "engine": "classic", **fields}
    response = client.post("/api/v1/jobs/", data=fields, files=wish.multipart())
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text[:300]}")
    return response.json()


def wait_for_state(client: httpx.Client, url: str, ready: Callable[[dict], bool],
                   timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(url).json()
        if ready(state):
            return state
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {url} stuck in {state['status']}")
        time.sleep(0.01)


def submit_to_start(base_url: str, wish: Wish, count: int) -> dict:
    """Submit `count` small wishes one after another, each once the worker is idle again."""
    starts, posts = [], []
    with http_client(base_url) as client:
        for _ in range(count):
            submitted = time.time()  # wall clock: `started_at` is the server's, same machine
            state = submit(client, wish, seed="1")
            posts.append((time.time() - submitted) * 1000)
            started = wait_for_state(client, state["url"], lambda s: bool(s["started_at"]))
            started_at = datetime.fromisoformat(started["started_at"]).timestamp()
            starts.append((started_at - submitted) * 1000)
            finished = wait_for_state(client, state["url"], lambda s: bool(s["finished_at"]))
            if finished["status"] != "succeeded":
                raise RuntimeError(f"a job ended {finished['status']}: {finished['error']}")
    return {
        "jobs": count,
        "post_p50_ms": round(percentile(posts, 50), 1),
        "start_p50_ms": round(percentile(starts, 50), 1),
        "start_p95_ms": round(percentile(starts, 95), 1),
    }


def platform_reads_while_painting(base_url: str, wish: Wish, sizes: Sizes) -> dict:
    """Both load phases while the worker paints queued large maps; leftovers are cancelled."""
    with http_client(base_url) as client:
        jobs = [submit(client, wish, seed=str(seed)) for seed in range(sizes.busy_jobs)]
        wait_for_state(client, jobs[0]["url"], lambda s: bool(s["started_at"]))
        # Client i watches job i: running and queued jobs alike, as real watchers would.
        urls = [base_url + jobs[i % len(jobs)]["url"] for i in range(CLIENTS)]
        figures = {
            "paced": asyncio.run(read_concurrently(urls, sizes.window_s, pace_s=PACE_S)).summary(),
            "saturated": asyncio.run(read_concurrently(urls, sizes.window_s)).summary(),
        }
        states = [client.get(job["url"]).json()["status"] for job in jobs]
        figures["worker_busy_throughout"] = states[-1] in ("queued", "running")
        figures["jobs_painted"] = states.count("succeeded")
        for job in jobs:  # the session that made them may cancel them
            client.delete(job["url"])
        for job in jobs:
            wait_for_state(client, job["url"], lambda s: bool(s["finished_at"]))
    return figures


# --- the prototype's design --------------------------------------------------------------------


def prototype_reads_while_painting(base_url: str, wish: Wish, sizes: Sizes) -> dict:
    """The same two phases while a client keeps the prototype painting, request after request."""
    stop = threading.Event()
    painted: list[float] = []

    def paint_back_to_back():
        with http_client(base_url) as client:
            for _ in range(sizes.busy_jobs):  # bounded even if `stop` were never set
                if stop.is_set():
                    return
                before = time.perf_counter()
                client.post("/inpainting/", json=wish.prototype_json()).raise_for_status()
                painted.append(time.perf_counter() - before)

    painter = threading.Thread(target=paint_back_to_back, name="prototype painter")
    painter.start()
    try:
        time.sleep(0.5)  # the first generation is under way
        urls = [base_url + "/health"] * CLIENTS
        figures = {
            "paced": asyncio.run(read_concurrently(urls, sizes.window_s, pace_s=PACE_S)).summary(),
            "saturated": asyncio.run(read_concurrently(urls, sizes.window_s)).summary(),
        }
        figures["worker_busy_throughout"] = painter.is_alive()
    finally:
        stop.set()
        painter.join(timeout=REQUEST_TIMEOUT_S)
    figures["jobs_painted"] = len(painted)
    figures["seconds_per_painting"] = round(float(np.median(painted)), 2) if painted else None
    return figures


# --- load ----------------------------------------------------------------------------------------


async def read_concurrently(urls: list[str], window_s: float,
                            pace_s: Optional[float] = None) -> LoadFigures:
    """One client per URL reads it for `window_s`: every `pace_s`, or back to back.

    A paced client that falls behind (its answer came late) reads again at
    once but never bursts to catch up. Requests in flight at the end finish
    and count.
    """
    figures = LoadFigures()
    limits = httpx.Limits(max_connections=len(urls), max_keepalive_connections=len(urls))
    client = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False)
    async with client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + window_s

        async def one_client(index: int, url: str):
            next_read = started + (pace_s or 0) * index / len(urls)  # spread over one period
            while True:
                if pace_s:
                    await asyncio.sleep(max(0.0, next_read - loop.time()))
                if loop.time() >= deadline:
                    return
                before = time.perf_counter()
                try:
                    response = await client.get(url)
                    status = response.status_code
                    failure = None if status == 200 else f"HTTP {status}"
                except httpx.HTTPError as error:
                    failure = type(error).__name__
                figures.latencies_ms.append((time.perf_counter() - before) * 1000)
                if failure:
                    figures.errors[failure] += 1
                if pace_s:
                    next_read = max(next_read + pace_s, loop.time())

        await asyncio.gather(*(one_client(index, url) for index, url in enumerate(urls)))
        figures.seconds = loop.time() - started
    return figures


# --- report ----------------------------------------------------------------------------------


def print_table(results: dict) -> None:
    columns = [(f"platform, {name}", figures) for name, figures in results["platform"].items()]
    if "prototype" in results:
        columns.append(("prototype design", results["prototype"]))
    width = max(20, *(len(title) + 2 for title, _ in columns))

    def reads(phase, key):
        return lambda figures: figures["reads"][phase][key]

    def submit_figure(key):
        return lambda figures: figures.get("submit", {}).get(key)

    rows = [
        ("POST /jobs/ p50 ms", submit_figure("post_p50_ms")),
        ("submit→start p50 ms", submit_figure("start_p50_ms")),
        ("submit→start p95 ms", submit_figure("start_p95_ms")),
        ("paced GET req/s", reads("paced", "requests_per_second")),
        ("paced GET p50 ms", reads("paced", "p50_ms")),
        ("paced GET p95 ms", reads("paced", "p95_ms")),
        ("saturated GET req/s", reads("saturated", "requests_per_second")),
        ("saturated GET p50 ms", reads("saturated", "p50_ms")),
        ("saturated GET p95 ms", reads("saturated", "p95_ms")),
        ("GET errors", lambda f: f["reads"]["paced"]["errors"] + f["reads"]["saturated"]["errors"]),
        ("painting throughout", lambda f: f["reads"]["worker_busy_throughout"]),
    ]
    print()
    print(f"{CLIENTS} clients; paced = one read every {PACE_S * 1000:.0f} ms each "
          f"({CLIENTS / PACE_S:.0f} req/s offered), saturated = back to back")
    print("".ljust(24) + "".join(title.rjust(width) for title, _ in columns))
    for label, value in rows:
        cells = [value(figures) for _, figures in columns]
        print(label.ljust(24) + "".join(("-" if c is None else str(c)).rjust(width) for c in cells))
    print()
    for name, ratio in results["paced_p95_ratio"].items():
        print(f"paced p95, prototype design / platform {name}: {ratio:.0f}×")
    for name, met in results["goal_met"].items():
        print(f"goal: paced p95 < {GOAL_P95_MS:.0f} ms while painting ({name}): "
              f"{'met' if met else 'MISSED'}")
    for name, met in results["start_goal_met"].items():
        print(f"goal: submit→start p50 < {GOAL_START_P50_MS:.0f} ms ({name}): "
              f"{'met' if met else 'MISSED'}")


def summarise(results: dict) -> None:
    results["paced_p95_ratio"] = {}
    if "prototype" in results:
        prototype_p95 = results["prototype"]["reads"]["paced"]["p95_ms"]
        results["paced_p95_ratio"] = {
            name: prototype_p95 / figures["reads"]["paced"]["p95_ms"]
            for name, figures in results["platform"].items()
        }
    # The ORM broker's poll (OLPE_QUEUE_POLL) bounds how long a wish waits for an idle worker.
    results["start_goal_met"] = {
        name: figures.get("submit", {}).get("start_p50_ms", float("inf")) < GOAL_START_P50_MS
        for name, figures in results["platform"].items() if name == "embedded"
    }
    results["goal_met"] = {
        name: (figures["reads"]["paced"]["p95_ms"] < GOAL_P95_MS
               and figures["reads"]["paced"]["errors"] == 0
               and figures["reads"]["worker_busy_throughout"])
        for name, figures in results["platform"].items()
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs, shorter windows")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--profile", choices=("embedded", "scaled", "both"), default="both",
                        help="which profiles of the platform to measure (default: both)")
    parser.add_argument("--no-prototype", action="store_true",
                        help="skip the prototype's design (c)")
    arguments = parser.parse_args(argv)
    sizes = QUICK if arguments.quick else FULL
    small = Wish.on_demo_map(SMALL_MAP, painted_share=0.3)
    large = Wish.on_demo_map(LARGE_MAP, painted_share=0.7)
    print(f"{sizes.submissions} submissions, {sizes.window_s:.0f} s per load phase, "
          f"{os.cpu_count()} CPUs, Python {host_platform.python_version()}", flush=True)

    results = {"clients": CLIENTS, "pace_s": PACE_S, "cpu_count": os.cpu_count(),
               "sizes": asdict(sizes), "platform": {},
               # The scaled profile's PostgreSQL connection pool (OLPE_DB_POOL, docs/deploy.md).
               "db_pool": os.environ.get("OLPE_DB_POOL", "true")}
    with tempfile.TemporaryDirectory(prefix="olpe-bench-web-") as temp:
        work = Path(temp)
        with scaled_services() as scaled_env:
            profiles = {}
            if arguments.profile in ("embedded", "both"):
                profiles["embedded"] = {}
            if arguments.profile in ("scaled", "both"):
                if scaled_env is None:
                    print("PostgreSQL or Redis not reachable on 127.0.0.1: scaled profile skipped")
                else:
                    profiles["scaled"] = scaled_env
            for name, env in profiles.items():
                print(f"[{name}] measuring …", flush=True)
                with running_platform(work / name, env) as base_url:
                    results["platform"][name] = {
                        "submit": submit_to_start(base_url, small, sizes.submissions),
                        "reads": platform_reads_while_painting(base_url, large, sizes),
                    }
        if not arguments.no_prototype:
            print("[prototype design] measuring …", flush=True)
            (work / "prototype").mkdir()
            with running_prototype(work / "prototype") as prototype_url:
                reads = prototype_reads_while_painting(prototype_url, large, sizes)
                results["prototype"] = {"reads": reads}

    summarise(results)
    print_table(results)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
