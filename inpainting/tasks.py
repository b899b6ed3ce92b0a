"""The django-q2 task that runs one inpainting job in a worker process.

Brokers may deliver a task twice (the ORM broker redelivers after `retry`
seconds, recovery resends what Redis may have lost), so the task first claims
its job with a conditional update and does nothing if the job is finished,
cancelled or alive in another worker. While the engine runs, a heartbeat
thread proves the worker is alive; every later write is conditional on this
worker still owning the job (same status and attempt), so a worker that was
given up for lost cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import socket
import threading
import time
from typing import Optional

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_q.exceptions import TimeoutException
from PIL import Image

from inpainting import events, huge_maps, jobs, protocol
from inpainting.huge_maps import MAP_GONE
from inpainting.models import InpaintJob
from inpainting_core import engines
from inpainting_core.engines import get_engine
from inpainting_core.engines.base import Cancelled, EngineError, EngineUnavailable
from inpainting_core.generation import GenerationSettings
from inpainting_core.compositing import result_png_bytes
from inpainting_core.imaging import ImageProblem, open_image
from inpainting_core.map_cache import map_cache
from inpainting_core.pipeline import GenerationResult, generate, load_mask
from inpainting_core.png_bands import BandedPNG
from inpainting_core.prompts import PreparedPrompt
from museum.models import SiteSettings

logger = logging.getLogger(__name__)

Status = InpaintJob.Status

PROGRESS_INTERVAL = 0.25  # seconds between progress writes: at most four a second
PREVIEW_INTERVAL = 1.0  # previews carry pictures, so fewer of them
CANCEL_CHECK_INTERVAL = 0.5
LIVE_PREVIEW_SIZE = 256
RESULT_PREVIEW_SIZE = 512

TOO_LONG = _("The generation took too long.")
UNEXPECTED_FAILURE = _("Something went wrong while painting. Please try again.")


class LostJob(Exception):
    """This worker no longer owns the job: recovery gave it to another attempt."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_interval() -> float:
    return float(settings.OLPE_HEARTBEAT_SECONDS)


def run_job(job_id: str) -> str:
    """Entry point for django-q2: run the job unless another delivery already did."""
    job = claim_job(job_id)
    if job is None:
        return "skipped"
    return JobRun(job).execute()


def maintain_jobs() -> str:
    """The every-minute schedule: recover lost jobs and drop stale live events."""
    recovered = jobs.recover_stale_jobs()
    pruned = events.prune_events()
    return f"recovered {recovered} jobs, pruned {pruned} events"


# --- claiming ----------------------------------------------------------------------


def claim_job(job_id) -> Optional[InpaintJob]:
    """Make this worker the owner of the job, or return None if it must not run it.

    A queued job, or a running one whose worker went silent, is claimed with
    one conditional UPDATE, so of two deliveries only one wins.
    """
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, heartbeat_at__lt=now - jobs.stale_after()
    )
    with transaction.atomic():
        claimed = InpaintJob.objects.filter(
            claimable, pk=job_id, cancel_requested=False, attempts__lt=jobs.max_attempts()
        ).update(
            status=Status.RUNNING,
            attempts=F("attempts") + 1,
            worker=worker_name(),
            started_at=now,
            heartbeat_at=now,
            progress_step=0,
            progress_total=0,
            error_message="",
        )
        job = InpaintJob.objects.filter(pk=job_id).first()
        if job is None:
            logger.warning("Job %s does not exist (deleted?); nothing to do", job_id)
            return None
        if claimed:
            events.publish(job, events.STARTED, {"attempt": job.attempts, "engine": job.engine})
            return job
        _settle_unclaimable(job, now)
    return None


def _settle_unclaimable(job: InpaintJob, now) -> None:
    """Close a job that may not run again; leave jobs that are finished or alive elsewhere."""
    if jobs.is_stale(job, now):  # cancelled or out of attempts: recovery says which
        jobs.recover_lost_job(job, now)
        return
    if job.status != Status.QUEUED:
        logger.info("Job %s is %s (worker %s); this delivery does nothing",
                    job.pk, job.status, job.worker or "-")
        return
    unchanged = InpaintJob.objects.filter(pk=job.pk, status=Status.QUEUED, attempts=job.attempts)
    if job.cancel_requested:
        if unchanged.update(status=Status.CANCELLED, finished_at=now):
            events.publish(job, events.CANCELLED)
        return
    reason = jobs.site_text(
        ngettext_lazy(
            "The job was tried %(count)d time without finishing.",
            "The job was tried %(count)d times without finishing.",
            "count",
        ),
        {"count": job.attempts},
    )
    if unchanged.update(status=Status.FAILED, error_message=reason, finished_at=now):
        events.publish(job, events.FAILED, {"reason": reason})


# --- running -----------------------------------------------------------------------


class Heartbeat(threading.Thread):
    """Touches `heartbeat_at` while the engine works; notices when the job was taken away."""

    def __init__(self, job_id, attempt: int, interval: float):
        super().__init__(name=f"heartbeat {job_id}", daemon=True)
        self.job_id = job_id
        self.owned = InpaintJob.objects.filter(pk=job_id, status=Status.RUNNING, attempts=attempt)
        self.interval = interval
        self.lost = threading.Event()
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    if not self.owned.update(heartbeat_at=timezone.now()):
                        self.lost.set()
                        return
                except DatabaseError:  # a locked or restarting database: try next beat
                    logger.warning("Heartbeat of job %s failed", self.job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout=self.interval + 5)


class JobRun:
    """One attempt at one claimed job, from the stored inputs to the stored result."""

    def __init__(self, job: InpaintJob):
        self.job = job
        self.attempt = job.attempts
        self.owned = InpaintJob.objects.filter(
            pk=job.pk, status=Status.RUNNING, attempts=job.attempts
        )
        self.heartbeat = Heartbeat(job.pk, job.attempts, heartbeat_interval())
        self.deadline = time.monotonic() + _time_budget()
        self.timed_out = False
        self.lost = False
        self._last_progress = self._last_preview = self._last_cancel_check = float("-inf")
        self._world = self._world_key = None  # the World's decoded map and its key in the map cache
        self._region = None  # a wish on a huge map: the window it paints (huge_maps.RegionWish)

    def execute(self) -> str:
        self.heartbeat.start()
        try:
            self._succeed(self._generate())
            return Status.SUCCEEDED
        except Cancelled:
            return self._stop_after_cancel()
        except EngineError as error:
            return self._after_engine_error(error)
        except LostJob:
            return self._discard()
        except ImageProblem as problem:
            # A stored map the worker cannot decode (checked from its header on upload).
            return self._fail(jobs.site_text(problem.message))
        except TimeoutException:
            # django-q2 stops the task (SIGALRM); record why before the worker goes.
            self._fail(jobs.site_text(TOO_LONG))
            raise
        except Exception:
            logger.exception("Job %s failed unexpectedly", self.job.pk)
            return self._fail(jobs.site_text(UNEXPECTED_FAILURE))
        finally:
            self.heartbeat.stop()

    # --- generation ---

    def _generate(self) -> GenerationResult:
        image, mask = self._map_and_mask()
        engine = self._usable_engine()
        try:
            return self._generate_with(engine, image, mask)
        except EngineUnavailable as error:
            fallback = engines.worker_fallback(engine)
            if fallback is None:
                raise
            self._fall_back(fallback, error.message)
            return self._generate_with(fallback, image, mask)

    def _generate_with(self, engine: str, image: Image.Image, mask) -> GenerationResult:
        job = self.job
        generation = GenerationSettings.from_job(job).replace(engine=engine)
        result = generate(
            image, mask, job.prompt_original, generation,
            progress=self._on_progress, should_cancel=self._should_cancel,
            prompt=stored_prompt(job), safety_check=SiteSettings.cached().safety_checker,
            metres_per_pixel=job.world.metres_per_pixel if job.world else None,
            map_kind=job.world.kind if job.world else "",
        )
        logger.info("Job %s painted by %s in %s", job.pk, engine,
                    {phase: round(seconds, 2) for phase, seconds in result.seconds.items()})
        return result

    def _map_and_mask(self):
        """The map to paint and its mask at the map's size; for a huge map (painted by
        region) only the window around the painted region, from the map's pyramid."""
        job = self.job
        mask = _read(job.mask_image)
        if not job.input_image:  # a World's map or an earlier result: maybe a huge one
            size = huge_maps.map_size(job)
            if huge_maps.is_huge(size):
                self._region = huge_maps.region_wish(job, mask, size)
                return self._region.image, self._region.mask
        image = self._map()
        return image, load_mask(mask, image.size, box=tuple(job.mask_box) if job.mask_box else None)

    def _map(self) -> Image.Image:
        """The decoded map: a World's from this process's cache (decoded once), an upload
        or an earlier result read and decoded now."""
        picture = self.job.source_picture
        if not picture:
            raise EngineError(MAP_GONE)
        if self.job.painted_world_id is None:
            return open_image(_read(picture), max_pixels=map_pixel_limit(self.job))
        key = self._world_key = (picture.name, *_file_version(picture))
        self._world = map_cache().get(
            key, lambda: open_image(_read(picture), max_pixels=settings.OLPE_MAX_WORLD_PIXELS)
        )
        return self._world

    def _painted_on(self):
        """A World's map and its compressed bands (made once per worker and kept beside
        the decoded map), so that the result compresses only the bands the wish changed."""
        if self._world is None or self._world.mode != "RGB":
            return None
        pixels = np.asarray(self._world)
        bands = map_cache().get(
            (*self._world_key, "png-bands", settings.OLPE_RESULT_PNG_LEVEL),
            lambda: BandedPNG.of(pixels, level=settings.OLPE_RESULT_PNG_LEVEL),
        )
        return pixels, bands

    def _usable_engine(self) -> str:
        """The job's engine, or the registry's fallback when it has one and cannot run here."""
        name = self.job.engine
        fallback = engines.worker_fallback(name)
        if fallback is None:
            return name
        try:
            status = get_engine(name).status()
        except EngineUnavailable as error:
            status = None
            reason = error.message
        else:
            reason = status.reason
        if status is None or not status.usable:
            self._fall_back(fallback, reason)
            return fallback
        return name

    def _fall_back(self, fallback: str, reason) -> None:
        notice = jobs.site_text(
            _("The own model could not be used (%(reason)s), so the classic engine "
              "painted this picture instead."),
            {"reason": jobs.site_text(reason)},
        )
        logger.warning("Job %s falls back to %s: %s", self.job.pk, fallback, reason)
        if not self.owned.update(engine=fallback, notice=notice):
            raise LostJob
        self.job.engine = fallback
        self.job.notice = notice

    # --- engine callbacks ---

    def _on_progress(self, step: int, total: int, preview: Optional[Image.Image] = None) -> None:
        now = time.monotonic()
        if preview is not None and now - self._last_preview >= PREVIEW_INTERVAL:
            self._last_preview = now
            self._record_preview(step, preview)
        if step >= total or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            with transaction.atomic():
                if not self.owned.update(progress_step=step, progress_total=total):
                    raise LostJob
                events.publish(self.job, events.PROGRESS, {"step": step, "total": total})

    def _record_preview(self, step: int, preview: Image.Image) -> None:
        jpeg = jpeg_bytes(thumbnail(preview, LIVE_PREVIEW_SIZE))
        self._check_still_owned()
        name = self._store("preview_image", "preview.jpg", jpeg)
        with transaction.atomic():
            if not self.owned.update(preview_image=name):
                self._delete_file("preview_image", name)
                raise LostJob
            events.publish(self.job, events.PREVIEW, {"step": step, "data_url": data_url(jpeg)})
        replaced = self.job.preview_image.name
        self.job.preview_image.name = name
        if replaced and replaced != name:
            self._delete_file("preview_image", replaced)

    def _should_cancel(self) -> bool:
        """Between two steps: stop on a cancel request, a lost claim or the time budget."""
        if self.heartbeat.lost.is_set():
            self.lost = True
        elif time.monotonic() > self.deadline:
            self.timed_out = True
        if self.lost or self.timed_out:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check < CANCEL_CHECK_INTERVAL:
            return False
        self._last_cancel_check = now
        row = InpaintJob.objects.filter(pk=self.job.pk).values(
            "status", "attempts", "cancel_requested"
        ).first()
        if row is None or row["status"] != Status.RUNNING or row["attempts"] != self.attempt:
            self.lost = True
            return True
        return row["cancel_requested"]

    # --- outcomes ---

    def _succeed(self, result: GenerationResult) -> None:
        self._check_still_owned()
        written = {
            "result_image": self._store(
                "result_image", "result.png", result_png_bytes(result.image, self._painted_on())
            ),
            "preview_image": self._store(
                "preview_image", "preview.jpg",
                jpeg_bytes(thumbnail(result.image, RESULT_PREVIEW_SIZE)),
            ),
        }
        now = timezone.now()
        # The seed the engine painted with (also one it picked itself) and what it
        # says it did differently from the wish are kept with the job.
        # The prompts as sent: refitted when the model changed since submission.
        noted = {"seed": result.seed, "prompt_final": result.prompt.final,
                 "negative_prompt": result.prompt.negative,
                 # where the map changed: what the kiosk, gallery and desk show first
                 "frame": result.frame.as_dict() if result.frame else None,
                 "result_box": self._region.result_box if self._region else None}
        if result.notes:
            noted["notice"] = " ".join([self.job.notice, *result.notes]).strip()
        try:
            with transaction.atomic():
                if not self.owned.update(
                    status=Status.SUCCEEDED, finished_at=now, heartbeat_at=now, **written, **noted
                ):
                    raise LostJob
                self.job.status = Status.SUCCEEDED
                self.job.seed = noted["seed"]
                self.job.frame = noted["frame"]
                self.job.notice = noted.get("notice", self.job.notice)
                self.job.result_image.name = written["result_image"]
                self.job.preview_image.name = written["preview_image"]
                self.job.result_box = noted["result_box"]
                events.publish(self.job, events.SUCCEEDED, {
                    "result_url": protocol.result_url(self.job),
                    "result_box": protocol.result_box(self.job),
                    "before_url": protocol.before_url(self.job),
                    "preview_url": protocol.preview_url(self.job),
                    "engine": self.job.engine,
                    "notice": self.job.notice,
                    "frame": self.job.frame,
                })
        except LostJob:
            self._delete_files(written)
            raise
        except DatabaseError:
            self._after_failed_commit(written)
            raise
        self._tidy_up()

    def _after_failed_commit(self, written: dict[str, str]) -> None:
        """The database failed while the success was committed: did it keep it?

        If it can be asked and did not, this attempt removes what it wrote. If
        it cannot be asked (still restarting), the files stay: a commit that
        went through needs them, and if it did not, the job is tried again
        and the attempt that finishes it removes them (`_tidy_up`).
        """
        try:
            connections["default"].close()
            stored = InpaintJob.objects.filter(pk=self.job.pk).values_list(
                "result_image", flat=True
            ).first()
        except DatabaseError:
            logger.warning("Job %s: cannot tell whether its result was stored; the next "
                           "attempt tidies up", self.job.pk)
            return
        if stored != written["result_image"]:
            self._delete_files(written)

    def _tidy_up(self) -> None:
        """After a finished state is committed: remove pictures of earlier, lost attempts."""
        try:
            self.job.remove_stray_pictures(up_to_attempt=self.attempt)
        except (DatabaseError, OSError):
            logger.warning("Job %s: could not remove pictures of earlier attempts", self.job.pk,
                           exc_info=True)

    def _stop_after_cancel(self) -> str:
        if self.lost:
            return self._discard()
        if self.timed_out:
            return self._fail(jobs.site_text(TOO_LONG))
        with transaction.atomic():
            if not self.owned.update(status=Status.CANCELLED, finished_at=timezone.now()):
                return self._discard()
            events.publish(self.job, events.CANCELLED)
        self._tidy_up()
        return Status.CANCELLED

    def _after_engine_error(self, error: EngineError) -> str:
        if self.lost:
            return self._discard()
        reason = jobs.site_text(error.message)
        if error.retryable and self.attempt < jobs.max_attempts():
            return self._retry(reason)
        logger.warning("Job %s failed in its engine: %s", self.job.pk, reason)
        return self._fail(reason)

    def _retry(self, reason: str) -> str:
        logger.warning("Job %s will be tried again: %s", self.job.pk, reason)
        with transaction.atomic():
            if not self.owned.update(
                status=Status.QUEUED, worker="", heartbeat_at=None, progress_step=0,
                progress_total=0,
            ):
                return self._discard()
            self.job.status = Status.QUEUED
            events.publish(self.job, events.QUEUED, {
                "position": self.job.queue_position(), "retry": True, "reason": reason,
            })
            transaction.on_commit(lambda: jobs.enqueue(self.job.pk))
        return Status.QUEUED

    def _fail(self, reason: str) -> str:
        with transaction.atomic():
            if not self.owned.update(
                status=Status.FAILED, error_message=reason, finished_at=timezone.now()
            ):
                return self._discard()
            events.publish(self.job, events.FAILED, {"reason": reason})
        self._tidy_up()
        return Status.FAILED

    def _discard(self) -> str:
        logger.warning("Job %s was taken from worker %s; its work is dropped",
                       self.job.pk, worker_name())
        return "lost"

    # --- files ---

    def _check_still_owned(self) -> None:
        """Before writing a picture: an attempt whose job was taken back (its worker seemed
        dead and another attempt runs or has finished it) writes nothing more.

        Its files would only be removed by its own failing update, and a worker killed
        between the write and that update would leave them behind after the attempt
        that finished the job had already tidied up. Checking first makes that window
        milliseconds instead of a whole engine step.
        """
        if self.heartbeat.lost.is_set() or not self.owned.exists():
            self.lost = True
            raise LostJob

    def _store(self, field_name: str, filename: str, content: bytes) -> str:
        """Save a file under a fresh name (never over a file another attempt may use)."""
        field = InpaintJob._meta.get_field(field_name)
        return field.storage.save(field.generate_filename(self.job, filename), ContentFile(content))

    @staticmethod
    def _delete_file(field_name: str, name: str) -> None:
        InpaintJob._meta.get_field(field_name).storage.delete(name)

    def _delete_files(self, names: dict[str, str]) -> None:
        for field_name, name in names.items():
            self._delete_file(field_name, name)


def _read(field_file) -> bytes:
    try:
        with field_file.open("rb") as handle:
            return handle.read()
    except FileNotFoundError as error:
        raise EngineError(MAP_GONE) from error


def _file_version(field_file) -> tuple:
    """Size and modification time: a replaced file is a different cache entry."""
    storage = field_file.storage
    try:
        return storage.size(field_file.name), storage.get_modified_time(field_file.name)
    except (OSError, NotImplementedError) as error:
        raise EngineError(MAP_GONE) from error


def map_pixel_limit(job: InpaintJob) -> int:
    """The most pixels the job's map may have: a visitor's upload is held to the upload
    limit, an earlier result painted on a large World may be as large as the World."""
    if job.base_job_id is not None:
        return max(settings.OLPE_MAX_IMAGE_PIXELS, settings.OLPE_MAX_WORLD_PIXELS)
    return settings.OLPE_MAX_IMAGE_PIXELS


def stored_prompt(job: InpaintJob) -> PreparedPrompt:
    """The prompt prepared at submission, so the worker neither translates again nor differs."""
    return PreparedPrompt(
        original=job.prompt_original,
        translated=job.prompt_translated,
        final=job.prompt_final,
        negative=job.negative_prompt,
        style=job.style,
        translation_source=job.translation_source,
        land_covers=tuple(job.land_covers),
    )


def _time_budget() -> float:
    """Seconds a job may take: a margin below the cluster's hard timeout to fail readably."""
    timeout = settings.Q_CLUSTER.get("timeout") or settings.OLPE_JOB_TIMEOUT
    return max(timeout - 10, timeout * 0.8)


# --- pictures ----------------------------------------------------------------------


def thumbnail(image: Image.Image, size: int) -> Image.Image:
    small = image.convert("RGB")
    small.thumbnail((size, size), Image.Resampling.LANCZOS)
    return small


def jpeg_bytes(image: Image.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


__all__ = ["run_job", "maintain_jobs", "claim_job", "JobRun", "worker_name"]
