"""/health/: whether this web process can do its work.

The database, the channel layer, the job broker and the media storage must
each answer within OLPE_HEALTH_TIMEOUT. A load balancer takes a web process
out of rotation on a 503 and the JSON names the part that failed. Failures
name the exception class only (the full error goes to the log).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

MEDIA_PROBE_DIRECTORY = "health"


def check_timeout() -> float:
    """Seconds one check may take before it counts as failed."""
    return float(settings.OLPE_HEALTH_TIMEOUT)


@dataclass
class CheckResult:
    ok: bool
    milliseconds: float
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": self.ok, "ms": round(self.milliseconds, 1)}
        if self.error:
            answer["error"] = self.error
        return {**answer, **self.details}


def check_database() -> dict[str, Any]:
    """Every configured database answers a query."""
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    return {}


def check_broker() -> dict[str, Any]:
    """The job broker answers: Redis a PING and a queue length, the ORM broker a count.

    The ORM broker's own ping() always says yes, so the queue length is what
    proves that its table can be read.
    """
    from django_q.brokers import get_broker

    broker = get_broker()
    try:
        broker.ping()
        return {"queued_tasks": broker.queue_size()}
    finally:
        close_broker(broker)


def check_media() -> dict[str, Any]:
    """The media storage takes a small file and gives it up again."""
    name = default_storage.save(
        f"{MEDIA_PROBE_DIRECTORY}/{secrets.token_hex(8)}.txt", ContentFile(b"ok")
    )
    default_storage.delete(name)
    return {}


async def check_channel_layer() -> dict[str, Any]:
    """A message makes the round trip through the configured channel layer."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    nonce = secrets.token_hex(8)
    await layer.send(channel, {"type": "health.ping", "nonce": nonce})
    message = await layer.receive(channel)
    if message.get("nonce") != nonce:
        raise RuntimeError("the channel layer returned another message")
    return {"backend": type(layer).__name__}


def _in_own_thread(check: Callable[[], dict]) -> Callable[[], Awaitable[dict]]:
    """Run a blocking check in a pool thread, not the request's, closing its connections.

    A check that hangs (an unreachable host) then holds only that thread until
    its socket gives up, and the request still answers when the timeout strikes.
    """

    def run() -> dict:
        try:
            return check()
        finally:
            connections.close_all()  # this thread's connections only

    return sync_to_async(run, thread_sensitive=False)


async def run_check(name: str, check: Callable[[], Awaitable[dict]]) -> CheckResult:
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(check(), timeout=check_timeout())
    except asyncio.TimeoutError:
        logger.warning("Health check %s timed out after %.1f s", name, check_timeout())
        return CheckResult(False, _elapsed_ms(started), "timeout")
    except Exception as error:  # any failure is an answer, never a 500
        # One line, no traceback: a load balancer asks every few seconds.
        logger.warning("Health check %s failed: %s: %s", name, type(error).__name__, error)
        return CheckResult(False, _elapsed_ms(started), type(error).__name__)
    return CheckResult(True, _elapsed_ms(started), details=details)


WEB_CHECKS: dict[str, Callable[[], Awaitable[dict]]] = {
    "database": _in_own_thread(check_database),
    "channel_layer": check_channel_layer,
    "broker": _in_own_thread(check_broker),
    "media": _in_own_thread(check_media),
}


@never_cache
@require_safe
async def web_health(request):
    """200 when this web process can serve, 503 naming what fails."""
    names = list(WEB_CHECKS)
    results = await asyncio.gather(*(run_check(name, WEB_CHECKS[name]) for name in names))
    checks = {name: result.as_dict() for name, result in zip(names, results, strict=True)}
    failing = [name for name, result in zip(names, results, strict=True) if not result.ok]
    body = {"status": "failing" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def close_broker(broker) -> None:
    """Release a Redis broker's connections at once (the ORM broker holds none of its own)."""
    close = getattr(broker.connection, "close", None)
    if callable(close):
        close()


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
