"""The curators' model registry, as the diffusers engine sees it: handed down, never imported.

Curators choose the model and LoRA styles in the admin (`training`, a layer far
above the core). The engine only needs three answers, so the core says which
(`ModelRegistry`) and the layer that owns the registry hands it over once, when
Django starts (`training.apps.TrainingConfig.ready` calls `use_model_registry`).
Processes without it (the `inpaint` command outside Django's apps, an
evaluation pinned to one model) simply have none, and so does every process
with `OLPE_MODEL_REGISTRY` off: then only OLPE_MODEL and OLPE_LORA_STYLES count.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings


class ModelRegistry(Protocol):
    def registry_version(self) -> int:
        """A number that changes whenever a curator changes a model or style."""

    def active_model_source(self) -> str | None:
        """The model curators activated (a folder or a hub id), or None for OLPE_MODEL."""

    def active_lora_styles(self) -> dict[str, str]:
        """Style name → LoRA source, for the styles curators activated."""


_registry: ModelRegistry | None = None


def use_model_registry(registry: ModelRegistry | None) -> None:
    """Hand the engine the curators' registry (None takes it away)."""
    global _registry
    _registry = registry


def model_registry() -> ModelRegistry | None:
    """The registry handed over, while OLPE_MODEL_REGISTRY is on; else None."""
    return _registry if settings.OLPE_MODEL_REGISTRY else None
