"""What visitors made (Creations), and what curators decide about it.

Images of creations are stored under random names and never served as plain
media files: every view that shows one checks that the creation is approved
(or that a curator asks), so pending and rejected work stays private.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _random_slug() -> str:
    return secrets.token_urlsafe(9)


def creation_before_path(creation, filename):
    return f"creations/{creation.slug}/before.png"


def creation_after_path(creation, filename):
    return f"creations/{creation.slug}/after.png"


class Creation(models.Model):
    """A visitor's result, submitted to the gallery; public only once approved."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    slug = models.SlugField(unique=True, default=_random_slug, editable=False, max_length=32)
    job = models.OneToOneField(
        "inpainting.InpaintJob", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="creation",
    )
    world = models.ForeignKey(
        "museum.World", null=True, blank=True, on_delete=models.SET_NULL, related_name="creations",
        verbose_name=_("world"),
    )
    before_image = models.ImageField(_("before"), upload_to=creation_before_path, max_length=255)
    after_image = models.ImageField(_("after"), upload_to=creation_after_path, max_length=255)
    # Where the after picture differs from the before picture and what to show of it
    # first (inpainting_core.framing.Frame.as_dict); the job's, or found from the pictures.
    frame = models.JSONField(_("frame of the change"), null=True, blank=True, editable=False)

    prompt_original = models.TextField(_("wish"))
    prompt_translated = models.TextField(_("translation"), blank=True)
    prompt_final = models.TextField(_("final prompt"), blank=True)
    engine = models.CharField(_("engine"), max_length=32)
    generation_settings = models.JSONField(_("settings"), default=dict, blank=True)

    title = models.CharField(_("title"), max_length=120, blank=True)
    visitor_name = models.CharField(_("first name"), max_length=60, blank=True)
    consent = models.BooleanField(
        _("consent to publish"), default=False,
        help_text=_("The visitor agreed that the creation and the name may be shown."),
    )

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    featured = models.BooleanField(_("featured"), default=False, db_index=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("moderated by"),
    )
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-featured", "-created_at"]
        verbose_name = _("creation")
        verbose_name_plural = _("creations")
        permissions = [("moderate_creation", _("Can approve, reject and feature creations"))]

    def __str__(self):
        return self.title or self.prompt_original[:60]

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.APPROVED


class RejectionReason(models.Model):
    """A reason curators give often when they reject a creation; offered first on the desk."""

    text = models.CharField(_("reason"), max_length=200, unique=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(
        _("offered"), default=True, help_text=_("Offered on the review desk.")
    )

    class Meta:
        ordering = ["order", "text"]
        verbose_name = _("reason for rejection")
        verbose_name_plural = _("reasons for rejection")

    def __str__(self):
        return self.text
