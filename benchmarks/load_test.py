"""Fifty museum visitors at once: kiosk pages, a wish each, its websocket, its result.

The real platform runs on loopback as a scaled museum runs it: two daphne
processes (a proxy in front would share visitors between them) and one
django-q2 cluster with two workers, painting with the classic engine. Each
simulated visitor behaves like the kiosk's browser:

1. loads the home page, the kiosk's start page, the list of Worlds and the
   paint page, each with the stylesheets, scripts (ES modules included) and
   pictures it references, as a fresh browser would (one cache per visitor);
2. submits a wish as the kiosk's JavaScript does: multipart, a 256 x 256 crop
   of the World's map and a stroke on transparency, with the session cookie
   and the CSRF token of the page;
3. follows its job on `/ws/jobs/<id>/` of the *other* daphne, so every event
   has to cross processes, until a terminal event (reconnecting with
   `?after=<last event id>` if the socket drops, as `static/js/kiosk/job.js`
   does);
4. fetches the result picture.

The run then checks that every job finished exactly once: status succeeded,
attempts == 1, exactly one terminal event seen by each visitor and exactly
one terminal event stored per job, one result file per job, every result
fetched, no request failed and no process logged an error. It reports p50 and
p95 of submit-to-result and of page loads, and jobs per minute.

Profiles: embedded (SQLite, ORM broker, in-memory channel layer) and scaled
(a fresh PostgreSQL database and an empty Redis database on 127.0.0.1, made
and removed by `tests.live`). The job-creation rate limit is lifted: on
loopback, fifty visitors share one address that fifty kiosks would not.
Production timings (heartbeat, stale detection) are kept. Everything binds to
127.0.0.1, every wait is bounded, and every process started is stopped.

    .venv/bin/python benchmarks/load_test.py [--visitors 50] [--profile embedded|scaled|both]
                                              [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import platform as host_platform
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402  (the HTTP client the openai package brings)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from websockets.asyncio.client import connect as websocket_connect  # noqa: E402
from websockets.exceptions import WebSocketException  # noqa: E402

DEFAULT_VISITORS = 50
CROP = 256  # each visitor's map: a 256 x 256 crop of the World
WORLD_SIZE = (768, 512)
WORLD_SLUG = "olpe-load-test"
SETTINGS_MODULE = "olpe_load_settings"
VISIT_TIMEOUT_S = 300.0  # one visitor, pages to result; the whole run is bounded by it
REQUEST_TIMEOUT_S = 60.0
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0)  # then 4 s, within the visitor's timeout
WISHES = (
    "Was wäre, wenn hier ein See wäre?",
    "Ein Wald statt der Häuser",
    "Hier soll eine Wiese mit Blumen sein",
    "What if this were a lake?",
    "Felder bis zum Horizont",
)

# The project's settings with the rate limits out of the way (see the module docstring).
LOAD_SETTINGS = '''\
from olpe_site.settings import *  # noqa: F401,F403
from olpe_site.settings import REST_FRAMEWORK

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "1000000/minute", "user": "1000000/minute",
                               "jobs": "1000000/minute"},
}
'''

CREATE_WORLD = f"""
import io
from django.core.files.base import ContentFile
from tooling.demo import make_demo_map
from museum.models import World
buffer = io.BytesIO()
make_demo_map(width={WORLD_SIZE[0]}, height={WORLD_SIZE[1]}, seed=3).save(buffer, format="PNG")
World.objects.create(name="Olpe", slug="{WORLD_SLUG}",
                     image=ContentFile(buffer.getvalue(), name="{WORLD_SLUG}.png"))
"""

# Read from the database after the run: what each job's row and events say.
AUDIT = """
import json
from django.db.models import Count, Q
from inpainting.models import InpaintJob
rows = InpaintJob.objects.annotate(
    terminal=Count("events", filter=Q(events__kind__in=["succeeded", "failed", "cancelled"]))
).values("id", "status", "attempts", "terminal", "error_message")
print(json.dumps({str(row["id"]): row for row in rows}, default=str))
"""


# --- what a visitor sees ---------------------------------------------------------------------


@dataclass
class Watch:
    """Everything one visitor's websocket(s) delivered for one job.

    `delivered` holds what the kiosk would show, deduplicated by event id the
    way `static/js/kiosk/job.js` does: a snapshot after a reconnect counts
    only when the job has finished. `terminal_event_ids` are the distinct ids
    of stored terminal events the server sent: a job that ended twice would
    show two.
    """

    delivered: list[dict] = field(default_factory=list)
    connections: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    terminal_event_ids: set[int] = field(default_factory=set)
    last_event_id: int = 0

    @property
    def kinds(self) -> list[str]:
        return [message["type"] for message in self.delivered]

    @property
    def terminal(self) -> list[dict]:
        return [message for message in self.delivered if message["type"] in TERMINAL]

    @property
    def finished(self) -> bool:
        return bool(self.terminal)

    def receive(self, message: dict, reconnected: bool) -> None:
        event_id = int(message.get("event_id") or 0)
        if message["type"] in TERMINAL and event_id and not message.get("snapshot"):
            self.terminal_event_ids.add(event_id)
        if self.finished:
            return
        if message.get("snapshot"):
            self.last_event_id = max(self.last_event_id, event_id)
            if reconnected and message["type"] not in TERMINAL:
                return
        elif event_id:
            if event_id <= self.last_event_id:
                return
            self.last_event_id = event_id
        self.delivered.append(message)


async def watch_job(socket_urls: list[str], origin: str, timeout: float = VISIT_TIMEOUT_S,
                    watch: Watch | None = None) -> Watch:
    """Follow a job until a terminal event, reconnecting like the kiosk when the socket drops.

    Reconnects try `socket_urls` in turn (a proxy would send the browser to
    another daphne) with `?after=<last event id>`, after a growing delay. After
    the terminal event the remaining messages of that connection are still
    read until the server closes it, so a duplicate would be seen.
    """
    watch = watch if watch is not None else Watch()
    attempt = 0
    async with asyncio.timeout(timeout):
        while not watch.finished:
            url = socket_urls[attempt % len(socket_urls)]
            reconnected = watch.connections > 0
            query = f"?after={watch.last_event_id}" if reconnected else "?after=0"
            try:
                async with websocket_connect(url + query, origin=origin, open_timeout=20,
                                             close_timeout=5) as socket_:
                    watch.connections += 1
                    attempt = 0
                    async for text in socket_:
                        watch.receive(json.loads(text), reconnected)
                watch.close_codes.append(socket_.close_code)
            except (OSError, WebSocketException, TimeoutError):  # refused, dropped, no answer
                watch.close_codes.append(None)
            if not watch.finished:
                await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
                attempt += 1
    return watch


class PageParts(HTMLParser):
    """What a browser loads along with a page: stylesheets, scripts and pictures."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.csrf_token: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "link" and "stylesheet" in (attributes.get("rel") or "").split():
            self._add(attributes.get("href"))
        elif tag in ("script", "img"):
            self._add(attributes.get("src"))
        elif tag == "input" and attributes.get("name") == "csrfmiddlewaretoken":
            self.csrf_token = attributes.get("value")

    def _add(self, url: str | None) -> None:
        if url and not urlsplit(url).netloc and url not in self.urls:
            self.urls.append(url)


# Static `import ... from "./x.js"` and `import "./x.js"` of ES modules.
MODULE_IMPORT = re.compile(r"""\bimport\s+(?:[^'";]*?\bfrom\s+)?["'](\.{1,2}/[^"']+)["']""")


@dataclass
class VisitorReport:
    visitor: int
    page_ms: dict[str, float] = field(default_factory=dict)
    request_ms: list[float] = field(default_factory=list)
    submit_ms: float | None = None
    submit_to_result_ms: float | None = None
    submitted_at: float | None = None
    result_at: float | None = None
    job_id: str | None = None
    watch: Watch | None = None
    result_size: tuple[int, int] | None = None
    final_state: dict | None = None
    errors: list[str] = field(default_factory=list)


class Visitor:
    """One browser at one kiosk: its own cookies, its own cache, one daphne for HTTP."""

    def __init__(self, number: int, http_base: str, socket_bases: list[str], wish: tuple):
        self.report = VisitorReport(number)
        self.http_base = http_base
        self.socket_bases = socket_bases
        self.image, self.mask, self.prompt = wish
        self.cache: set[str] = set()
        self.client = httpx.AsyncClient(base_url=http_base, timeout=REQUEST_TIMEOUT_S,
                                        trust_env=False, follow_redirects=True,
                                        headers={"Accept-Language": "de"})

    async def visit(self) -> VisitorReport:
        try:
            async with self.client, asyncio.timeout(VISIT_TIMEOUT_S):
                await self.load_page("home", "/")
                await self.load_page("kiosk start", "/kiosk/")
                await self.load_page("worlds", "/kiosk/worlds/")
                page = await self.load_page("paint", f"/kiosk/worlds/{WORLD_SLUG}/",
                                            extra=[f"/worlds/{WORLD_SLUG}/image.png"])
                job = await self.submit(page.csrf_token)
                if job is not None:
                    await self.follow_and_fetch(job)
        except TimeoutError:
            self.report.errors.append(f"no result within {VISIT_TIMEOUT_S:.0f} s")
        except (httpx.HTTPError, OSError) as problem:
            self.report.errors.append(f"{type(problem).__name__}: {problem}")
        return self.report

    async def get(self, url: str) -> httpx.Response:
        before = time.perf_counter()
        response = await self.client.get(url)
        self.report.request_ms.append((time.perf_counter() - before) * 1000)
        if response.status_code != 200:
            self.report.errors.append(f"GET {url} answered {response.status_code}")
        return response

    async def load_page(self, name: str, path: str, extra: tuple = ()) -> PageParts:
        """The page, then its parts in parallel (ES modules as they are discovered)."""
        before = time.perf_counter()
        response = await self.get(path)
        parts = PageParts()
        parts.feed(response.text)
        pending = [urljoin(path, url) for url in [*parts.urls, *extra]]
        while pending:
            fresh = [url for url in dict.fromkeys(pending) if url not in self.cache]
            self.cache.update(fresh)
            answers = await asyncio.gather(*(self.get(url) for url in fresh))
            pending = [
                urljoin(url, module)
                for url, answer in zip(fresh, answers, strict=True)
                if url.endswith(".js") and answer.status_code == 200
                for module in MODULE_IMPORT.findall(answer.text)
            ]
        self.report.page_ms[name] = (time.perf_counter() - before) * 1000
        return parts

    async def submit(self, csrf_token: str | None) -> dict | None:
        fields = {"prompt": self.prompt, "engine": "classic", "style": "none",
                  "seed": str(self.report.visitor)}
        files = {"image": ("map.png", self.image, "image/png"),
                 "mask": ("mask.png", self.mask, "image/png")}
        headers = {"Accept": "application/json", "X-CSRFToken": csrf_token or ""}
        self.report.submitted_at = time.perf_counter()
        response = await self.client.post("/api/v1/jobs/", data=fields, files=files,
                                          headers=headers)
        self.report.submit_ms = (time.perf_counter() - self.report.submitted_at) * 1000
        self.report.request_ms.append(self.report.submit_ms)
        if response.status_code != 202:
            self.report.errors.append(f"submit answered {response.status_code}: "
                                      f"{response.text[:200]}")
            return None
        job = response.json()
        self.report.job_id = job["id"]
        return job

    async def follow_and_fetch(self, job: dict) -> None:
        socket_urls = [base + job["websocket_url"] for base in self.socket_bases]
        watch = self.report.watch = Watch()
        await watch_job(socket_urls, origin=self.http_base, watch=watch)
        ending = watch.terminal[0]
        if ending["type"] != "succeeded":
            self.report.errors.append(f"job ended {ending['type']}: {ending.get('reason')}")
            return
        response = await self.get(ending["result_url"])
        self.report.result_at = time.perf_counter()
        self.report.submit_to_result_ms = (self.report.result_at - self.report.submitted_at) * 1000
        if response.status_code == 200:
            self.report.result_size = Image.open(io.BytesIO(response.content)).size
        state = await self.get(job["url"])
        self.report.final_state = state.json() if state.status_code == 200 else None


# --- wishes ------------------------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def visitor_wishes(count: int) -> list[tuple[bytes, bytes, str]]:
    """Each visitor's crop of the World, a stroke on transparency, and a wish.

    Crops and strokes differ from visitor to visitor, so no two jobs are alike.
    """
    from tooling.demo import make_demo_map

    world = make_demo_map(width=WORLD_SIZE[0], height=WORLD_SIZE[1], seed=3)
    rng = np.random.default_rng(7)
    wishes = []
    for number in range(count):
        left = int(rng.integers(0, WORLD_SIZE[0] - CROP))
        top = int(rng.integers(0, WORLD_SIZE[1] - CROP))
        crop = world.crop((left, top, left + CROP, top + CROP))
        side = int(rng.integers(48, 128))
        x, y = (int(value) for value in rng.integers(16, CROP - side - 16, size=2))
        strokes = np.zeros((CROP, CROP, 4), np.uint8)
        strokes[y:y + side, x:x + side] = (255, 0, 0, 255)
        wishes.append((png_bytes(crop), png_bytes(Image.fromarray(strokes, "RGBA")),
                       WISHES[number % len(WISHES)]))
    return wishes


# --- the platform ------------------------------------------------------------------------------


@contextmanager
def running_platform(profile_name: str, work_dir: Path, web_processes: int = 2,
                     workers: int = 2) -> Iterator:
    """A LivePlatform (tests/live.py) with several daphnes, production timings, a World."""
    from tests.live import PROFILES, LivePlatform, free_port
    from tooling.launcher import Platform

    (work_dir / f"{SETTINGS_MODULE}.py").write_text(LOAD_SETTINGS, encoding="utf-8")
    with PROFILES[profile_name](work_dir) as profile:
        env = {
            **profile.env,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "PYTHONPATH": os.pathsep.join([str(work_dir), str(ROOT)]),
            "OLPE_DATA_DIR": str(work_dir),
            "OLPE_DEFAULT_ENGINE": "classic",
            "OLPE_TRANSLATION_ENABLED": "false",  # loopback only: no Google Translate
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
        }
        ports = [free_port() for _ in range(web_processes)]
        platform = Platform(ports=ports, workers=workers, env=env, log_dir=work_dir / "logs",
                            grace_seconds=10)
        live = LivePlatform(profile, work_dir, platform, env)
        live.prepare_database()
        live.manage("shell", "-c", CREATE_WORLD)
        platform.start(timeout=90)
        try:
            yield live
        finally:
            platform.stop()


def logged_errors(live) -> list[str]:
    """ERROR and CRITICAL lines of every process's log, and the exception ending each traceback."""
    lines = []
    for log in sorted(live.log_dir.glob("*.log")):
        in_traceback = False
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if " ERROR " in line or " CRITICAL " in line:
                lines.append(f"{log.stem}: {line[:300]}")
            if line.startswith("Traceback"):
                in_traceback = True
            elif in_traceback and line and not line[0].isspace():
                lines.append(f"{log.stem}:   {line[:300]}")
                in_traceback = False
    return lines


async def run_visitors(live, count: int) -> tuple[list[VisitorReport], float]:
    """All visitors at once; visitor n uses daphne n for HTTP and the next one for its socket."""
    wishes = await asyncio.to_thread(visitor_wishes, count)
    ports = live.platform.ports
    visitors = [
        Visitor(
            number,
            live.platform.url("", port=ports[number % len(ports)]).rstrip("/"),
            [live.platform.ws_url("", port=ports[(number + shift) % len(ports)]).rstrip("/")
             for shift in range(1, len(ports) + 1)],
            wishes[number],
        )
        for number in range(count)
    ]
    started = time.perf_counter()
    reports = await asyncio.gather(*(visitor.visit() for visitor in visitors))
    return reports, time.perf_counter() - started


# --- figures -----------------------------------------------------------------------------------


def percentile(values, percent: float) -> float | None:
    values = [value for value in values if value is not None]
    return round(float(np.percentile(values, percent)), 1) if values else None


def exactly_once_problems(reports: list[VisitorReport], audit: dict, live) -> list[str]:
    """Everything that contradicts "each visitor's job was done exactly once"."""
    problems = []
    for report in reports:
        who = f"visitor {report.visitor}"
        problems += [f"{who}: {error}" for error in report.errors]
        if report.job_id is None:
            continue
        watch, state, row = report.watch, report.final_state, audit.get(report.job_id)
        if watch is None or len(watch.terminal) != 1:
            problems.append(f"{who}: saw {len(watch.terminal) if watch else 0} terminal events")
        elif len(watch.terminal_event_ids) > 1:
            problems.append(f"{who}: the server sent terminal events {watch.terminal_event_ids}")
        if report.result_size != (CROP, CROP):
            problems.append(f"{who}: result fetched: {report.result_size}")
        if not state or (state["status"], state["attempts"]) != ("succeeded", 1):
            problems.append(f"{who}: final state {state and (state['status'], state['attempts'])}")
        if not row or (row["status"], row["attempts"], row["terminal"]) != ("succeeded", 1, 1):
            problems.append(f"{who}: stored job {row}")
        if len(live.result_files(report.job_id)) != 1:
            problems.append(f"{who}: {len(live.result_files(report.job_id))} result files")
    submitted = {report.job_id for report in reports if report.job_id}
    if set(audit) != submitted:
        problems.append(f"{len(audit)} jobs stored for {len(submitted)} submissions")
    return problems


def summarise(reports: list[VisitorReport], seconds: float, audit: dict, live) -> dict:
    finished = [report for report in reports if report.result_at is not None]
    pages = Counter()
    for report in reports:
        pages.update(report.page_ms.keys())
    first_submit = min((r.submitted_at for r in reports if r.submitted_at), default=None)
    last_result = max((r.result_at for r in finished), default=None)
    busy_seconds = (last_result - first_submit) if finished else None
    problems = exactly_once_problems(reports, audit, live)
    errors_logged = logged_errors(live)
    return {
        "visitors": len(reports),
        "jobs_submitted": sum(1 for report in reports if report.job_id),
        "results_fetched": len(finished),
        "exactly_once": not problems,
        "problems": problems,
        "errors_logged": errors_logged,
        "reconnects": sum(max(0, r.watch.connections - 1) for r in reports if r.watch),
        "seconds": round(seconds, 1),
        "jobs_per_minute": round(len(finished) / busy_seconds * 60, 1) if busy_seconds else None,
        "submit_to_result_ms": {
            "p50": percentile([r.submit_to_result_ms for r in reports], 50),
            "p95": percentile([r.submit_to_result_ms for r in reports], 95),
        },
        "submit_request_ms": {
            "p50": percentile([r.submit_ms for r in reports], 50),
            "p95": percentile([r.submit_ms for r in reports], 95),
        },
        "page_load_ms": {
            "p50": percentile([ms for r in reports for ms in r.page_ms.values()], 50),
            "p95": percentile([ms for r in reports for ms in r.page_ms.values()], 95),
            **{name: {"p50": percentile([r.page_ms.get(name) for r in reports], 50),
                      "p95": percentile([r.page_ms.get(name) for r in reports], 95)}
               for name in pages},
        },
        "http_request_ms": {
            "count": sum(len(r.request_ms) for r in reports),
            "p50": percentile([ms for r in reports for ms in r.request_ms], 50),
            "p95": percentile([ms for r in reports for ms in r.request_ms], 95),
        },
    }


def audit_jobs(live) -> dict:
    return json.loads(live.manage("shell", "-c", AUDIT).strip().splitlines()[-1])


@contextmanager
def database_connections(live, every_s: float = 0.1) -> Iterator[dict]:
    """PostgreSQL sessions on the platform's database while the visitors run: peak and last.

    Counted from pg_stat_activity (this sampler's own session left out) by a
    thread, every `every_s` seconds; nothing for SQLite.
    """
    figures: dict = {}
    if not live.profile.database_url.startswith("postgres"):
        yield figures
        return
    import threading

    import psycopg

    name = live.profile.database_url.rsplit("/", 1)[1]
    stop = threading.Event()
    samples: list[int] = []

    def sample() -> None:
        with psycopg.connect(live.profile.database_url, autocommit=True) as connection:
            while True:
                samples.append(connection.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()", [name],
                ).fetchone()[0])
                if stop.wait(every_s):
                    return

    sampler = threading.Thread(target=sample, name="db-sessions", daemon=True)
    sampler.start()
    try:
        yield figures
    finally:
        stop.set()
        sampler.join(timeout=10)
        if samples:
            figures.update({"peak": max(samples), "last": samples[-1], "samples": len(samples)})


def run_profile(profile_name: str, visitors: int, work_dir: Path) -> dict:
    with running_platform(profile_name, work_dir) as live:
        with database_connections(live) as sessions:
            reports, seconds = asyncio.run(run_visitors(live, visitors))
        figures = summarise(reports, seconds, audit_jobs(live), live)
        # The scaled profile's connection pool (OLPE_DB_POOL, docs/deploy.md) and what it held.
        figures["db_pool"] = os.environ.get("OLPE_DB_POOL", "true")
        figures["database_connections"] = sessions
        return figures


def print_summary(name: str, figures: dict) -> None:
    print(f"\n[{name}] {figures['visitors']} visitors, {figures['jobs_submitted']} jobs, "
          f"{figures['results_fetched']} results in {figures['seconds']} s "
          f"({figures['jobs_per_minute']} jobs/min)")
    print(f"  submit-to-result p50 {figures['submit_to_result_ms']['p50']} ms, "
          f"p95 {figures['submit_to_result_ms']['p95']} ms")
    print(f"  POST /api/v1/jobs/ p50 {figures['submit_request_ms']['p50']} ms, "
          f"p95 {figures['submit_request_ms']['p95']} ms")
    pages = figures["page_load_ms"]
    print(f"  page load (HTML + parts) p50 {pages['p50']} ms, p95 {pages['p95']} ms")
    for page, values in pages.items():
        if isinstance(values, dict):
            print(f"    {page:<12} p50 {values['p50']} ms, p95 {values['p95']} ms")
    print(f"  {figures['http_request_ms']['count']} HTTP requests, "
          f"p50 {figures['http_request_ms']['p50']} ms, p95 {figures['http_request_ms']['p95']} ms;"
          f" websocket reconnects: {figures['reconnects']}")
    sessions = figures.get("database_connections")
    if sessions:
        print(f"  PostgreSQL connections (pool {figures['db_pool']}): peak {sessions['peak']}, "
              f"at the end {sessions['last']}")
    print(f"  every job exactly once: {'yes' if figures['exactly_once'] else 'NO'}; "
          f"errors logged: {len(figures['errors_logged'])}")
    for line in [*figures["problems"], *figures["errors_logged"]][:20]:
        print(f"    {line}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=DEFAULT_VISITORS)
    parser.add_argument("--profile", choices=("embedded", "scaled", "both"), default="both")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")
    import django

    django.setup()
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request otherwise
    profiles = ["embedded", "scaled"] if arguments.profile == "both" else [arguments.profile]
    results = {"visitors": arguments.visitors, "cpu_count": os.cpu_count(),
               "python": host_platform.python_version(), "web_processes": 2, "workers": 2,
               "engine": "classic", "crop": CROP, "profiles": {}}
    print(f"{arguments.visitors} visitors, 2 daphnes, 2 workers, classic engine, "
          f"{os.cpu_count()} CPUs", flush=True)
    for name in profiles:
        print(f"[{name}] running …", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"olpe-load-{name}-") as temp:
            results["profiles"][name] = figures = run_profile(name, arguments.visitors, Path(temp))
        print_summary(name, figures)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    healthy = all(figures["exactly_once"] and not figures["errors_logged"]
                  for figures in results["profiles"].values())
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
