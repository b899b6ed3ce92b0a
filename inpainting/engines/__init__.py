"""Engine registry: one instance of each engine per process.

Engines are created on first use and kept, so a worker loads a model once and
reuses it for every job. The modules are imported lazily: the web tier asks
for `statuses()` without importing torch.
"""

from __future__ import annotations

import importlib
import threading

from django.utils.translation import gettext_lazy as _

from .base import Engine, EngineError, EngineStatus, EngineUnavailable

ENGINE_CLASSES = {
    "classic": "inpainting.engines.classic.ClassicEngine",
    "diffusers": "inpainting.engines.diffusion.DiffusersEngine",
    "openai": "inpainting.engines.openai_images.OpenAIEngine",
}
ENGINE_NAMES = tuple(ENGINE_CLASSES)

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


__all__ = ["Engine", "EngineError", "EngineStatus", "EngineUnavailable", "get_engine", "statuses", "reset"]
