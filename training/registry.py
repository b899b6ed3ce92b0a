"""What the curators chose, for the engine and the kiosk: model, LoRA styles, offered styles.

The diffusers engine asks `registry_version()` before each job: one
primary-key read. Only when the number changed does it read the rest and
reload the pipeline or its adapters, so a curator's choice reaches every
worker process on its next job, without a restart and without a query per
step. Every save and delete of a DiffusionModel or StyleAdapter bumps the
version inside the same transaction, so a worker never sees a new version
with old choices.
"""

from __future__ import annotations

from django.db.models import F
from django.db.models.signals import post_delete, post_save

from inpainting_core.styles import STYLES
from training.models import DiffusionModel, RegistryState, StyleAdapter

# The plain style is the kiosk's default and never hidden.
ALWAYS_OFFERED = "none"


def registry_version() -> int:
    """A number that changes whenever the registry does (0 before the first change)."""
    version = (
        RegistryState.objects.filter(pk=RegistryState.SINGLETON_ID)
        .values_list("version", flat=True)
        .first()
    )
    return version or 0


def bump_version() -> None:
    updated = RegistryState.objects.filter(pk=RegistryState.SINGLETON_ID).update(
        version=F("version") + 1
    )
    if not updated:  # the migration's row is gone, e.g. after a test database flush
        RegistryState.objects.get_or_create(pk=RegistryState.SINGLETON_ID, defaults={"version": 1})


def active_model_source() -> str | None:
    """The active model's directory or hub id; None means "use settings.OLPE_MODEL"."""
    return DiffusionModel.objects.filter(active=True).values_list("source", flat=True).first()


def active_lora_styles() -> dict[str, str]:
    """Style key -> LoRA source, for the adapters offered in the kiosk."""
    offered = StyleAdapter.objects.filter(offered_in_kiosk=True, style__in=list(STYLES))
    return dict(offered.values_list("style", "source"))


def kiosk_styles() -> list[str]:
    """The style keys visitors may choose, in the order of inpainting_core.styles.STYLES.

    A style nobody registered an adapter for is a prompt template only and
    stays offered. A style with adapters is offered only while one of them is:
    registering a LoRA and not offering it yet hides that style until its
    adapter has been evaluated.
    """
    adapters = list(StyleAdapter.objects.values_list("style", "offered_in_kiosk"))
    registered = {style for style, _offered in adapters}
    offered = {style for style, is_offered in adapters if is_offered}
    return [
        key for key in STYLES if key == ALWAYS_OFFERED or key not in registered or key in offered
    ]


def _bump_on_change(sender, **kwargs) -> None:
    bump_version()


def connect_version_bumps(model) -> None:
    for signal in (post_save, post_delete):
        signal.connect(
            _bump_on_change,
            sender=model,
            dispatch_uid=f"training.registry.bump.{signal is post_save}.{model._meta.label}",
        )
