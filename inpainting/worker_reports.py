"""What workers report about themselves for /health/workers/.

Workers record, after starting and after every task, which models they have
loaded and how much GPU memory they hold (`record_worker_state`, in the
shared cache); `olpe_site.health.workers` reads those reports. The inpainting
app connects the receivers when it is ready, so every django-q2 worker
reports. Nothing here imports torch: GPU figures come from workers that have
it loaded anyway.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Any

from django.core.cache import caches

logger = logging.getLogger(__name__)

# The cache every process of the installation sees (settings.CACHES["shared"]).
SHARED_CACHE = "shared"
WORKER_INDEX_KEY = "olpe:health:workers"
WORKER_KEY_PREFIX = "olpe:health:worker:"
# A worker reports after every task and the maintenance task runs every minute,
# so a report older than this belongs to a worker that is gone.
WORKER_REPORT_SECONDS = 3600
MAX_WORKER_REPORTS = 64


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
    from inpainting_core import engines

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
