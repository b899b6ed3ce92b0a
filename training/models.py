"""The curators' registry of the museum's own models and style adapters.

Training produces model directories and LoRA files; curators decide here which
model visitors get and which styles the kiosk offers. The diffusers engine
reads these choices through `training.registry` before every job, so a change
reaches every worker without a restart (`RegistryState.version` tells them
that something changed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from inpainting_core import model_families, model_store
from inpainting_core.styles import STYLES, style_choices

UNET_CONFIG = Path("unet") / "config.json"


def evaluation_grid_path(instance, filename: str) -> str:
    kind = instance._meta.model_name
    return f"training/evaluations/{kind}/{slugify(str(instance))[:60] or 'unnamed'}/{filename}"


def validate_source(value: str) -> None:
    """A source must mean the same in every process: an absolute path or a hub id.

    A relative path would depend on the directory each worker was started in.
    """
    value = value.strip()
    if model_store.is_hub_id(value) and not value.startswith("."):
        return
    if Path(value).expanduser().is_absolute():
        return
    raise ValidationError(
        _("Give an absolute directory (e.g. /srv/olpe/models/olpe-v2) or a hub id (owner/name).")
    )


def unet_in_channels(source: str) -> Optional[int]:
    """The UNet's input channels of a model present on this computer, or None if unknown."""
    location = model_store.locate(source)
    if not location.found:
        return None
    try:
        config = json.loads((location.path / UNET_CONFIG).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    channels = config.get("in_channels")
    return channels if isinstance(channels, int) else None


def model_family(source: str) -> Optional[model_families.ModelFamily]:
    """The family (SD 1.x, 2.x, XL) of a model present on this computer, else None.

    Derived from the model's files (model_index.json, unet/config.json), not
    stored: it is a fact of the files, and it follows a re-fetched model.
    """
    location = model_store.locate(source)
    return model_families.family_of_model(location.path) if location.found else None


def model_text_width(source: str) -> Optional[int]:
    """The width of the text features the UNet of a model present here attends to."""
    location = model_store.locate(source)
    return model_families.unet_cross_attention_dim(location.path) if location.found else None


def adapter_text_width(source: str) -> Optional[int]:
    """The text-feature width a LoRA present here was made for (its family's), else None."""
    return model_families.lora_cross_attention_dim(model_store.adapter_source(source))


class DiffusionModel(models.Model):
    """A Stable Diffusion checkpoint the diffusers engine can run; at most one is active.

    With no active model the engine uses settings.OLPE_MODEL, so an empty
    registry changes nothing.
    """

    class Kind(models.TextChoices):
        INPAINT9 = "inpaint9", _("inpainting model (9-channel UNet)")
        TEXT2IMAGE4 = "text2image4", _("text-to-image model (4-channel UNet)")

    KIND_CHANNELS = {Kind.INPAINT9: 9, Kind.TEXT2IMAGE4: 4}

    name = models.CharField(_("name"), max_length=100, unique=True)
    source = models.CharField(
        _("source"),
        max_length=500,
        validators=[validate_source],
        help_text=_(
            "The model directory on the computers that generate pictures, or a Hugging Face "
            "hub id fetched there with manage.py fetch_model."
        ),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.INPAINT9)
    notes = models.TextField(_("notes"), blank=True)
    evaluation_grid = models.ImageField(
        _("evaluation grid"),
        upload_to=evaluation_grid_path,
        blank=True,
        max_length=255,
        help_text=_("Written by manage.py evaluate_model --save-to-registry."),
    )
    active = models.BooleanField(
        _("active"), default=False, help_text=_("Visitors' pictures are painted by this model.")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("diffusion model")
        verbose_name_plural = _("diffusion models")
        ordering = ["-active", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="training_one_active_model"
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.source = self.source.strip()
        expected = self.KIND_CHANNELS.get(self.kind)
        channels = unet_in_channels(self.source) if expected else None
        if channels is not None and channels != expected:
            raise ValidationError(
                {
                    "kind": _(
                        "The model in %(source)s has a %(channels)d-channel UNet, "
                        "so its kind is “%(kind)s”."
                    )
                    % {
                        "source": self.source,
                        "channels": channels,
                        "kind": self.kind_for_channels(channels).label,
                    }
                }
            )

    @classmethod
    def kind_for_channels(cls, channels: int) -> "DiffusionModel.Kind":
        return cls.Kind.INPAINT9 if channels == 9 else cls.Kind.TEXT2IMAGE4

    def save(self, *args, **kwargs):
        # Switching is one transaction: other processes see the old or the new
        # active model, never two or a moment with none.
        with transaction.atomic():
            if self.active:
                DiffusionModel.objects.filter(active=True).exclude(pk=self.pk).update(active=False)
            super().save(*args, **kwargs)


class StyleAdapter(models.Model):
    """A LoRA that gives one of the prompt styles (inpainting_core.styles.STYLES) its look.

    Several adapters may be registered for a style, to compare them; at most
    one per style is offered in the kiosk.
    """

    style = models.CharField(_("style"), max_length=32, choices=style_choices)
    source = models.CharField(
        _("source"),
        max_length=500,
        validators=[validate_source],
        help_text=_(
            "The LoRA directory (or .safetensors file) on the computers that generate "
            "pictures, or a Hugging Face hub id."
        ),
    )
    notes = models.TextField(_("notes"), blank=True)
    offered_in_kiosk = models.BooleanField(
        _("offered in the kiosk"),
        default=False,
        help_text=_("Visitors can choose this style, painted with this adapter."),
    )
    evaluation_grid = models.ImageField(
        _("evaluation grid"),
        upload_to=evaluation_grid_path,
        blank=True,
        max_length=255,
        help_text=_("Written by manage.py evaluate_model --save-to-registry."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("style adapter")
        verbose_name_plural = _("style adapters")
        ordering = ["style", "-offered_in_kiosk", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["style"],
                condition=Q(offered_in_kiosk=True),
                name="training_one_offered_adapter_per_style",
            )
        ]

    def __str__(self):
        return f"{self.style_label}: {Path(self.source).name or self.source}"

    @property
    def style_label(self) -> str:
        style = STYLES.get(self.style)
        return str(style.label) if style else self.style

    def clean(self):
        self.source = self.source.strip()

    def save(self, *args, **kwargs):
        with transaction.atomic():
            if self.offered_in_kiosk:
                StyleAdapter.objects.filter(style=self.style, offered_in_kiosk=True).exclude(
                    pk=self.pk
                ).update(offered_in_kiosk=False)
            super().save(*args, **kwargs)


class RegistryState(models.Model):
    """One row whose version grows with every change to models or adapters.

    Workers compare it before each job (a primary-key read) instead of
    reloading the registry every time.
    """

    SINGLETON_ID = 1

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("registry state")
        default_permissions = ()

    def __str__(self):
        return f"registry version {self.version}"
