"""Engine registry: the one place that knows which engines exist.

It owns the engines' names (the constants below), their labels (translatable:
the long one visitors read in notices and the API, the short one curators pick
in the site settings), the order in which a job falls back from one engine to
the next, and one instance of each engine per process.

Engines are created on first use and kept, so a worker loads a model once and
reuses it for every job. The modules are imported lazily: the web tier asks
for `statuses()` without importing torch.
"""

from __future__ import annotations

import importlib
import threading
from typing import Optional

from django.utils.translation import gettext_lazy as _

from .base import Engine, EngineError, EngineStatus, EngineUnavailable

# --- names ---------------------------------------------------------------------------
CLASSIC = "classic"
OWN_MODEL = "diffusers"
OPENAI = "openai"

ENGINE_CLASSES = {
    CLASSIC: "inpainting_core.engines.classic.ClassicEngine",
    OWN_MODEL: "inpainting_core.engines.diffusion.DiffusersEngine",
    OPENAI: "inpainting_core.engines.openai_images.OpenAIEngine",
}
ENGINE_NAMES = tuple(ENGINE_CLASSES)

# --- labels ----------------------------------------------------------------------------
# What visitors read (notices, the API's engine list, the kiosk).
LABELS = {
    CLASSIC: _("Classic (offline)"),
    OWN_MODEL: _("Own model (Stable Diffusion)"),
    OPENAI: _("OpenAI image edit"),
}
# How curators name them in the site settings, and the gallery under a creation.
SHORT_LABELS = {
    OWN_MODEL: _("own model"),
    OPENAI: _("OpenAI"),
    CLASSIC: _("classic (offline)"),
}
# The site settings' choices, in the order curators see them.
CHOICES = [(name, label) for name, label in SHORT_LABELS.items()]


def label(name: str):
    """The visitors' label of engine `name` (lazy, translated when displayed)."""
    return LABELS[name]


def short_label(name: str) -> str:
    """The curators' name for engine `name`, or `name` itself for an unknown one."""
    return str(SHORT_LABELS.get(name, name))


# --- fallback order ------------------------------------------------------------------
# Most capable first: a job that cannot get its engine moves down, never up.
FALLBACK_ORDER = (OPENAI, OWN_MODEL, CLASSIC)
# Runs on every machine (no model, no network): the end of every chain.
LAST_RESORT = CLASSIC
# In the worker, only the own model falls back (its model may be missing on that
# machine); an OpenAI failure is the job's failure, not a reason to repaint.
_WORKER_FALLBACK = {OWN_MODEL: LAST_RESORT}


def fallback_chain(name: str) -> tuple[str, ...]:
    """The engines a new job for `name` may get, in the order they are tried."""
    if name not in FALLBACK_ORDER:
        return (name, LAST_RESORT)
    return FALLBACK_ORDER[FALLBACK_ORDER.index(name):]


def worker_fallback(name: str) -> Optional[str]:
    """The engine a worker paints with when `name` cannot run there, or None (the job fails)."""
    return _WORKER_FALLBACK.get(name)


# --- instances ------------------------------------------------------------------------
_instances: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(name: str) -> Engine:
    if name not in ENGINE_CLASSES:
        raise EngineUnavailable(_("Unknown engine “%(name)s”.") % {"name": name})
    with _lock:
        if name not in _instances:
            module_name, class_name = ENGINE_CLASSES[name].rsplit(".", 1)
            engine_class = getattr(importlib.import_module(module_name), class_name)
            _instances[name] = engine_class()
        return _instances[name]


def statuses() -> list[EngineStatus]:
    return [get_engine(name).status() for name in ENGINE_NAMES]


def reset() -> None:
    """Forget all engine instances (settings changed, e.g. in tests)."""
    with _lock:
        _instances.clear()


__all__ = [
    "CLASSIC", "OWN_MODEL", "OPENAI", "ENGINE_NAMES", "LABELS", "SHORT_LABELS", "CHOICES",
    "FALLBACK_ORDER", "LAST_RESORT", "label", "short_label", "fallback_chain", "worker_fallback",
    "Engine", "EngineError", "EngineStatus", "EngineUnavailable", "get_engine", "statuses", "reset",
]
