"""Job events: written to the database first, pushed to websockets second.

Workers run in other processes than the websockets that watch their jobs.
The in-memory channel layer cannot cross that gap, and no channel layer
remembers a message for a socket that connects late, so every event becomes a
`JobEvent` row in the same transaction as the state change it announces. The
channel layer is only a shortcut: when it can reach other processes (Redis),
the event is also sent to the job's group once the transaction has committed.
Sockets read the rows they have not seen and drop duplicates by event id.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.utils import timezone

from inpainting import protocol
from inpainting.models import InpaintJob, JobEvent
from inpainting.protocol import (  # noqa: F401  (the kinds, named where they are published)
    CANCELLED,
    FAILED,
    PREVIEW,
    PROGRESS,
    QUEUED,
    STARTED,
    SUCCEEDED,
    TERMINAL,
)

logger = logging.getLogger(__name__)

# Handler name on the consumer: channels turns "job.event" into `job_event`.
GROUP_MESSAGE_TYPE = "job.event"

# Live-only kinds: worth nothing once the job has finished.
TRANSIENT = (PROGRESS, PREVIEW)


def group_name(job_id) -> str:
    return f"job.{job_id}"


def layer_crosses_processes(layer=None) -> bool:
    """Whether a group message sent here can reach a socket in another process."""
    layer = layer if layer is not None else get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def event_message(event: JobEvent) -> dict:
    """The websocket message for an event: its kind as `type`, its payload, its id."""
    return {
        **event.payload,
        "type": event.kind,
        "event_id": event.id,
        "job_id": str(event.job_id),
        "at": event.created_at.isoformat(),
    }


def publish(job: InpaintJob, kind: str, payload: dict | None = None) -> JobEvent:
    """Record an event of `job` and announce it to its watchers.

    Call it inside the transaction that makes the state change, so a reader
    never sees the new state without its event or the other way round.
    A payload field the protocol does not document is refused (ValueError).
    """
    protocol.check_event(kind, payload or {})
    event = JobEvent.objects.create(job_id=job.pk, kind=kind, payload=payload or {})
    layer = get_channel_layer()
    if layer_crosses_processes(layer):
        message = event_message(event)
        transaction.on_commit(lambda: _send_to_group(layer, job.pk, message))
    return event


def _send_to_group(layer, job_id, message: dict) -> None:
    try:
        async_to_sync(layer.group_send)(
            group_name(job_id), {"type": GROUP_MESSAGE_TYPE, "event": message}
        )
    except Exception:  # the row is written; sockets will read it from the database
        logger.warning("Could not send event %s of job %s to its group", message["event_id"],
                       job_id, exc_info=True)


def events_after(job_id, after_id: int, limit: int = 200) -> list[dict]:
    """The messages of `job_id` newer than `after_id`, oldest first."""
    events = JobEvent.objects.filter(job_id=job_id, id__gt=after_id).order_by("id")[:limit]
    return [event_message(event) for event in events]


def prune_events(older_than: timedelta = timedelta(hours=1), now=None) -> int:
    """Delete progress and preview events of jobs that finished long ago.

    Previews carry small pictures; kept for every job they would fill the
    database. What a late socket needs (the terminal event) is kept.
    """
    cutoff = (now or timezone.now()) - older_than
    deleted, _ = JobEvent.objects.filter(
        kind__in=TRANSIENT,
        job__status__in=InpaintJob.FINISHED,
        job__finished_at__lt=cutoff,
    ).delete()
    return deleted
