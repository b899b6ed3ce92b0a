"""From a map, a painted mask and a wish to the repainted map.

This is the one path every caller shares (the `inpaint` command, the workers,
the legacy endpoint): validate the inputs, prepare the prompt, cut out the
painted region at the size the engine wants, let the engine fill it, and put
it back so that nothing outside the painted region changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from django.conf import settings
from PIL import Image

from inpainting_core import compositing, imaging, masks
from inpainting_core.engines import CLASSIC, get_engine
from inpainting_core.engines.base import CancelCheck, EngineRequest, ProgressCallback
from inpainting_core.framing import Frame, find_frame
from inpainting_core.generation import GenerationSettings
from inpainting_core.prompts import PreparedPrompt, compose_prompt, prepare_prompt


@dataclass
class GenerationResult:
    image: Image.Image
    prompt: PreparedPrompt
    engine: str
    seed: Optional[int]
    crop_box: tuple[int, int, int, int]
    seconds: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # the engine's notes for the visitor
    frame: Optional[Frame] = None  # where the map changed, and what to show first


def load_inputs(image_source, mask_source) -> tuple[Image.Image, np.ndarray]:
    """Decode and check map and mask; raises imaging.ImageProblem with a readable reason.

    Both must be at least OLPE_MIN_IMAGE_SIDE pixels a side (checked from the
    header, before decoding), the smallest map every engine can paint.
    """
    min_side = imaging.min_image_side()
    image = imaging.open_image(image_source, min_side=min_side)
    mask = masks.normalise_mask(imaging.open_mask(mask_source, min_side=min_side))
    mask = masks.fit_mask(mask, image.size)
    masks.mask_bbox(mask)  # an empty mask is an error before any engine runs
    return image, mask


def load_mask(mask_source, image_size: tuple[int, int], *, max_pixels: int | None = None,
              fit: bool = True, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Decode, normalise and check a mask for a map of `image_size` (width, height).

    For a map known only from its header (an upload stored as it came, a
    World's map): a mask of another aspect and an empty one are refused, as in
    `load_inputs`; with `fit` the mask is scaled to the map's size, without it
    (the web tier, which only checks and stores it) it keeps its own. The mask
    may have as many pixels as the map.

    With `box` (x, y, width, height of the map, checked by the caller), the
    mask covers only that region of the map (a wish on a huge map sends only
    what it painted, at the map's resolution): its aspect is the box's, and
    `fit` places it on an otherwise unpainted map-sized mask.
    """
    covered = (box[2], box[3]) if box is not None else image_size
    limit = max(settings.OLPE_MAX_IMAGE_PIXELS, covered[0] * covered[1])
    if max_pixels is not None:
        limit = max(limit, max_pixels)
    mask = masks.normalise_mask(
        imaging.open_mask(mask_source, max_pixels=limit, min_side=imaging.min_image_side())
    )
    if box is not None:
        masks.check_mask_fits(mask, covered)
        if fit:
            mask = masks.mask_over(mask, box, (0, 0, *image_size))
    elif fit:
        mask = masks.fit_mask(mask, image_size)
    else:
        masks.check_mask_fits(mask, image_size)
    masks.mask_bbox(mask)  # an empty mask is an error before any engine runs
    return mask


def generate(
    image: Image.Image,
    mask: np.ndarray,
    wish: str,
    generation: GenerationSettings,
    progress: Optional[ProgressCallback] = None,
    should_cancel: Optional[CancelCheck] = None,
    prompt: Optional[PreparedPrompt] = None,
    *,
    padding: Optional[int] = None,
    feather: Optional[int] = None,
    safety_check: bool = False,
    metres_per_pixel: Optional[float] = None,
    map_kind: str = "",
) -> GenerationResult:
    """Repaint the masked region of `image`; the caller has already chosen a usable engine.

    `generation.engine` None paints with the classic engine. `padding` and
    `feather` override OLPE_CROP_PADDING and OLPE_FEATHER_PX (tests, tools).
    `metres_per_pixel` and `map_kind` describe the map (its World's ground
    resolution and kind); the classic engine sizes and styles what it paints by them.
    `safety_check` runs the model's safety checker (the curators' choice).

    The prompt fits the engine's token budget: a wish is prepared within it,
    and a stored prompt that no longer fits (the curators changed the model
    since it was submitted) is composed again from its translation, its wish
    shortened with a note if need be. The result's `prompt` is what was sent.
    """
    timings = {}
    started = time.perf_counter()
    engine_name = generation.engine or CLASSIC
    engine = get_engine(engine_name)
    budget = engine.prompt_budget()
    if prompt is None:
        prompt = prepare_prompt(wish, generation.style, budget, shorten=True)
    elif budget is not None and not (budget.fits(prompt.final) and budget.fits(prompt.negative)):
        prompt = compose_prompt(prompt.original, prompt.translated, prompt.translation_source,
                                prompt.style, budget, shorten=True)
    timings["prompt"] = time.perf_counter() - started

    plan = compositing.plan_crop(mask, image.size, engine.target_size, padding=padding)
    crop, crop_mask = compositing.crop_for_engine(image, mask, plan)
    request = EngineRequest(
        image=crop,
        mask=crop_mask,
        prompt=prompt.final,
        negative_prompt=prompt.negative,
        land_covers=prompt.land_covers,
        style=prompt.style,
        steps=generation.steps or settings.OLPE_STEPS,
        guidance=generation.guidance if generation.guidance is not None else settings.OLPE_GUIDANCE,
        strength=generation.strength if generation.strength is not None else settings.OLPE_STRENGTH,
        seed=generation.seed,
        context=image,
        crop_box=plan.box,
        safety_check=safety_check,
        metres_per_pixel=metres_per_pixel,
        map_kind=map_kind,
        subject=prompt.subject,
        wish=prompt.original,
    )
    timings["prepare"] = time.perf_counter() - started - timings["prompt"]

    engine_started = time.perf_counter()
    painted = engine.inpaint(request, progress=progress, should_cancel=should_cancel)
    timings["engine"] = time.perf_counter() - engine_started

    composite_started = time.perf_counter()
    result = compositing.composite(image, painted.image, mask, plan, feather=feather)
    timings["composite"] = time.perf_counter() - composite_started
    frame_started = time.perf_counter()
    # Nothing outside the engine's box changes, so only it is compared.
    frame = find_frame(image, result, mask, within=plan.box)
    timings["frame"] = time.perf_counter() - frame_started
    return GenerationResult(
        image=result,
        prompt=prompt,
        engine=engine_name,
        # The seed the engine painted with, also one it picked: a result can be made again.
        seed=painted.seed if painted.seed is not None else generation.seed,
        crop_box=plan.box,
        seconds=timings,
        notes=(*prompt.notes, *painted.notes),
        frame=frame,
    )
