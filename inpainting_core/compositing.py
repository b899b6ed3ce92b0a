"""Cut the painted region out for an engine, and put the engine's picture back.

Every engine shares this, so an engine only ever sees an RGB crop and an "L"
mask of the size it asked for (`plan_crop`, `crop_for_engine`). Only the
painted region may change: `composite` blends the engine's picture in with a
feathered edge, and every pixel farther than the feather band from the painted
region stays byte-identical to the original. Results are encoded anew as PNG,
in bands where that is faster (`result_png_bytes`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

from inpainting_core.masks import PAINTED, mask_bbox, resize_values
from inpainting_core.png_bands import BandedPNG

# Even a dab of paint gets this much of the map around it as context.
MIN_CROP_SIDE = 128
# Crops are never thinner than 1:2; engines trained on near-square pictures
# make poor use of a long sliver.
MAX_CROP_ASPECT = 2.0

TargetSize = Callable[[int, int], tuple[int, int]]


@dataclass(frozen=True)
class CropPlan:
    """Where the engine's picture comes from and at what size the engine paints it."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the map, x1 and y1 exclusive
    size: tuple[int, int]  # (width, height) the engine works at


def plan_crop(
    mask: np.ndarray,
    image_size: tuple[int, int],
    target_size: TargetSize,
    padding: int | None = None,
) -> CropPlan:
    """Choose the part of the map the engine sees.

    The painted region's bounding box plus `padding` (the engine needs to see
    what surrounds the region to continue it), at least MIN_CROP_SIDE a side
    and no thinner than 1:MAX_CROP_ASPECT, then widened or heightened to the
    aspect the engine works at, so the crop is not distorted. The box grows
    around the region and slides inwards where it meets the map's edge; only
    when the map itself is too small does it stay short of a size.
    """
    width, height = image_size
    if mask.shape != (height, width):
        raise ValueError(f"mask is {mask.shape[::-1]}, image is {image_size}; call fit_mask first")
    if padding is None:
        padding = settings.OLPE_CROP_PADDING
    x0, y0, x1, y1 = mask_bbox(mask)
    box = (
        max(0, x0 - padding),
        max(0, y0 - padding),
        min(width, x1 + padding),
        min(height, y1 + padding),
    )
    box_width, box_height = box[2] - box[0], box[3] - box[1]
    box = _grow(
        box,
        max(box_width, MIN_CROP_SIDE, math.ceil(box_height / MAX_CROP_ASPECT)),
        max(box_height, MIN_CROP_SIDE, math.ceil(box_width / MAX_CROP_ASPECT)),
        image_size,
    )
    box = _grow_to_engine_aspect(box, target_size, image_size)
    engine_width, engine_height = target_size(box[2] - box[0], box[3] - box[1])
    return CropPlan(box=box, size=(int(engine_width), int(engine_height)))


def _grow_to_engine_aspect(box, target_size: TargetSize, image_size) -> tuple[int, int, int, int]:
    box_width, box_height = box[2] - box[0], box[3] - box[1]
    engine_width, engine_height = target_size(box_width, box_height)
    wanted = engine_width / engine_height
    if box_width / box_height < wanted:
        return _grow(box, round(box_height * wanted), box_height, image_size)
    return _grow(box, box_width, round(box_width / wanted), image_size)


def _grow(box, width: int, height: int, image_size) -> tuple[int, int, int, int]:
    """Enlarge `box` to width × height (never shrink it), keeping it inside the map."""
    x0, x1 = _grow_span(box[0], box[2], width, image_size[0])
    y0, y1 = _grow_span(box[1], box[3], height, image_size[1])
    return x0, y0, x1, y1


def _grow_span(start: int, stop: int, length: int, limit: int) -> tuple[int, int]:
    length = min(max(length, stop - start), limit)
    start -= (length - (stop - start)) // 2
    start = min(max(start, 0), limit - length)
    return start, start + length


def crop_for_engine(
    image: Image.Image, mask: np.ndarray, plan: CropPlan
) -> tuple[Image.Image, Image.Image]:
    """The RGB crop and its "L" mask (255 = repaint, soft edges kept), both at plan.size."""
    crop = image.crop(plan.box)
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    if crop.size != plan.size:
        crop = crop.resize(plan.size, Image.Resampling.LANCZOS)
    region = _region(mask, plan.box)
    if crop.size != (region.shape[1], region.shape[0]):
        region = resize_values(region, plan.size)
    return crop, Image.fromarray(cv2.convertScaleAbs(region, alpha=255))


def _region(mask: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return mask[y0:y1, x0:x1]


# --- Compositing --------------------------------------------------------------------


def composite(
    original: Image.Image,
    generated: Image.Image,
    mask: np.ndarray,
    plan: CropPlan,
    feather: int | None = None,
) -> Image.Image:
    """Blend the engine's picture into the map, changing only the painted region.

    Pasting the whole crop back would shift colours around the region (the
    engine re-renders every pixel it gets); instead the picture is blended
    with an alpha that is 1 where the mask is painted (>= PAINTED), follows
    the mask's own soft values, and ramps linearly to 0 over `feather` pixels
    outside it, so the seam is invisible. Every pixel whose mask is 0 and that
    lies farther than `feather` pixels from the painted region keeps its exact
    bytes. `generated` should have plan.size; it is scaled to the box.
    """
    if feather is None:
        feather = settings.OLPE_FEATHER_PX
    original = original if original.mode == "RGB" else original.convert("RGB")
    x0, y0, x1, y1 = plan.box
    alpha = _blend_alpha(_region(mask, plan.box), feather)
    left, top, width, height = cv2.boundingRect(np.ascontiguousarray(alpha > 0).view(np.uint8))
    result = original.copy()
    if width == 0:
        return result
    patch = generated if generated.mode == "RGB" else generated.convert("RGB")
    if patch.size != (x1 - x0, y1 - y0):
        patch = patch.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    changed = (x0 + left, y0 + top, x0 + left + width, y0 + top + height)
    blended = _blend(
        np.asarray(original.crop(changed)),
        np.asarray(patch.crop((left, top, left + width, top + height))),
        alpha[top : top + height, left : left + width],
    )
    result.paste(Image.fromarray(blended), changed[:2])
    return result


def _blend_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """1 on the painted core, the mask's value on its soft edge, a ramp over `feather` px."""
    unpainted = np.ascontiguousarray(mask < PAINTED).view(np.uint8)
    alpha = cv2.distanceTransform(unpainted, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    alpha *= -1 / (feather + 1)
    alpha += 1
    np.maximum(alpha, mask, out=alpha)
    return np.clip(alpha, 0, 1, out=alpha)


def _blend(before: np.ndarray, after: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """before + (after - before) * alpha; exact where alpha is 0 (integers in float32)."""
    blended = after.astype(np.float32)
    blended -= before
    blended *= alpha[..., np.newaxis]
    blended += before
    np.rint(blended, out=blended)
    return np.clip(blended, 0, 255, out=blended).astype(np.uint8)


def to_png_bytes(image: Image.Image, compress_level: int | None = None) -> bytes:
    """Encode a picture as PNG, without metadata carried over from the upload.

    `compress_level` is zlib's (0-9; None: Pillow's default, 6). Results use
    OLPE_RESULT_PNG_LEVEL (`result_png_bytes`): a full-size map at level 6
    costs seconds, at level 1 a fifth of that, for a slightly larger file.
    """
    buffer = io.BytesIO()
    options = {} if compress_level is None else {"compress_level": compress_level}
    image.save(buffer, format="PNG", icc_profile=None, **options)
    return buffer.getvalue()


def result_png_bytes(image: Image.Image, painted_on=None) -> bytes:
    """A job's result as PNG at OLPE_RESULT_PNG_LEVEL (lossless: pixels as painted).

    RGB results are written in bands (`png_bands`), compressed in threads;
    `painted_on` is an optional (map pixels, `BandedPNG` of the map) pair of
    the map the result was painted on, whose unchanged bands are reused.
    """
    if image.mode != "RGB":
        return to_png_bytes(image, compress_level=settings.OLPE_RESULT_PNG_LEVEL)
    pixels = np.asarray(image)
    if painted_on is not None:
        original, bands = painted_on
        if original.shape == pixels.shape and bands.level == settings.OLPE_RESULT_PNG_LEVEL:
            return bands.encode_changed(original, pixels)
    return BandedPNG.of(pixels, level=settings.OLPE_RESULT_PNG_LEVEL).encode()
