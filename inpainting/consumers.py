"""The websocket `/ws/jobs/<uuid>/`: one job's life, live.

Protocol (server to client, JSON; the shapes are defined once, in
`inpainting/protocol.py`, and `tests/test_protocol.py` keeps this list equal to it):

* The first message is the job's current state from the database, in the
  same vocabulary as the live events, with `"snapshot": true` and the full
  state under `"job"` (`protocol.JobState`, as the REST API answers it), plus
  the payload of its kind: `queued` {position}, `started` {step, total} for a
  running job, `succeeded` {result_url, result_box, before_url, preview_url,
  engine, notice, frame}, `failed` {reason} or `cancelled` {}.
* Then the live events, each with its `event_id`, `job_id` and `at`:
  `queued` {position, retry, reason} (again, with `retry` and `reason`, when
  the job is requeued, or, without an event_id, when its place in the queue
  changes), `started` {attempt, engine}, `progress` {step, total},
  `preview` {step, data_url}, and one terminal event: `succeeded`
  {result_url, result_box, before_url, preview_url, engine, notice, frame},
  `failed` {reason} or `cancelled` {}. `result_box` and `before_url` are set
  for a result on a huge map (the window it repainted). `frame` is where the
  result changed the map and what to show of it first: {box, change, size},
  boxes as [left, top, right, bottom] in the map's pixels
  (inpainting_core/framing.py).
* After the terminal event the server closes the socket normally (1000).
  Clients should not reconnect after a terminal event; a reconnect would only
  get the terminal snapshot again.
* `?after=<event_id>` replays, after the snapshot, every stored event newer
  than that id before the live ones: a client that reconnects passes the
  last id it saw and misses nothing; `?after=0` replays the job's history
  (progress and previews of jobs finished long ago are pruned).
* An unknown job id is accepted and closed at once with code 4404.

Client to server: `{"action": "cancel"}` cancels the job if the socket may:
its browser session made the wish (the session cookie travels with the
handshake), its API token's user did, or it belongs to a curator; anyone
else gets `{"type": "error", "reason": ...}` and the job runs on. Malformed
or unknown messages get the same kind of error and the socket stays open.

Events reach the socket two ways: group messages when the channel layer
crosses processes (Redis), and `JobEvent` rows read from the database (often
with the in-memory layer, rarely as a safety net otherwise). Both carry the
event id, so nothing is sent twice. A socket also checks now and then that
its job's worker is alive, so a watched job never stays "running" forever.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Optional
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max
from django.utils.translation import gettext

from inpainting import events, jobs, protocol
from inpainting.models import InpaintJob
from inpainting.websockets import NOT_FOUND_CLOSE_CODE, ActionConsumer

logger = logging.getLogger(__name__)

Status = InpaintJob.Status

SNAPSHOT_TYPES = {
    Status.QUEUED: events.QUEUED,
    Status.RUNNING: events.STARTED,
    Status.SUCCEEDED: events.SUCCEEDED,
    Status.FAILED: events.FAILED,
    Status.CANCELLED: events.CANCELLED,
}


def requested_replay(scope) -> Optional[int]:
    """The `after` event id of the query string, if the client asked for a replay."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after", [])
    try:
        after = int(values[-1])
    except (IndexError, ValueError):
        return None
    return after if after >= 0 else None


def poll_seconds(relays_group: bool) -> float:
    """How often a socket reads new events from the database."""
    if relays_group:  # group messages arrive at once; the database is only a safety net
        return check_seconds()
    return settings.OLPE_WS_POLL_SECONDS


def check_seconds() -> float:
    """How often a socket checks its job's worker and its place in the queue."""
    return settings.OLPE_WS_CHECK_SECONDS


class JobConsumer(ActionConsumer):
    """`/ws/jobs/<id>/`: the job's stored state first, then its events as they happen."""

    actions = {"cancel": "cancel"}

    async def connect(self):
        self.job_id = self.scope["url_route"]["kwargs"]["job_id"]
        self.group = events.group_name(self.job_id)
        self.relays_group = events.layer_crosses_processes(self.channel_layer)
        self.last_event_id = 0
        self.position: Optional[int] = None
        self.watcher: Optional[asyncio.Task] = None
        self.finished = False
        await self.accept()
        if self.relays_group:  # join before the snapshot, so no event falls in between
            await self.join_group(self.group)
        snapshot = await database_sync_to_async(snapshot_message)(self.job_id)
        if snapshot is None:
            await self._finish(code=NOT_FOUND_CLOSE_CODE)
            return
        self.last_event_id = snapshot["event_id"]
        self.position = snapshot.get("position")
        await self.send_json(snapshot)
        replay_after = requested_replay(self.scope)
        if replay_after is not None and replay_after < self.last_event_id:
            # Handlers run one at a time: group messages wait until the replay is sent.
            self.last_event_id = replay_after
            for message in await database_sync_to_async(events.events_after)(
                self.job_id, replay_after
            ):
                await self._relay(message)
        elif snapshot["type"] in events.TERMINAL:
            await self._finish()
        if not self.finished:
            self.watcher = asyncio.create_task(self._watch())

    async def disconnect(self, code):
        self.finished = True
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()
        if getattr(self, "relays_group", False):
            await self.leave_group(self.group)

    async def cancel(self):
        session = self.scope.get("session")
        allowed = await database_sync_to_async(cancel_by_id)(
            self.job_id, user=self.scope.get("user"),
            session_key=getattr(session, "session_key", None),
        )
        if not allowed:
            await self.send_json({"type": "error", "reason": gettext(
                "Only whoever made this wish, or a curator, may cancel it.")})

    async def job_event(self, message):
        """A group message sent by `events.publish` in another process."""
        await self._relay(message["event"])

    async def _watch(self):
        loop = asyncio.get_running_loop()
        next_check = loop.time() + check_seconds()
        while not self.finished:
            # While the layer fails, the database is the only path: read it as often as
            # the embedded profile does.
            await asyncio.sleep(poll_seconds(self.relays_group and self.layer_ok))
            check = loop.time() >= next_check
            if check:
                next_check = loop.time() + check_seconds()
                if self.relays_group:  # a restarted Redis forgot the group: join again
                    await self.join_group(self.group)
            try:
                position, messages = await database_sync_to_async(watch_tick)(
                    self.job_id, self.last_event_id, check
                )
            except DatabaseError:  # a restarting database: the socket waits, not dies
                logger.warning("Job socket %s cannot read the database", self.job_id,
                               exc_info=True)
                continue
            except Exception:  # whatever else fails, the visitor's socket keeps watching
                logger.exception("Job socket %s: checking the job failed", self.job_id)
                continue
            if position is not None and position != self.position and not self.finished:
                self.position = position
                await self.send_json({"type": events.QUEUED, "position": position})
            for message in messages:
                await self._relay(message)

    async def _relay(self, message: dict) -> None:
        # No await between the check and the update: the watcher and group
        # messages interleave only at awaits, so each event is sent once.
        if self.finished or message["event_id"] <= self.last_event_id:
            return
        self.last_event_id = message["event_id"]
        if message["type"] == events.QUEUED:
            self.position = message.get("position")
        await self.send_json(message)
        if message["type"] in events.TERMINAL:
            await self._finish()

    async def _finish(self, code: Optional[int] = None) -> None:
        self.finished = True
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()
        await self.close(code=code)


# --- database side (sync, run in a thread) -----------------------------------------


def _job_with_last_event(job_id) -> Optional[InpaintJob]:
    # One statement, so the state and the last event id belong together: every
    # event after that id happened after the state the snapshot shows.
    return InpaintJob.objects.filter(pk=job_id).annotate(last_event_id=Max("events__id")).first()


def snapshot_message(job_id) -> Optional[dict]:
    """The first message of a socket: the job as stored, in the event vocabulary."""
    job = _job_with_last_event(job_id)
    if job is None:
        return None
    if jobs.recover_job_if_stale(job):
        job = _job_with_last_event(job_id)
    state = jobs.job_state(job, recover=False)
    return {
        "type": SNAPSHOT_TYPES[job.status],
        "snapshot": True,
        "event_id": job.last_event_id or 0,
        "job_id": state["id"],
        "job": state,
        **protocol.snapshot_payload(job, state),
    }


def watch_tick(job_id, after_id: int, check: bool) -> tuple[Optional[int], list[dict]]:
    """New events since `after_id`; on a check also the queue position, after recovering.

    The job is read before the events: a position that was true then is sent
    before any event that came later.
    """
    position = None
    if check:
        job = InpaintJob.objects.filter(pk=job_id).first()
        if job is not None and not jobs.recover_job_if_stale(job) and job.status == Status.QUEUED:
            position = job.queue_position()
    return position, events.events_after(job_id, after_id)


def cancel_by_id(job_id, *, user, session_key: Optional[str]) -> bool:
    """Cancel the job if this socket's user or browser session may; False if not."""
    job = InpaintJob.objects.filter(pk=job_id).first()
    if job is None or not jobs.may_change(job, user=user, session_key=session_key):
        return False
    jobs.cancel_job(job)
    return True
