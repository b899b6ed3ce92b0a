"""Creations: a visitor's finished picture submitted to the gallery, and the curators' decisions.

A creation keeps its own copies of the before and after pictures, so purging
old jobs never breaks the gallery. Every decision (approve, reject, feature)
goes through this module, which sends `creation_changed` once the change is
committed; the gallery wall listens to it.
"""

from __future__ import annotations

import logging
import os
import posixpath

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal, receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from gallery.models import Creation
from inpainting import huge_maps
from inpainting.models import InpaintJob
from inpainting_core.problems import Problem
from inpainting_core.framing import Frame
from inpainting_core.engines.base import EngineError
from inpainting_core.generation import GenerationSettings
from inpainting_core.wishes import normalise
from museum import moderation
from museum.models import SiteSettings

logger = logging.getLogger(__name__)

Status = Creation.Status

# Sent with sender=Creation, creation=<Creation>, action=<one of ACTIONS>, after the
# change is committed (at once when no transaction is open). Tests that change
# creations inside a test transaction capture it with
# `django_capture_on_commit_callbacks(execute=True)`.
creation_changed = Signal()

APPROVED = "approved"
REJECTED = "rejected"
FEATURED = "featured"
UNFEATURED = "unfeatured"
REOPENED = "reopened"  # a decision undone: pending again
DELETED = "deleted"
ACTIONS = (APPROVED, REJECTED, FEATURED, UNFEATURED, REOPENED, DELETED)


class CreationProblem(Problem):
    """A submission or decision that cannot be made; `message` is for the visitor or curator."""


# --- submitting ------------------------------------------------------------------------


def create_creation(
    job: InpaintJob, *, title: str = "", visitor_name: str = "", consent: bool = False, world=None
) -> Creation:
    """Submit a succeeded job to the gallery; a job has one creation, a second call returns it.

    The name is kept only with the visitor's consent. Title and name pass the
    blocklist like a wish. The creation waits for a curator unless the site
    settings approve automatically. Raises CreationProblem.
    """
    _check_job(job)
    existing = Creation.objects.filter(job=job).first()
    if existing is not None:
        return existing
    title = _checked_text(job, title, field="title")
    visitor_name = _checked_text(job, visitor_name, field="visitor_name") if consent else ""
    creation = _new_creation(
        job, title=title, visitor_name=visitor_name, consent=consent, world=world
    )
    _copy_pictures(job, creation)
    try:
        with transaction.atomic():
            creation.save()
    except IntegrityError:
        _delete_files(creation)
        existing = Creation.objects.filter(job=job).first()
        if existing is None:
            raise
        return existing  # a second submission of the same job won the race
    if creation.is_public:
        _announce(creation, APPROVED)
    return creation


def _check_job(job: InpaintJob) -> None:
    if job.status != InpaintJob.Status.SUCCEEDED or not job.result_image or not job.source_picture:
        raise CreationProblem(
            _("Only a finished picture can be submitted to the gallery."), code="job_not_finished"
        )


def _checked_text(job: InpaintJob, text: str, *, field: str) -> str:
    text = normalise(text or "")
    limit = Creation._meta.get_field(field).max_length
    if len(text) > limit:
        raise CreationProblem(
            format_lazy(_("Please use at most {limit} characters."), limit=limit),
            code="too_long", field=field,
        )
    try:
        moderation.check_wish(
            text, kiosk_session=job.kiosk_session, client_ip=job.client_ip, field=field
        )
    except moderation.WishBlocked as blocked:
        raise CreationProblem(blocked.message, code=blocked.code, field=field) from blocked
    return text


def _new_creation(job: InpaintJob, **visitor_fields) -> Creation:
    auto_approve = SiteSettings.load().auto_approve
    return Creation(
        job=job,
        prompt_original=job.prompt_original,
        prompt_translated=job.prompt_translated,
        prompt_final=job.prompt_final,
        engine=job.engine,
        generation_settings=generation_settings(job),
        # the worker found it when it stored the result (None: shown whole)
        frame=job.frame if Frame.from_dict(job.frame) else None,
        status=Status.APPROVED if auto_approve else Status.PENDING,
        moderated_at=timezone.now() if auto_approve else None,
        **visitor_fields,
    )


def generation_settings(job: InpaintJob) -> dict:
    """What it takes to paint the picture again; None means the engine's default.

    The job's GenerationSettings but its engine (the creation has its own field), and
    the negative prompt it was painted with.
    """
    stored = GenerationSettings.from_job(job).as_dict()
    del stored["engine"]
    return {**stored, "negative_prompt": job.negative_prompt}


def _copy_pictures(job: InpaintJob, creation: Creation) -> None:
    """The creation's own before and after pictures. A wish on a huge map keeps the region
    it repainted (its result) and the same region of the map before it."""
    try:
        if job.result_box:
            creation.before_image.save("before.png", ContentFile(huge_maps.before_png(job)),
                                       save=False)
        for source, target, name in (
            (None if job.result_box else job.source_picture, creation.before_image, "before.png"),
            (job.result_image, creation.after_image, "after.png"),
        ):
            if source is None:
                continue
            with source.open("rb") as picture:
                target.save(name, File(picture), save=False)
    except (OSError, EngineError) as error:
        _delete_files(creation)
        logger.warning("Pictures of job %s could not be copied: %s", job.pk, error)
        raise CreationProblem(
            _("The pictures of this job are no longer available."), code="pictures_missing"
        ) from error


# --- deciding --------------------------------------------------------------------------


def approve(creation: Creation, user) -> Creation:
    if creation.status == Status.APPROVED:
        return creation
    return _decide(creation, user, APPROVED, status=Status.APPROVED, rejection_reason="")


def reject(creation: Creation, user, reason: str = "") -> Creation:
    """Hide a creation; the reason is for curators only and never shown publicly."""
    reason = (reason or "").strip()
    if creation.status == Status.REJECTED and creation.rejection_reason == reason:
        return creation
    return _decide(
        creation, user, REJECTED, status=Status.REJECTED, featured=False, rejection_reason=reason
    )


def set_featured(creation: Creation, featured: bool, user) -> Creation:
    """Feature an approved creation (first in the gallery and on the wall), or stop featuring it."""
    if creation.featured == featured:
        return creation
    if featured and creation.status != Status.APPROVED:
        raise CreationProblem(
            _("Only approved creations can be featured."), code="not_approved", field="featured"
        )
    return _decide(creation, user, FEATURED if featured else UNFEATURED, featured=featured)


# What a decision changes, and what undoing it puts back.
DECISION_FIELDS = ("status", "featured", "rejection_reason", "moderated_by_id", "moderated_at")


def decision_state(creation: Creation) -> dict:
    """The creation's decision as JSON-able values (to undo a later decision with `restore`)."""
    return {
        "status": creation.status,
        "featured": creation.featured,
        "rejection_reason": creation.rejection_reason,
        "moderated_by_id": creation.moderated_by_id,
        "moderated_at": creation.moderated_at.isoformat() if creation.moderated_at else None,
    }


def restore(creation: Creation, state: dict) -> Creation:
    """Put back a decision as `decision_state` recorded it (a curator's undo).

    Walls hear of it as of any decision: a creation that was public and is
    no longer is removed, one that is public again is added or updated.
    """
    was_public, was_featured = creation.is_public, creation.featured
    if state["status"] not in Status.values:
        raise CreationProblem(_("This decision cannot be undone."), code="bad_state")
    changes = {
        "status": state["status"],
        "featured": bool(state["featured"]) and state["status"] == Status.APPROVED,
        "rejection_reason": str(state["rejection_reason"] or ""),
        "moderated_by_id": state["moderated_by_id"],
        "moderated_at": parse_datetime(state["moderated_at"]) if state["moderated_at"] else None,
    }
    for field, value in changes.items():
        setattr(creation, field, value)
    creation.save(update_fields=[field.removesuffix("_id") for field in changes])
    if creation.is_public:
        if not was_public:
            _announce(creation, APPROVED)
        elif creation.featured != was_featured:
            _announce(creation, FEATURED if creation.featured else UNFEATURED)
    elif was_public:
        _announce(creation, REJECTED if creation.status == Status.REJECTED else REOPENED)
    return creation


def _decide(creation: Creation, user, action: str, **changes) -> Creation:
    changes["moderated_by"] = user if getattr(user, "is_authenticated", False) else None
    changes["moderated_at"] = timezone.now()
    for field, value in changes.items():
        setattr(creation, field, value)
    creation.save(update_fields=list(changes))
    _announce(creation, action)
    return creation


def _announce(creation: Creation, action: str) -> None:
    transaction.on_commit(
        lambda: creation_changed.send_robust(sender=Creation, creation=creation, action=action)
    )


# --- deleting --------------------------------------------------------------------------


@receiver(post_delete, sender=Creation, dispatch_uid="gallery.creations.creation_deleted")
def _creation_deleted(sender, instance: Creation, **kwargs) -> None:
    """A deleted creation leaves no pictures behind, and walls and listeners hear of it."""

    def after_commit():
        _delete_files(instance)
        creation_changed.send_robust(sender=Creation, creation=instance, action=DELETED)

    transaction.on_commit(after_commit)


def creation_folder(creation: Creation) -> str:
    """Where a creation's pictures, and anything made from them (thumbnails), are stored."""
    return posixpath.dirname(creation.after_image.field.generate_filename(creation, "after.png"))


def creation_files(creation: Creation) -> set[str]:
    """Names of the stored files of a creation: its pictures and whatever lies in its folder."""
    storage = creation.after_image.storage
    folder = creation_folder(creation)
    names = {field.name for field in (creation.before_image, creation.after_image) if field}
    try:
        names.update(posixpath.join(folder, name) for name in storage.listdir(folder)[1])
    except (FileNotFoundError, NotImplementedError):
        pass
    return names


def _delete_files(creation: Creation) -> int:
    """Delete the creation's files and its folder; returns the bytes freed."""
    storage = creation.after_image.storage
    freed = sum(delete_stored_file(storage, name) for name in creation_files(creation))
    remove_empty_folder(storage, creation_folder(creation))
    return freed


def delete_stored_file(storage, name: str) -> int:
    """Delete one stored file; returns its size, 0 when it was already gone."""
    try:
        size = storage.size(name)
    except (FileNotFoundError, OSError):
        return 0
    storage.delete(name)
    return size


def remove_empty_folder(storage, folder: str) -> None:
    """The local filesystem keeps empty folders; remove one if nothing is left in it."""
    try:
        os.rmdir(storage.path(folder))
    except (NotImplementedError, OSError):
        pass  # not local, not empty, or already gone
