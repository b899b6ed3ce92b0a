"""The job service: what the REST API, the legacy endpoint, the kiosk and the CLI call.

A wish is checked and stored (row and pictures) before anything is queued, so
a visitor's painting survives a broker or worker that goes away. The job row
is the source of truth; the broker only carries the job's id, and anything the
broker forgets or a dead worker leaves behind is found again by
`recover_stale_jobs`, which a django-q2 schedule runs every minute and which
websockets and `job_state` trigger for the one job they look at.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from PIL import Image

from inpainting import events, huge_maps, protocol
from inpainting.models import InpaintJob
from inpainting_core.problems import Problem
from inpainting_core import engines
from inpainting_core.engines import ENGINE_NAMES, get_engine
from inpainting_core.engines.base import EngineError
from inpainting_core.generation import GenerationProblem, GenerationSettings
from inpainting_core.compositing import to_png_bytes
from inpainting_core.imaging import PictureInfo, inspect_picture, min_image_side, shown_size
from inpainting_core.masks import check_mask_box
from inpainting_core.pipeline import load_mask
from inpainting_core.prompts import prepare_prompt
from inpainting_core.wishes import clean_wish
from museum.engine_choice import (
    EngineChoice,
    EngineChoiceProblem,
    choose_engine,
    record_openai_use,
)
from museum.models import SiteSettings
from museum.moderation import check_wish

logger = logging.getLogger(__name__)

Status = InpaintJob.Status
RUN_JOB_TASK = "inpainting.tasks.run_job"

class JobProblem(Problem):
    """A request the service refuses; `field` names the input."""


# --- settings ---------------------------------------------------------------------


def default_engine() -> str:
    """The engine a visitor gets right now when a request names none (curators decide)."""
    return choose_engine().engine


def max_attempts() -> int:
    return max(1, settings.OLPE_JOB_MAX_ATTEMPTS)


def stale_after() -> timedelta:
    """How long a running job may stay silent before its worker counts as lost."""
    return timedelta(seconds=settings.OLPE_JOB_STALE_SECONDS)


def requeue_after() -> timedelta:
    """How long a queued job waits before recovery checks whether the broker still has it."""
    return timedelta(seconds=settings.OLPE_JOB_REQUEUE_SECONDS)


def site_text(message, params: Optional[dict] = None) -> str:
    """A message to store on a job, in the site's language.

    Stored reasons and notices are written once but read by everyone, so they
    do not depend on who noticed the problem (a worker, or the web request of
    a visitor who reads the API in English).
    """
    with translation.override(settings.LANGUAGE_CODE):
        return str(message % params if params else message)


# --- submitting --------------------------------------------------------------------


def submit_job(
    *,
    image=None,
    mask,
    wish: str,
    generation: Optional[GenerationSettings] = None,
    kiosk_session: str = "",
    api_user=None,
    client_ip: Optional[str] = None,
    world=None,
    base_job: Optional[InpaintJob] = None,
    engine_is_a_wish: bool = False,
    mask_box=None,
) -> InpaintJob:
    """Check a wish, store it with its pictures, and queue it once stored.

    The map is `image` (an upload: checked from its header and stored as it
    came; the worker decodes it), or, without one, a reference that stores no
    copy: `base_job`'s result (a succeeded job) or `world`'s map. With an
    upload, `world` only says which World the map came from.

    `mask_box` (x, y, width, height of the map) says the mask covers only that
    region of the map: a wish on a big map sends what it painted at the map's
    resolution. On a huge map (`huge_maps`), one wish may change at most as many
    pixels as a visitor's upload may have.

    `generation` says how to paint it (None: every default); its `engine` is the
    requested one. The curators' site settings choose the engine: a requested
    one counts only where they allow it, or for API clients with a token. Anyone else asking
    for another engine is refused (JobProblem on "engine"), unless
    `engine_is_a_wish` (the legacy endpoint, whose clients always name one):
    then the site's engine paints and the job's notice says why. The blocklist
    stops a wish before any engine or translation service sees it.

    Nothing is stored unless everything is: text that is not valid Unicode is
    refused before anything is written, and the pictures are deleted again if
    storing the job fails.

    Raises JobProblem, imaging.ImageProblem (and EmptyMask) or
    prompts.PromptProblem (museum.moderation.WishBlocked for a blocked wish),
    each with a readable `message` and a `field`.
    """
    generation = generation or GenerationSettings()
    check_text(wish, field="prompt")
    may_choose = bool(getattr(api_user, "is_authenticated", False))
    choice = _chosen_engine(generation.engine, may_choose=may_choose, strict=not engine_is_a_wish)
    try:
        generation.check()
    except GenerationProblem as problem:
        raise JobProblem(problem.message, code=problem.code, field=problem.field) from problem
    if base_job is not None:
        world = world or base_job.world
    if world is not None and not world.editable:
        raise JobProblem(_("This map can only be viewed, not painted."), code="view_only",
                         field="world")
    upload, map_size = _map_of_wish(image, world, base_job)
    if mask_box is not None:
        mask_box = check_mask_box(mask_box, map_size)
    # Checked at its own size and stored so; the worker scales it to the map.
    mask_array = load_mask(mask, map_size, fit=False, box=mask_box)
    huge_maps.check_painted_area(mask_array, mask_box, map_size)
    # An empty or overlong wish is refused before the blocklist spends time reading it.
    clean_wish(wish)
    # Outside any transaction: the record of a blocked attempt must survive the refusal.
    check_wish(wish, kiosk_session=kiosk_session, client_ip=client_ip)
    # Within the chosen engine's token limit (the own model's tokenizers); a wish
    # too long for it is refused here (PromptProblem), never cut by the model.
    prompt = prepare_prompt(wish, generation.style, get_engine(choice.engine).prompt_budget())
    if prompt.translated != prompt.original:
        check_wish(prompt.translated, kiosk_session=kiosk_session, client_ip=client_ip)
    job = InpaintJob(
        # The engine that paints and the style as the prompt module knows it.
        **generation.replace(engine=choice.engine, style=prompt.style).as_dict(),
        requested_engine=generation.engine or "",
        notice=str(choice.notice),
        world=world,
        painted_world=world if upload is None and base_job is None else None,
        base_job=base_job if upload is None else None,
        mask_box=list(mask_box) if mask_box is not None else None,
        prompt_original=prompt.original,
        prompt_translated=prompt.translated,
        prompt_final=prompt.final,
        negative_prompt=prompt.negative,
        translation_source=prompt.translation_source,
        land_covers=list(prompt.land_covers),
        kiosk_session=kiosk_session or "",
        api_user=api_user if getattr(api_user, "is_authenticated", False) else None,
        client_ip=client_ip or None,
    )
    try:
        with transaction.atomic():
            if upload is not None:  # stored as it came: no decoding, no re-encoding here
                job.input_image.save(
                    f"input.{upload.extension}", ContentFile(upload.data), save=False
                )
            job.mask_image.save("mask.png", ContentFile(mask_png_bytes(mask_array)), save=False)
            job.save()
            events.publish(job, events.QUEUED, {"position": job.queue_position()})
            transaction.on_commit(lambda: enqueue(job.pk))
    except BaseException:
        _delete_pictures(job)  # the row is gone with the transaction; so are its pictures
        raise
    if job.engine == engines.OPENAI:
        record_openai_use()
    return job


def _map_of_wish(image, world, base_job) -> tuple[Optional[PictureInfo], tuple[int, int]]:
    """The upload (None for a reference) and the map's size, read from headers only."""
    if image is not None:
        upload = inspect_picture(image, min_side=min_image_side())
        return upload, upload.size
    if base_job is not None:
        if base_job.status != Status.SUCCEEDED or not base_job.result_image:
            raise JobProblem(
                _("Only a finished picture can be painted on again."), code="not_finished",
                field="base_job",
            )
        if base_job.result_box is not None:  # a region of a huge map: the map's size
            try:
                return None, huge_maps.result_size(base_job)
            except EngineError as error:
                raise JobProblem(_("This map is no longer available."), code="map_gone",
                                 field="base_job") from error
        return None, _stored_size(base_job.result_image, "base_job")
    if world is None:
        raise JobProblem(_("Send a map, or name a World to paint on."), code="required",
                         field="image")
    if not world.image:
        raise JobProblem(_("This World has no map to paint on."), code="no_map", field="world")
    return None, _stored_size(world.image, "world")


def _stored_size(picture, field: str) -> tuple[int, int]:
    try:
        with picture.open("rb") as handle:
            return shown_size(handle)
    except (OSError, ValueError) as error:
        logger.warning("Cannot read the header of %s: %s", picture.name, error)
        raise JobProblem(_("This map is no longer available."), code="map_gone",
                         field=field) from error


def _delete_pictures(job: InpaintJob) -> None:
    for picture in (job.input_image, job.mask_image):
        if picture.name:
            try:
                picture.storage.delete(picture.name)
            except Exception:  # the original failure matters more; this one is only logged
                logger.exception("Could not delete %s of a job that was not stored", picture.name)


def check_text(value, *, field: str) -> None:
    """Refuse text that no database or log can hold: not a string, a NUL, a lone surrogate.

    JSON can carry both ("\\u0000", "\\ud800"); PostgreSQL refuses NUL and
    neither database stores a surrogate that is not part of a pair.
    """
    if not isinstance(value, str):
        raise JobProblem(_("The wish must be text."), code="not_text", field=field)
    if "\x00" in value or not _is_utf8(value):
        raise JobProblem(
            _("The wish contains characters that are not text. Please type it again."),
            code="not_text", field=field,
        )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _chosen_engine(requested: Optional[str], *, may_choose: bool, strict: bool) -> EngineChoice:
    # A name that does not exist is a mistake worth telling, whoever may choose.
    if requested and requested not in ENGINE_NAMES:
        raise JobProblem(_("Unknown engine “%(name)s”.") % {"name": requested},
                         code="unknown_engine", field="engine")
    site = SiteSettings.cached()
    if requested and not (may_choose or site.visitors_choose_engine):
        if requested != site.visitor_engine:
            return _engine_not_chosen(requested, site, strict=strict)
        requested = None  # asks for what it gets anyway
    try:
        return choose_engine(requested, may_choose=may_choose)
    except EngineChoiceProblem as problem:
        raise JobProblem(problem.message, code=problem.code, field="engine") from problem


def _engine_not_chosen(requested: str, site, *, strict: bool) -> EngineChoice:
    """A client that may not choose asked for another engine than the curators' one."""
    if strict:
        raise JobProblem(
            _("Here the museum chooses the engine: leave “engine” out, or ask for "
              "“%(engine)s” (see /api/v1/engines/).") % {"engine": site.visitor_engine},
            code="engine_not_allowed", field="engine",
        )
    choice = choose_engine()
    notice = choice.notice or format_lazy(
        _("{wanted} cannot be chosen here, so {engine} paints your picture, as the museum "
          "has set."),
        wanted=get_engine(requested).label,
        engine=get_engine(choice.engine).label,
    )
    return EngineChoice(choice.engine, notice)


def mask_png_bytes(mask: np.ndarray) -> bytes:
    """The normalised mask (floats in [0, 1], the map's aspect) as a greyscale PNG.

    White is repaint, as `masks.normalise_mask` reads single-channel masks.
    """
    levels = cv2.convertScaleAbs(mask, alpha=255)  # rounded to the nearest level, in C
    # Level 1: a map-sized mask is mostly one value, zlib's fastest level packs it as well.
    return to_png_bytes(Image.fromarray(levels), compress_level=1)  # uint8 H×W: mode "L"


def enqueue(job_id) -> None:
    """Hand a stored job to the broker; a broker that is down only delays the job."""
    InpaintJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    try:
        async_task(RUN_JOB_TASK, str(job_id), task_name=f"inpaint {job_id}")
    except Exception:  # the job stays queued; recover_stale_jobs sends it again
        logger.exception("Could not queue job %s; recovery will queue it again", job_id)


# --- cancelling --------------------------------------------------------------------


def may_change(job: InpaintJob, *, user=None, session_key: Optional[str] = None) -> bool:
    """Whether someone may change a job (cancel it): the one rule for REST and websockets.

    Curators (staff), the token user who made the wish, or the browser
    session that made it; nobody else, however they learnt the job's id.
    """
    if user is not None and user.is_authenticated and (
        user.is_staff or job.api_user_id == user.pk
    ):
        return True
    return bool(job.kiosk_session and session_key) and constant_time_compare(
        job.kiosk_session, session_key
    )



def cancel_job(job: InpaintJob) -> InpaintJob:
    """Cancel a waiting job at once; ask the worker of a running job to stop.

    A finished job stays as it is. Both updates are conditional, so a worker
    that claims the job at the same moment either never starts it or sees
    the request between two steps.
    """
    now = timezone.now()
    with transaction.atomic():
        cancelled = InpaintJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, cancel_requested=True, finished_at=now
        )
        if cancelled:
            events.publish(job, events.CANCELLED)
        else:
            InpaintJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                cancel_requested=True
            )
    job.refresh_from_db()
    return job


# --- reading -----------------------------------------------------------------------


def job_state(job: InpaintJob, *, recover: bool = True) -> dict:
    """A JSON-ready snapshot of a job for the API and the websocket (`protocol.JobState`).

    With `recover`, a job whose worker has gone silent is recovered first, so
    a client never watches a job that nobody works on.
    """
    if recover and recover_job_if_stale(job):
        job.refresh_from_db()
    return protocol.job_state(job)


# --- recovery ----------------------------------------------------------------------


def _last_sign_of_life():
    return Coalesce("heartbeat_at", "started_at", "created_at")


def is_stale(job: InpaintJob, now=None) -> bool:
    """Whether a running job's worker has been silent for too long."""
    if job.status != Status.RUNNING:
        return False
    last_seen = job.heartbeat_at or job.started_at or job.created_at
    return last_seen < (now or timezone.now()) - stale_after()


def recover_job_if_stale(job: InpaintJob, now=None) -> bool:
    """The cheap, lazy check used where one job is looked at; True if it was recovered.

    A running job whose worker went silent is taken back; a queued job that
    waited past `requeue_after` and that no broker queue holds is sent again,
    so a visitor who watches their wish never waits for the next maintenance
    run after Redis forgot it.
    """
    if is_stale(job, now):
        return recover_lost_job(job, now)
    if _waited_too_long(job, now):
        try:
            forgotten = str(job.pk) not in queued_job_ids()
        except Exception:  # the broker is away too: nothing to decide until it is back
            logger.warning("Cannot ask the broker about job %s", job.pk, exc_info=True)
            return False
        if forgotten:
            logger.warning("Job %s is in no broker queue; queued again", job.pk)
            enqueue(job.pk)
    return False


def _waited_too_long(job: InpaintJob, now=None) -> bool:
    if job.status != Status.QUEUED:
        return False
    handed_over = job.enqueued_at or job.created_at
    return handed_over < (now or timezone.now()) - requeue_after()


def recover_stale_jobs(now=None) -> int:
    """Requeue or fail running jobs whose worker is gone; resend queued jobs the broker lost.

    Returns how many jobs were recovered. Safe to run anywhere and often: every
    change is a conditional update, and delivering a job twice does no harm.
    """
    now = now or timezone.now()
    lost = (
        InpaintJob.objects.filter(status=Status.RUNNING)
        .alias(last_seen=_last_sign_of_life())
        .filter(last_seen__lt=now - stale_after())
    )
    recovered = sum(recover_lost_job(job, now) for job in lost)
    return recovered + requeue_forgotten_jobs(now)


def recover_lost_job(job: InpaintJob, now=None) -> bool:
    """Take a job back from a worker that stopped: queue it again, or give up on it.

    The update only applies if the heartbeat is still the one we judged, so a
    worker that was merely slow and has just beaten keeps its job.
    """
    now = now or timezone.now()
    unchanged = InpaintJob.objects.filter(
        pk=job.pk, status=Status.RUNNING, attempts=job.attempts, heartbeat_at=job.heartbeat_at
    )
    with transaction.atomic():
        if job.cancel_requested:
            if not unchanged.update(status=Status.CANCELLED, finished_at=now, worker=""):
                return False
            events.publish(job, events.CANCELLED)
        elif job.attempts < max_attempts():
            if not unchanged.update(
                status=Status.QUEUED, worker="", heartbeat_at=None, progress_step=0,
                progress_total=0,
            ):
                return False
            logger.warning("Job %s lost its worker %s; queued again", job.pk, job.worker)
            job.refresh_from_db()
            events.publish(job, events.QUEUED, {"position": job.queue_position(), "retry": True})
            transaction.on_commit(lambda: enqueue(job.pk))
        else:
            reason = site_text(_("The worker stopped during the generation."))
            if not unchanged.update(status=Status.FAILED, error_message=reason, finished_at=now):
                return False
            logger.warning("Job %s lost its worker %s on its last attempt", job.pk, job.worker)
            events.publish(job, events.FAILED, {"reason": reason})
            transaction.on_commit(lambda: _remove_stray_pictures(job))
    return True


def _remove_stray_pictures(job: InpaintJob) -> None:
    """What the job's lost attempts wrote; a storage hiccup here must not fail the caller."""
    try:
        job.remove_stray_pictures(up_to_attempt=job.attempts)
    except OSError:
        logger.warning("Job %s: could not remove pictures of lost attempts", job.pk,
                       exc_info=True)


def requeue_forgotten_jobs(now=None) -> int:
    """Queue again the jobs that waited long and that no broker queue holds any more.

    The Redis broker forgets a task whose cluster stops or dies before a worker
    claims it. A task that only sits in a cluster's prefetch buffer looks
    forgotten too; sending it twice is harmless because claiming is idempotent.
    """
    cutoff = (now or timezone.now()) - requeue_after()
    waiting = list(
        InpaintJob.objects.filter(status=Status.QUEUED)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
    if not waiting:
        return 0
    in_broker = queued_job_ids()
    forgotten = [job_id for job_id in waiting if str(job_id) not in in_broker]
    for job_id in forgotten:
        logger.warning("Job %s is in no broker queue; queued again", job_id)
        enqueue(job_id)
    return len(forgotten)


def queued_job_ids() -> set[str]:
    """Ids of the jobs the broker (ORM or Redis) still holds for some worker.

    For the ORM broker that includes tasks delivered but not acknowledged,
    which it redelivers after Q_CLUSTER["retry"] seconds.
    """
    broker = get_broker()
    if isinstance(broker, ORM):
        payloads = broker.get_connection().filter(key=broker.list_key).values_list(
            "payload", flat=True
        )
    elif isinstance(broker, Redis):
        payloads = broker.connection.lrange(broker.list_key, 0, -1)
    else:  # a broker we cannot list: treat its jobs as forgotten, a resend is harmless
        return set()
    ids = set()
    for payload in payloads:
        try:
            task = SignedPackage.loads(payload)
        except Exception:  # a package signed with another key: not ours to judge
            continue
        if task.get("func") == RUN_JOB_TASK and task.get("args"):
            ids.add(str(task["args"][0]))
    return ids
