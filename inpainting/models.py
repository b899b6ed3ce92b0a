"""Inpainting jobs: every wish, persisted before any work starts.

The job row is the source of truth for a generation. Brokers differ in what
they promise (the ORM broker redelivers, Redis forgets a task whose worker
died), so the job counts its own attempts and records its own state; the
broker only carries the job's id.
"""

import logging
import posixpath
import re
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


def _job_path(job, kind: str, extension: str) -> str:
    # Paths come from the job's UUID alone: no user-supplied name reaches the filesystem.
    return f"jobs/{job.created_at:%Y/%m/%d}/{job.id}/{kind}.{extension}"


# Uploaded maps are stored as they came (PNG, JPEG or WebP, checked from the header).
INPUT_EXTENSIONS = {"png", "jpg", "jpeg", "webp"}


def input_image_path(job, filename):
    extension = posixpath.splitext(filename or "")[1].lstrip(".").lower()
    return _job_path(job, "input", extension if extension in INPUT_EXTENSIONS else "png")


def mask_path(job, filename):
    return _job_path(job, "mask", "png")


# Results and previews are written by an attempt at the job: their names carry
# its number, so what an attempt left behind can be told from what counts.
ATTEMPT_PICTURE = re.compile(r"^(?:result|preview)-(\d+)[._]")


def result_path(job, filename):
    return _job_path(job, f"result-{job.attempts}", "png")


def preview_path(job, filename):
    return _job_path(job, f"preview-{job.attempts}", "jpg")


class InpaintJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )

    # What was asked for.
    engine = models.CharField(_("engine"), max_length=32)
    requested_engine = models.CharField(_("requested engine"), max_length=32, blank=True)
    style = models.CharField(_("style"), max_length=32, default="none")
    steps = models.PositiveIntegerField(_("steps"), null=True, blank=True)
    guidance = models.FloatField(_("guidance"), null=True, blank=True)
    strength = models.FloatField(_("strength"), null=True, blank=True)
    seed = models.BigIntegerField(_("seed"), null=True, blank=True)

    prompt_original = models.TextField(_("wish"))
    prompt_translated = models.TextField(_("translation"), blank=True)
    prompt_final = models.TextField(_("final prompt"), blank=True)
    negative_prompt = models.TextField(_("negative prompt"), blank=True)
    translation_source = models.CharField(max_length=16, blank=True)
    # What the wish asks to paint (inpainting_core.landcover names), as prepared at
    # submission, so the worker paints what the visitor was shown.
    land_covers = models.JSONField(default=list, blank=True)

    # The map painted on: an upload of its own, or a reference (a World's map, an
    # earlier job's result), which stores no copy; `source_picture` is whichever it is.
    input_image = models.ImageField(
        _("map"), upload_to=input_image_path, max_length=255, blank=True
    )
    painted_world = models.ForeignKey(
        "museum.World", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("painted on the world's map"),
        help_text=_("The job paints on this World's map, which it does not copy."),
    )
    base_job = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("painted on the result of"),
        help_text=_("The job paints on this earlier job's result, which it does not copy."),
    )
    mask_image = models.ImageField(_("mask"), upload_to=mask_path, max_length=255)
    # Where the mask lies on the map, [x, y, width, height] in the map's pixels: a wish on
    # a big map sends only the region it painted. Null: the mask covers the whole map.
    mask_box = models.JSONField(_("place of the mask"), null=True, blank=True)
    result_image = models.ImageField(
        _("result"), upload_to=result_path, max_length=255, blank=True
    )
    # A map painted by region (a huge World, inpainting/huge_maps.py): the result is only
    # this region of the repainted map, [x, y, width, height]. Null: the whole map.
    result_box = models.JSONField(_("place of the result"), null=True, blank=True)
    preview_image = models.ImageField(
        _("preview"), upload_to=preview_path, max_length=255, blank=True
    )
    # Where the result changed the map and what to show of it first
    # (inpainting_core.framing.Frame.as_dict), stored with the result.
    frame = models.JSONField(_("frame of the change"), null=True, blank=True, editable=False)

    # Progress and outcome.
    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error_message = models.TextField(_("error"), blank=True)
    notice = models.TextField(
        _("notice"), blank=True, help_text=_("For example, that the job fell back to another engine.")
    )
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Last hand-over to the broker: a queued job that waited long after it and
    # is in no broker queue was lost (Redis forgets tasks) and is sent again.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=128, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)

    world = models.ForeignKey(
        "museum.World", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="jobs", verbose_name=_("world"),
    )

    # Who asked.
    kiosk_session = models.CharField(max_length=64, blank=True, db_index=True)
    api_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("inpainting job")
        verbose_name_plural = _("inpainting jobs")
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def source_picture(self):
        """The picture this job paints on: its own upload, its base job's result or its
        World's map (a FieldFile; empty once purged)."""
        if self.input_image:
            return self.input_image
        if self.base_job_id is not None:
            return self.base_job.result_image
        if self.painted_world_id is not None:
            return self.painted_world.image
        return self.input_image

    def remove_stray_pictures(self, up_to_attempt: int) -> int:
        """Delete results and previews of attempts up to `up_to_attempt` that the row does
        not point to; returns how many.

        Call it after committing a finished state: the attempt that commits
        cleans up after the earlier ones (one killed after writing its result,
        one whose commit the database lost). Later attempts' files are never
        touched, as one may be writing them now.
        """
        storage = self._meta.get_field("result_image").storage
        folder = posixpath.dirname(_job_path(self, "result", "png"))  # the job's own folder
        keep = {self.result_image.name, self.preview_image.name}
        removed = 0
        try:
            names = storage.listdir(folder)[1]
        except FileNotFoundError:
            return 0
        for name in names:
            match = ATTEMPT_PICTURE.match(name)
            path = posixpath.join(folder, name)
            if match and int(match[1]) <= up_to_attempt and path not in keep:
                storage.delete(path)
                removed += 1
        if removed:
            logger.info("Job %s: removed %d picture(s) of earlier attempts", self.pk, removed)
        return removed

    def queue_position(self) -> int:
        """1 for the next job to start; 0 once the job is no longer waiting."""
        if self.status != self.Status.QUEUED:
            return 0
        ahead = InpaintJob.objects.filter(
            status=self.Status.QUEUED, created_at__lt=self.created_at
        ).count()
        return ahead + 1


class JobEvent(models.Model):
    """One event of a job's life, in order; websockets replay what they missed.

    Channel layers deliver at most once and the in-memory layer cannot cross
    processes, so events are also written here: a socket that connects late
    or reconnects reads them from the database.
    """

    job = models.ForeignKey(InpaintJob, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
