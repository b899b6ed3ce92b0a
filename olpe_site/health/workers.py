"""What the workers do: /health/workers/ reads the reports they leave.

Workers record, after starting and after every task, which models they have
loaded and how much GPU memory they hold (`inpainting.worker_reports`, in the
shared cache). `/health/workers/` reads those reports together with
django-q2's cluster statistics and the job table, and answers 503 when no
cluster shows any sign of life. Nothing here imports torch: GPU figures come
from workers that have it loaded anyway.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Optional

from django.conf import settings
from django.core.cache import caches
from django.http import JsonResponse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from inpainting.worker_reports import (
    SHARED_CACHE,
    WORKER_INDEX_KEY,
    WORKER_KEY_PREFIX,
)
from olpe_site.health.web import close_broker

logger = logging.getLogger(__name__)

# Some worker runs the maintenance task every minute, and reports after it.
REPORT_FRESH_SECONDS = 150
# The every-minute schedule of inpainting/migrations/0002_recovery_schedule.py.
MAINTENANCE_FUNC = "inpainting.tasks.maintain_jobs"


def heartbeat_fresh_seconds() -> float:
    """A running job whose heartbeat is older than this is not proof of a live worker."""
    return float(settings.OLPE_JOB_STALE_SECONDS)


# --- /health/workers/ ----------------------------------------------------------------------


def cluster_stats() -> list[dict[str, Any]]:
    """django-q2's statistics of the running clusters (each expires seconds after its sentinel)."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    broker = get_broker()
    try:
        stats = Stat.get_all(broker)
    finally:
        close_broker(broker)
    now = timezone.now()
    clusters = []
    for stat in stats:
        clusters.append(
            {
                "cluster": str(stat.cluster_id),
                "host": stat.host,
                "status": _untranslated(stat.status),
                "workers": list(stat.workers),
                "reincarnations": stat.reincarnations,
                "uptime_seconds": _seconds_between(stat.tob, now),
                "seconds_since_report": _seconds_between(stat.timestamp, now),
            }
        )
    return clusters


def worker_reports(clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workers' latest reports, each marked alive when a running cluster lists it."""
    cache = caches[SHARED_CACHE]
    names = cache.get(WORKER_INDEX_KEY) or []
    stored = cache.get_many([WORKER_KEY_PREFIX + name for name in names])
    running = {(cluster["host"], pid) for cluster in clusters for pid in cluster["workers"]}
    now = time.time()
    reports = []
    for report in stored.values():
        reports.append(
            {
                **{key: value for key, value in report.items() if key != "reported_at"},
                "seconds_since_report": round(now - report["reported_at"], 1),
                "alive": (report["host"], report["pid"]) in running,
            }
        )
    return sorted(reports, key=lambda report: report["seconds_since_report"])


def job_summary() -> dict[str, Any]:
    """Queued and running jobs from the job table, the source of truth for work."""
    from inpainting.models import InpaintJob

    Status = InpaintJob.Status
    now = timezone.now()
    queued = InpaintJob.objects.filter(status=Status.QUEUED)
    oldest = queued.order_by("created_at").values_list("created_at", flat=True).first()
    running = InpaintJob.objects.filter(status=Status.RUNNING).values(
        "worker", "engine", "heartbeat_at", "progress_step", "progress_total"
    )
    return {
        "queued": queued.count(),
        "oldest_queued_seconds": _seconds_between(oldest, now),
        "running": [
            {
                "worker": job["worker"],
                "engine": job["engine"],
                "step": job["progress_step"],
                "steps": job["progress_total"],
                "seconds_since_heartbeat": _seconds_between(job["heartbeat_at"], now),
            }
            for job in running
        ],
    }


def last_maintenance() -> dict[str, Any]:
    """When a worker last ran the every-minute maintenance task, and whether it worked."""
    from django_q.models import Task

    last = (
        Task.objects.filter(func=MAINTENANCE_FUNC)
        .order_by("-stopped")
        .values("stopped", "success")
        .first()
    )
    if last is None:
        return {"seconds_since_run": None, "success": None}
    return {
        "seconds_since_run": _seconds_between(last["stopped"], timezone.now()),
        "success": last["success"],
    }


def any_sign_of_life(clusters, workers, jobs) -> bool:
    """A cluster reporting now, a worker that reported lately, or a job whose worker beats.

    Cluster statistics are the first sign; the others still hold where they
    are not shared (a cache of its own per process).
    """
    fresh_heartbeat = heartbeat_fresh_seconds()
    beating = any(
        job["seconds_since_heartbeat"] is not None
        and job["seconds_since_heartbeat"] < fresh_heartbeat
        for job in jobs["running"]
    )
    reporting = any(worker["seconds_since_report"] < REPORT_FRESH_SECONDS for worker in workers)
    return bool(clusters) or beating or reporting


@never_cache
@require_safe
def workers_health(request):
    """200 with what the workers do when a cluster is alive; 503 when none is or a record fails."""
    failing: list[str] = []
    clusters = _read_part("clusters", cluster_stats, failing)
    workers = _read_part("workers", lambda: worker_reports(clusters or []), failing)
    jobs = _read_part("jobs", job_summary, failing)
    maintenance = _read_part("maintenance", last_maintenance, failing)
    alive = not failing and any_sign_of_life(clusters, workers, jobs)
    body = {
        "status": "ok" if alive else ("failing" if failing else "no workers"),
        "failing": failing,
        "clusters": clusters,
        "workers": workers,
        "jobs": jobs,
        "maintenance": maintenance,
    }
    return JsonResponse(body, status=200 if alive else 503)


def _read_part(name: str, read: Callable[[], Any], failing: list[str]) -> Any:
    """One part of the workers' report; a record that cannot be read is named, not raised."""
    try:
        return read()
    except Exception as error:
        logger.warning("Health report %s unavailable: %s: %s", name, type(error).__name__, error)
        failing.append(name)
        return {"error": type(error).__name__}


def _untranslated(text) -> str:
    """django-q2's status words in English: monitors read them, whatever the site's language."""
    with translation.override("en"):
        return str(text)


def _seconds_between(earlier: Optional[datetime], now: datetime) -> Optional[float]:
    return None if earlier is None else round((now - earlier).total_seconds(), 1)
