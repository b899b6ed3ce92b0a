"""What the workers do: the reports they leave, and /health/workers/ that reads them.

Workers record, after starting and after every task, which models they have
loaded and how much GPU memory they hold (`record_worker_state`, in the
shared cache). `/health/workers/` reads those reports together with
django-q2's cluster statistics and the job table, and answers 503 when no
cluster shows any sign of life. Nothing here imports torch: GPU figures come
from workers that have it loaded anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from datetime import datetime
from typing import Any, Callable, Optional

from django.conf import settings
from django.core.cache import caches
from django.http import JsonResponse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from olpe_site.health.web import close_broker

logger = logging.getLogger(__name__)

# The cache every process of the installation sees (settings.CACHES["shared"]).
SHARED_CACHE = "shared"
WORKER_INDEX_KEY = "olpe:health:workers"
WORKER_KEY_PREFIX = "olpe:health:worker:"
# A worker reports after every task and the maintenance task runs every minute,
# so a report older than this belongs to a worker that is gone.
WORKER_REPORT_SECONDS = 3600
MAX_WORKER_REPORTS = 64
# Some worker runs the maintenance task every minute, and reports after it.
REPORT_FRESH_SECONDS = 150
# The every-minute schedule of inpainting/migrations/0002_recovery_schedule.py.
MAINTENANCE_FUNC = "inpainting.tasks.maintain_jobs"


def heartbeat_fresh_seconds() -> float:
    """A running job whose heartbeat is older than this is not proof of a live worker."""
    return float(settings.OLPE_JOB_STALE_SECONDS)


# --- what workers record -----------------------------------------------------------------


def record_worker_state(**signal_arguments) -> None:
    """Leave this worker's report in the shared cache (a django-q2 signal receiver).

    Connected to `post_spawn` and `post_execute_in_worker`, it runs in the
    worker process, the only place that knows which models are loaded and how
    much GPU memory they hold. It never lets a task fail.
    """
    try:
        report = worker_snapshot()
        cache = caches[SHARED_CACHE]
        cache.set(WORKER_KEY_PREFIX + report["worker"], report, WORKER_REPORT_SECONDS)
        # The index lives as long as its latest report; two workers writing it at
        # once may drop one name, which that worker's next report puts back.
        others = [name for name in cache.get(WORKER_INDEX_KEY) or [] if name != report["worker"]]
        names = [*others, report["worker"]][-MAX_WORKER_REPORTS:]
        cache.set(WORKER_INDEX_KEY, names, WORKER_REPORT_SECONDS)
    except Exception:
        logger.warning("Could not record the worker's health report", exc_info=True)


def connect_worker_signals() -> None:
    """Make django-q2 workers report after starting and after every task."""
    from django_q.signals import post_execute_in_worker, post_spawn

    post_spawn.connect(record_worker_state, dispatch_uid="olpe-health-spawn")
    post_execute_in_worker.connect(record_worker_state, dispatch_uid="olpe-health-task")


def worker_snapshot() -> dict[str, Any]:
    """What this worker process holds: its engines' models and its GPU memory."""
    return {
        "worker": f"{socket.gethostname()}:{os.getpid()}",  # as inpainting.tasks names it
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "reported_at": time.time(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "engines": loaded_engines(),
        "gpu": gpu_memory(),
    }


def loaded_engines() -> dict[str, dict[str, Any]]:
    """The engines that load a model, and whether this process has loaded it."""
    from inpainting import engines

    report = {}
    for name in engines.ENGINE_NAMES:
        engine = engines.get_engine(name)
        if hasattr(engine, "loaded"):
            report[name] = {"loaded": bool(engine.loaded)}
            if getattr(engine, "loaded_model", None):
                report[name]["model"] = engine.loaded_model
    return report


def gpu_memory() -> dict[str, Any]:
    """GPU memory as this process sees it, without initialising CUDA for the question.

    Only a worker that has imported torch can have a model on a GPU, so torch
    is looked up, not imported; and CUDA is only asked once the process has
    initialised it (a fresh CUDA context would itself take memory).
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return {"available": None, "note": "torch not loaded in this worker"}
    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU"}
    if not torch.cuda.is_initialized():
        return {"available": True, "note": "CUDA not initialised in this worker yet"}
    device = torch.cuda.current_device()
    free, total = torch.cuda.mem_get_info(device)
    return {
        "available": True,
        "device": torch.cuda.get_device_name(device),
        "free_bytes": free,
        "total_bytes": total,
        "allocated_bytes": torch.cuda.memory_allocated(device),
        "reserved_bytes": torch.cuda.memory_reserved(device),
        "peak_allocated_bytes": torch.cuda.max_memory_allocated(device),
    }


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
