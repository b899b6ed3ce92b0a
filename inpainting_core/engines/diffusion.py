"""The own-model engine: the museum's Stable Diffusion inpainting fine-tune.

The pipeline is loaded once per process, on the first job (or when a worker
calls `load()` to warm up), and kept: loading takes seconds to minutes, a
generation a few seconds on a GPU. Jobs never download: the model must have
been fetched beforehand (`manage.py fetch_model`), and a missing model makes
the engine unavailable so the job layer can fall back to the classic engine.

Both kinds of checkpoint the project has work: a 9-channel inpainting UNet
(image and mask are inputs of every step) and the 4-channel text-to-image UNet
the prototype's training produced, which StableDiffusionInpaintPipeline
inpaints by blending the known region back into the latents after every step.

`status()` must stay cheap because the web tier calls it for every page: it
looks at files and settings but imports neither torch nor diffusers.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import secrets
import threading
import time
from pathlib import Path
from typing import Optional

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image

from inpainting_core import model_store
from inpainting_core.engines import LABELS, OWN_MODEL
from inpainting_core.model_store import is_tiny_model

from .base import (
    CancelCheck,
    Engine,
    EngineError,
    EngineRequest,
    EngineResult,
    EngineStatus,
    EngineUnavailable,
    ProgressCallback,
    check_cancel,
    fit_to_multiple,
)

logger = logging.getLogger(__name__)

# Scheduler setting -> diffusers class and the options that differ from the model's own config.
SCHEDULERS = {
    "dpmsolver++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "default": None,
}
PREVIEW_EVERY = 5
LATENT_MULTIPLE = 8
REQUIRED_PACKAGES = ("torch", "diffusers", "transformers")

# A linear map from the four Stable Diffusion latent channels to RGB in [-1, 1].
# It stands in for the VAE decoder when all a visitor needs is to see the picture
# emerge: a matrix product per step instead of a decoder pass.
LATENT_RGB_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


def model_registry():
    """The curators' registry (OLPE_MODEL_REGISTRY, e.g. "training.registry"), or None.

    It may name an active model and LoRA styles that override OLPE_MODEL and
    OLPE_LORA_STYLES, and it has a version number to check before each job.
    """
    path = settings.OLPE_MODEL_REGISTRY
    return importlib.import_module(path) if path else None


def configured_model() -> str:
    registry = model_registry()
    chosen = registry.active_model_source() if registry else None
    return chosen or str(settings.OLPE_MODEL)


def configured_lora_styles() -> dict[str, str]:
    styles = dict(settings.OLPE_LORA_STYLES or {})
    registry = model_registry()
    if registry:
        styles.update(registry.active_lora_styles())
    return styles


def configured_scheduler() -> str:
    return str(settings.OLPE_SCHEDULER).strip().lower()


def latents_preview(latents) -> Image.Image:
    """A small RGB picture of the first latent in the batch, without the VAE."""
    import torch

    factors = torch.tensor(LATENT_RGB_FACTORS, device=latents.device, dtype=torch.float32)
    rgb = torch.einsum("chw,cr->hwr", latents[0].float(), factors)
    pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).cpu().numpy()
    return Image.fromarray(pixels, "RGB")


def _run_size(width: int, height: int) -> tuple[int, int]:
    """The largest multiple-of-8 size within the crop; the pipeline refuses others."""
    return (
        max(LATENT_MULTIPLE, width // LATENT_MULTIPLE * LATENT_MULTIPLE),
        max(LATENT_MULTIPLE, height // LATENT_MULTIPLE * LATENT_MULTIPLE),
    )


def _denoising_schedule(steps: int, strength: float) -> tuple[int, float]:
    """Steps and strength the pipeline accepts: at least one step survives `strength`."""
    strength = min(max(float(strength), 0.01), 1.0)
    steps = max(int(steps), 1, math.ceil(1 / strength))
    return steps, strength


def load_inpaint_pipeline(path, device: str = "cpu"):
    """Load a local pipeline directory as an inpainting pipeline, without network.

    Any Stable Diffusion directory loads, also a text-to-image one: the
    inpainting pipeline has the same components. float16 on a GPU halves memory
    and time; a CPU needs float32.
    """
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    on_gpu = device.startswith("cuda")
    pipeline = StableDiffusionInpaintPipeline.from_pretrained(
        str(path),
        dtype=torch.float16 if on_gpu else torch.float32,
        variant=model_store.weights_variant(path),
        safety_checker=None,
        requires_safety_checker=False,
        local_files_only=True,
    )
    pipeline.to(device)
    if on_gpu:
        # Convolutions in float16 run faster on tensor cores in NHWC layout.
        pipeline.unet.to(memory_format=torch.channels_last)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


class DiffusersEngine(Engine):
    name = OWN_MODEL
    label = LABELS[OWN_MODEL]

    def __init__(self):
        # One pipeline per process, shared by every thread: loading and running
        # both happen under this lock, since a pipeline's scheduler holds state.
        self._lock = threading.RLock()
        self._pipeline = None
        self._device = "cpu"
        self._load_failure: Optional[tuple[tuple, str]] = None
        self._adapters: set[str] = set()
        self._failed_adapters: set[str] = set()
        self._loaded_model: Optional[str] = None
        self._registry_version: Optional[int] = None

    # --------------------------------------------------------------------------
    # Status
    # --------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    @property
    def loaded_model(self) -> Optional[str]:
        """The model this process runs (the registry's choice may differ from OLPE_MODEL)."""
        return self._loaded_model if self.loaded else None

    def status(self) -> EngineStatus:
        problem = self._problem()
        return self._unusable(problem) if problem else self._usable()

    def _problem(self) -> str:
        """Why the engine cannot run now, or "" (settings and files only, no imports)."""
        if self._pipeline is not None:
            return ""
        for package in REQUIRED_PACKAGES:
            if importlib.util.find_spec(package) is None:
                return str(
                    _("The Python package %(package)s is not installed.") % {"package": package}
                )
        if configured_scheduler() not in SCHEDULERS:
            return str(
                _("Unknown scheduler “%(name)s” (OLPE_SCHEDULER); choose one of %(choices)s.")
                % {"name": configured_scheduler(), "choices": ", ".join(SCHEDULERS)}
            )
        location = model_store.locate(configured_model())
        if not location.found:
            return location.problem
        if is_tiny_model(location.path) and not settings.OLPE_ALLOW_TINY_MODEL:
            return str(
                _(
                    "The model in %(path)s is a miniature test model with random weights; "
                    "it is not offered to visitors."
                )
                % {"path": location.path}
            )
        if self._load_failure and self._load_failure[0] == _fingerprint(location.path):
            return self._load_failure[1]
        return ""

    # --------------------------------------------------------------------------
    # Loading
    # --------------------------------------------------------------------------

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        resolution = int(settings.OLPE_MODEL_RESOLUTION)
        return fit_to_multiple(width, height, resolution, LATENT_MULTIPLE)

    def load(self):
        """Load the pipeline now (idempotent); raises EngineUnavailable with the reason."""
        with self._lock:
            if self._pipeline is None:
                self._pipeline = self._load_pipeline()
            return self._pipeline

    def _load_pipeline(self):
        problem = self._problem()
        if problem:
            raise EngineUnavailable(problem)
        location = model_store.locate(configured_model())
        started = time.perf_counter()
        try:
            pipeline = self._build_pipeline(location.path)
        except Exception as error:  # any broken checkpoint must end in a fallback, not a crash
            logger.exception("Loading the model from %s failed", location.path)
            reason = str(_("The model could not be loaded: %(error)s") % {"error": error})
            self._load_failure = (_fingerprint(location.path), reason)
            raise EngineUnavailable(reason) from error
        self._load_failure = None
        self._loaded_model = location.configured
        self._adapters.clear()
        self._failed_adapters.clear()
        logger.info(
            "Loaded %s (%d-channel UNet, scheduler %s) on %s in %.1f s",
            location.configured,
            pipeline.unet.config.in_channels,
            type(pipeline.scheduler).__name__,
            self._device,
            time.perf_counter() - started,
        )
        return pipeline

    def _build_pipeline(self, path):
        import torch

        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        pipeline = load_inpaint_pipeline(path, self._device)
        pipeline.scheduler = self._make_scheduler(pipeline.scheduler)
        return pipeline

    @staticmethod
    def _make_scheduler(model_scheduler):
        choice = SCHEDULERS[configured_scheduler()]
        if choice is None:
            return model_scheduler
        import diffusers

        class_name, overrides = choice
        scheduler_class = getattr(diffusers, class_name)
        return scheduler_class.from_config(model_scheduler.config, **overrides)

    def _follow_registry(self) -> None:
        """Take up a curator's new model or styles before a job, without a restart.

        One cheap query per job; only a changed version costs more: a reload
        when the model changed, else fresh adapters on their next use.
        """
        registry = model_registry()
        if registry is None:
            return
        version = registry.registry_version()
        if version == self._registry_version:
            return
        self._registry_version = version
        if self._pipeline is None:
            return
        if configured_model() != self._loaded_model:
            logger.info("The curators chose another model; reloading")
            self._pipeline = None
            _free_gpu_memory()
        elif self._adapters or self._failed_adapters:
            self._pipeline.unload_lora_weights()
            self._adapters.clear()
            self._failed_adapters.clear()

    # --------------------------------------------------------------------------
    # Generating
    # --------------------------------------------------------------------------

    def inpaint(
        self,
        request: EngineRequest,
        progress: Optional[ProgressCallback] = None,
        should_cancel: Optional[CancelCheck] = None,
    ) -> EngineResult:
        with self._lock:
            self._follow_registry()
            pipeline = self.load()
            check_cancel(should_cancel)
            self._apply_style(pipeline, request.style)
            seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
            result = self._run(pipeline, request, seed, progress, should_cancel)
        if result.size != request.image.size:
            result = result.resize(request.image.size, Image.Resampling.LANCZOS)
        return EngineResult(result, seed)

    def _run(self, pipeline, request, seed, progress, should_cancel) -> Image.Image:
        import torch

        width, height = _run_size(*request.image.size)
        steps, strength = _denoising_schedule(request.steps, request.strength)
        try:
            output = pipeline(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                image=request.image.convert("RGB"),
                mask_image=request.mask.convert("L"),
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=request.guidance,
                strength=strength,
                generator=torch.Generator(device=self._device).manual_seed(seed),
                callback_on_step_end=_step_callback(progress, should_cancel),
                callback_on_step_end_tensor_inputs=["latents"],
            )
        except torch.cuda.OutOfMemoryError as error:
            torch.cuda.empty_cache()
            raise EngineError(
                _("The graphics card ran out of memory. Please try again in a moment."),
                retryable=True,
            ) from error
        return output.images[0].convert("RGB")

    # --------------------------------------------------------------------------
    # Style adapters (LoRA)
    # --------------------------------------------------------------------------

    def _apply_style(self, pipeline, style: str) -> None:
        """Activate the style's LoRA, or switch all adapters off for other styles."""
        sources = configured_lora_styles()
        if style in sources and self._ensure_adapter(pipeline, style, sources[style]):
            pipeline.enable_lora()
            pipeline.set_adapters([style])
        elif self._adapters:
            pipeline.disable_lora()

    def _ensure_adapter(self, pipeline, style: str, configured: str) -> bool:
        """Load a style's LoRA once; a missing or broken one only costs the style its look."""
        if style in self._adapters:
            return True
        if style in self._failed_adapters:
            return False
        if importlib.util.find_spec("peft") is None:
            logger.warning(
                "Style %r runs without its LoRA: the peft package is not installed", style
            )
            self._failed_adapters.add(style)
            return False
        source = model_store.adapter_source(configured)
        try:
            pipeline.load_lora_weights(source, adapter_name=style, local_files_only=True)
        except Exception:  # a bad adapter must not fail the visitor's job
            logger.exception("Style %r runs without its LoRA: loading %s failed", style, source)
            self._failed_adapters.add(style)
            return False
        self._adapters.add(style)
        return True


def _step_callback(progress: Optional[ProgressCallback], should_cancel: Optional[CancelCheck]):
    """Report each step (with a preview every few steps) and stop between steps on cancel.

    Raising Cancelled inside the callback unwinds the pipeline call; the
    pipeline resets its scheduler at the start of every call, so it stays usable.
    """

    def on_step_end(pipeline, index, timestep, tensors):
        step, total = index + 1, pipeline.num_timesteps
        if progress is not None:
            wants_preview = step % PREVIEW_EVERY == 0 or step == total
            progress(step, total, latents_preview(tensors["latents"]) if wants_preview else None)
        check_cancel(should_cancel)
        return tensors

    return on_step_end


def _free_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _fingerprint(path) -> tuple:
    """Identifies the model files a load failure belongs to; a re-fetch changes it."""
    index = Path(path) / model_store.MODEL_INDEX
    try:
        return (str(path), index.stat().st_mtime_ns)
    except OSError:
        return (str(path), None)
