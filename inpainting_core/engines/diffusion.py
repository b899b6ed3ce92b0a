"""The own-model engine: the museum's Stable Diffusion inpainting fine-tune, or any
Stable Diffusion 1.x, 2.x or XL inpainting model a curator registers.

The pipeline is loaded once per process, on the first job (or when a worker
calls `load()` to warm up), and kept: loading takes seconds to minutes, a
generation a few seconds on a GPU. Jobs never download: the model must have
been fetched beforehand (`manage.py fetch_model`), and a missing model makes
the engine unavailable so the job layer can fall back to the classic engine.

The pipeline class comes from the model's model_index.json through diffusers'
AutoPipelineForInpainting: a Stable Diffusion (XL) inpainting pipeline for an
inpainting model or for a text-to-image one. Both kinds of checkpoint work: a
9-channel inpainting UNet (image and mask are inputs of every step) and a
4-channel text-to-image UNet (like the one the prototype's training produced),
which the pipeline inpaints by blending the known region back into the latents
after every step. What differs between the families (default size, text
encoders, latent preview, which LoRAs fit) is in inpainting_core.model_families.

Prompts fit the model's token limit before they get here (`prompt_budget()`,
counted with the model's own tokenizers), so the text encoders never cut one.
A model that ships a safety checker runs it on every picture when the
curators turn it on (the request's `safety_check`); a flagged picture fails the job.

`status()` must stay cheap because the web tier calls it for every page: it
looks at files and settings but imports neither torch nor diffusers.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import threading
import time
from pathlib import Path
from typing import Optional

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image

from inpainting_core import model_families, model_store
from inpainting_core.engines import LABELS, OWN_MODEL
from inpainting_core.generation import random_seed
from inpainting_core.model_families import ModelFamily
from inpainting_core.model_registry import model_registry
from inpainting_core.model_store import is_tiny_model
from inpainting_core.prompts import PromptBudget

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

# A linear map from the four latent channels to RGB in [-1, 1] (the family's):
# it stands in for the VAE decoder when all a visitor needs is to see the picture
# emerge, a matrix product per step instead of a decoder pass.
LATENT_RGB_FACTORS = model_families.SD_LATENT_RGB

SAFETY_FLAGGED = _(
    "The model's safety checker held this picture back. Please try another wish."
)
SAFETY_CHECKER_BROKEN = _(
    "The model's safety checker could not be loaded, so no picture is shown. "
    "Please tell the museum staff."
)
LORA_FAMILY_MISMATCH = _(
    "The style's LoRA was made for {lora}, but the model is {model}; "
    "the style was painted without it."
)


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


def latents_preview(latents, factors=LATENT_RGB_FACTORS) -> Image.Image:
    """A small RGB picture of the first latent in the batch, without the VAE."""
    import torch

    factors = torch.tensor(factors, device=latents.device, dtype=torch.float32)
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

    AutoPipelineForInpainting reads the class from model_index.json and picks
    its inpainting counterpart (StableDiffusionPipeline -> StableDiffusion-
    InpaintPipeline, StableDiffusionXLPipeline -> StableDiffusionXLInpaint-
    Pipeline), so a text-to-image directory loads too: the inpainting pipeline
    has the same components. The safety checker is never part of the pipeline
    (which would blacken flagged pictures silently); the engine runs it itself.
    float16 on a GPU halves memory and time; a CPU needs float32.
    """
    import torch
    from diffusers import AutoPipelineForInpainting

    on_gpu = device.startswith("cuda")
    family = model_families.family_of_model(path)
    options = {}
    if family.text_encoders == 1:  # SD 1/2 pipelines have the checker as a component
        options = {"safety_checker": None, "requires_safety_checker": False}
    pipeline = AutoPipelineForInpainting.from_pretrained(
        str(path),
        dtype=torch.float16 if on_gpu else torch.float32,
        variant=model_store.weights_variant(path),
        local_files_only=True,
        **options,
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
        self._loaded_path: Optional[Path] = None
        self._registry_version: Optional[int] = None
        self._family: Optional[ModelFamily] = None
        self._safety = None  # (path, checker, feature extractor) once loaded
        self._adapter_notes: dict[str, str] = {}

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

    def model_family(self) -> ModelFamily:
        """The family of the loaded model, or else of the configured one (from its files)."""
        if self._pipeline is not None and self._family is not None:
            return self._family
        location = model_store.locate(configured_model())
        if location.path is None:
            return model_families.DEFAULT_FAMILY
        return model_families.family_of_model(location.path)

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """OLPE_MODEL_RESOLUTION, or when it is 0 the family's own size (512, 768, 1024)."""
        resolution = int(settings.OLPE_MODEL_RESOLUTION) or self.model_family().default_size
        return fit_to_multiple(width, height, resolution, LATENT_MULTIPLE)

    def prompt_budget(self) -> Optional[PromptBudget]:
        """The configured model's token limit, counted with its own tokenizers.

        Reads only the tokenizer files (cached per model), no weights: the web
        tier calls it when a wish is submitted. None when the model is not here
        (its job will be painted by another engine).
        """
        location = model_store.locate(configured_model())
        if not location.found:
            return None
        try:
            return tokenizer_budget(location.path)
        except Exception:  # a broken tokenizer is the loader's problem, reported there
            logger.warning("Cannot read the tokenizers of %s", location.path, exc_info=True)
            return None

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
        self._loaded_path = location.path
        self._family = model_families.family_of_model(location.path)
        self._safety = None
        self._adapters.clear()
        self._failed_adapters.clear()
        self._adapter_notes.clear()
        logger.info(
            "Loaded %s (%s, %s, %d-channel UNet, scheduler %s) on %s in %.1f s",
            location.configured,
            self._family.key,
            type(pipeline).__name__,
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
            self._adapter_notes.clear()

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
            notes = self._apply_style(pipeline, request.style)
            seed = request.seed if request.seed is not None else random_seed()
            result = self._run(pipeline, request, seed, progress, should_cancel)
            if request.safety_check:
                self._check_safety(result)
        if result.size != request.image.size:
            result = result.resize(request.image.size, Image.Resampling.LANCZOS)
        return EngineResult(result, seed, notes)

    def _run(self, pipeline, request, seed, progress, should_cancel) -> Image.Image:
        import torch

        width, height = _run_size(*request.image.size)
        steps, strength = _denoising_schedule(request.steps, request.strength)
        prompts = {"prompt": request.prompt, "negative_prompt": request.negative_prompt or None}
        if hasattr(pipeline, "text_encoder_2"):
            # SDXL's second encoder reads the same text (both fit the budget).
            prompts.update(prompt_2=prompts["prompt"], negative_prompt_2=prompts["negative_prompt"])
        family = self._family or model_families.DEFAULT_FAMILY
        try:
            output = pipeline(
                **prompts,
                image=request.image.convert("RGB"),
                mask_image=request.mask.convert("L"),
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=request.guidance,
                strength=strength,
                generator=torch.Generator(device=self._device).manual_seed(seed),
                callback_on_step_end=_step_callback(progress, should_cancel, family.latent_rgb),
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

    def _apply_style(self, pipeline, style: str) -> tuple[str, ...]:
        """Activate the style's LoRA, or switch all adapters off for other styles.

        Returns notes for the visitor (a LoRA made for another model family).
        """
        sources = configured_lora_styles()
        if style in sources and self._ensure_adapter(pipeline, style, sources[style]):
            pipeline.enable_lora()
            pipeline.set_adapters([style])
        elif self._adapters:
            pipeline.disable_lora()
        note = self._adapter_notes.get(style) if style in sources else None
        return (note,) if note else ()

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
        made_for = model_families.lora_cross_attention_dim(source)
        model_width = pipeline.unet.config.cross_attention_dim
        if made_for is not None and made_for != model_width:
            # A LoRA of another family cannot fit this UNet's attention: say so, do not load.
            logger.warning("Style %r runs without its LoRA: %s is for text features %s wide, "
                           "the model's are %s", style, source, made_for, model_width)
            self._failed_adapters.add(style)
            self._adapter_notes[style] = format_lazy(
                LORA_FAMILY_MISMATCH,
                lora=model_families.describe_width(made_for),
                model=self._family.label if self._family else model_width,
            )
            return False
        try:
            pipeline.load_lora_weights(source, adapter_name=style, local_files_only=True)
        except Exception:  # a bad adapter must not fail the visitor's job
            logger.exception("Style %r runs without its LoRA: loading %s failed", style, source)
            self._failed_adapters.add(style)
            return False
        self._adapters.add(style)
        return True

    # --------------------------------------------------------------------------
    # Safety checker
    # --------------------------------------------------------------------------

    def _check_safety(self, image: Image.Image) -> None:
        """Run the model's own safety checker; a flagged picture fails the job.

        Only models that ship one (safety_checker/ and feature_extractor/ beside
        the UNet) have it; it is loaded on first use and kept with the model.
        """
        loaded = self._safety_checker()
        if loaded is None:
            return
        import numpy as np
        import torch

        checker, extractor = loaded
        features = extractor(images=[image], return_tensors="pt").pixel_values
        pixels = np.asarray(image, dtype=np.float32)[None] / 255.0
        with torch.no_grad():
            _images, flagged = checker(
                images=pixels, clip_input=features.to(self._device, checker.dtype)
            )
        if flagged and flagged[0]:
            logger.warning("The safety checker of %s flagged a picture", self._loaded_model)
            raise EngineError(SAFETY_FLAGGED)

    def _safety_checker(self):
        path = self._loaded_path
        if path is None or not model_store.ships_safety_checker(path):
            if path is not None:
                logger.info("Safety checks are on, but %s ships no safety checker", path)
            return None
        if self._safety is None or self._safety[0] != path:
            try:
                self._safety = (path, *load_safety_checker(path, self._device))
            except Exception as error:  # checks are on: without the checker, show nothing
                logger.exception("Loading the safety checker of %s failed", path)
                raise EngineError(SAFETY_CHECKER_BROKEN) from error
        return self._safety[1:]


def load_safety_checker(path, device: str = "cpu"):
    """The model's StableDiffusionSafetyChecker and its CLIP image processor."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPImageProcessor

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    checker = StableDiffusionSafetyChecker.from_pretrained(
        str(Path(path) / "safety_checker"), dtype=dtype, local_files_only=True
    ).to(device)
    checker.eval()
    extractor = CLIPImageProcessor.from_pretrained(
        str(Path(path) / "feature_extractor"), local_files_only=True
    )
    return checker, extractor


_TOKENIZER_FOLDERS = ("tokenizer", "tokenizer_2")


def tokenizer_budget(path) -> Optional[PromptBudget]:
    """The token budget of the model in `path`: its tokenizers, its family's limit."""
    index = Path(path) / model_store.MODEL_INDEX
    return _tokenizer_budget(str(path), index.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _tokenizer_budget(path: str, _stamp) -> Optional[PromptBudget]:
    from transformers import CLIPTokenizer

    tokenizers = [
        CLIPTokenizer.from_pretrained(str(Path(path) / folder), local_files_only=True)
        for folder in _TOKENIZER_FOLDERS
        if (Path(path) / folder).is_dir()
    ]
    if not tokenizers:
        return None
    family = model_families.family_of_model(path)
    limit = min([family.token_limit, *(t.model_max_length for t in tokenizers)])
    lock = threading.Lock()  # web requests share the tokenizers; a fast one is not reentrant

    def count(text: str) -> int:
        with lock:
            return max(len(t(text, truncation=False).input_ids) for t in tokenizers)

    return PromptBudget(limit, count)


def _step_callback(
    progress: Optional[ProgressCallback],
    should_cancel: Optional[CancelCheck],
    factors=LATENT_RGB_FACTORS,
):
    """Report each step (with a preview every few steps) and stop between steps on cancel.

    Raising Cancelled inside the callback unwinds the pipeline call; the
    pipeline resets its scheduler at the start of every call, so it stays usable.
    """

    def on_step_end(pipeline, index, timestep, tensors):
        step, total = index + 1, pipeline.num_timesteps
        if progress is not None:
            wants_preview = step % PREVIEW_EVERY == 0 or step == total
            preview = latents_preview(tensors["latents"], factors) if wants_preview else None
            progress(step, total, preview)
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
