"""Masks: how strongly each pixel is painted, where, and whether it fits the map.

Masks arrive in many forms (canvas strokes on transparency, white on black,
coloured strokes on white); `normalise_mask` reads the form from the data and
answers float32 values in [0, 1]. The rest places a mask on its map: fitting
it to the map's size, a region's box on a huge map, the painted bounding box.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from django.utils.translation import gettext_lazy as _
from PIL import Image

from inpainting_core.imaging import ImageProblem, lazy_interpolate, standard_mode

# A mask value at or above this counts as painted (bounding box, feather core).
PAINTED = 0.5
# Mask levels (of 255) at or below this are compression noise, not paint.
NOISE_FLOOR = 16
# An opaque mask whose strongest mark differs less than this from its
# background has nothing painted on it (a blank canvas saved as JPEG).
MIN_PAINT_CONTRAST = 48


class EmptyMask(ImageProblem):
    """Nothing is painted: there is no region to repaint."""

    def __init__(self, message=None):
        super().__init__(
            message
            or _("Nothing is painted on the mask. Paint the region the wish should change."),
            code="empty_mask",
            field="mask",
        )


def normalise_mask(mask: Image.Image) -> np.ndarray:
    """Read how strongly each pixel is painted: float32 H×W in [0, 1], 1 = repaint.

    The form is read from the data, in this order:

    1. Paint on transparency (the kiosk's canvas strokes): when the alpha
       channel varies, alpha is the paint, whatever the stroke colour.
       A fully transparent mask has nothing painted.
    2. A single-channel mask (L, 1, 16-bit grey, or LA with opaque alpha)
       follows the usual convention: white = repaint, grey = partly.
    3. Any other opaque mask (RGB, opaque RGBA, palette): the background is
       black or white, whichever most of the outermost pixel frame is closest
       to; the paint is every pixel's distance from it (brightest channel on
       black, darkest channel on white), scaled so the strongest mark is 1.
       This reads white-on-black, coloured strokes on black, and coloured or
       black strokes on white alike, and an opaque white-on-black mask is no
       longer read as "repaint everything".

    Antialiased edges keep their in-between values. Levels within NOISE_FLOOR
    of the background are JPEG noise and count as unpainted, so that the rest
    of the map stays untouched. A uniform picture has no contrast to tell paint
    from background: black, white or transparent everywhere means nothing is
    painted (see mask_bbox); to ask for the whole map, send a white L mask.
    """
    mask = standard_mode(mask)
    if mask.mode == "CMYK":
        mask = mask.convert("RGB")
    if "A" in mask.getbands():
        alpha = np.asarray(mask.getchannel("A"))
        lowest, highest = cv2.minMaxLoc(alpha)[:2]
        if highest <= NOISE_FLOOR:
            return np.zeros(alpha.shape, np.float32)
        if highest - lowest > NOISE_FLOOR:
            return _ramp(alpha, 0, 255)
    if mask.mode in ("L", "LA"):
        return _ramp(np.asarray(mask.getchannel("L")), NOISE_FLOOR, 255)
    return _colour_paint(np.asarray(mask.convert("RGB")))


def _ramp(levels: np.ndarray, low: int, high: int) -> np.ndarray:
    """Map uint8 levels linearly so that `low` -> 0 and `high` -> 1, in one table lookup."""
    table = np.clip((np.arange(256, dtype=np.float32) - low) / (high - low), 0, 1)
    return cv2.LUT(levels, table)


def _colour_paint(rgb: np.ndarray) -> np.ndarray:
    red, green, blue = cv2.split(rgb)
    if _background_is_white(rgb):
        distance = cv2.bitwise_not(cv2.min(cv2.min(red, green), blue))
    else:
        distance = cv2.max(cv2.max(red, green), blue)
    contrast = int(cv2.minMaxLoc(distance)[1])
    if contrast < MIN_PAINT_CONTRAST:
        return np.zeros(distance.shape, np.float32)
    return _ramp(distance, NOISE_FLOOR, contrast)


def _background_is_white(rgb: np.ndarray) -> bool:
    """Whether more of the outermost pixel frame is light than dark."""
    frame = np.concatenate((rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]))
    light = np.count_nonzero(frame.min(axis=1) >= 128)
    dark = np.count_nonzero(frame.max(axis=1) < 128)
    return light > dark


def fit_mask(mask: np.ndarray, size: tuple[int, int], tolerance: float = 0.02) -> np.ndarray:
    """Scale a mask painted at another resolution of the same map to `size` (width, height).

    A canvas often shows the map smaller than it is; a mask of the same aspect
    (within `tolerance`) is scaled, any other is for a different picture.
    """
    check_mask_fits(mask, size, tolerance)
    if mask.shape == (size[1], size[0]):
        return mask
    return resize_values(mask, size)


def check_mask_fits(mask: np.ndarray, size: tuple[int, int], tolerance: float = 0.02) -> None:
    """Refuse a mask whose aspect is not the map's (`fit_mask` scales one that fits)."""
    width, height = size
    mask_height, mask_width = mask.shape
    if (mask_width, mask_height) == (width, height):
        return
    if abs((mask_width / mask_height) / (width / height) - 1) > tolerance:
        raise ImageProblem(
            lazy_interpolate(
                _(
                    "The mask is %(mask_width)s × %(mask_height)s pixels but the map is "
                    "%(width)s × %(height)s pixels. Please paint the mask on this map."
                ),
                {
                    "mask_width": mask_width,
                    "mask_height": mask_height,
                    "width": width,
                    "height": height,
                },
            ),
            code="size_mismatch",
            field="mask",
        )


def check_mask_box(box, map_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A mask's place on the map, (x, y, width, height) in the map's pixels, checked to lie
    inside the map; refused (ImageProblem on "mask_box") otherwise."""
    try:
        x, y, width, height = (int(value) for value in box)
    except (TypeError, ValueError) as error:
        raise _bad_box(map_size) from error
    if x < 0 or y < 0 or width < 1 or height < 1 or x + width > map_size[0] or (
            y + height > map_size[1]):
        raise _bad_box(map_size)
    return x, y, width, height


def _bad_box(map_size) -> ImageProblem:
    return ImageProblem(
        lazy_interpolate(
            _("The mask's place must be x,y,width,height inside the map of "
              "%(width)s × %(height)s pixels."),
            {"width": map_size[0], "height": map_size[1]},
        ),
        code="bad_box", field="mask_box",
    )


def painted_box(mask: np.ndarray, mask_box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The painted region's bounding box (x0, y0, x1, y1) in the map's pixels, for a mask
    (at its own resolution) that covers `mask_box` (x, y, width, height) of the map."""
    x0, y0, x1, y1 = mask_bbox(mask)
    bx, by, bw, bh = mask_box
    sx, sy = bw / mask.shape[1], bh / mask.shape[0]
    return (bx + math.floor(x0 * sx), by + math.floor(y0 * sy),
            bx + min(bw, math.ceil(x1 * sx)), by + min(bh, math.ceil(y1 * sy)))


def mask_over(mask: np.ndarray, mask_box: tuple[int, int, int, int],
              window: tuple[int, int, int, int]) -> np.ndarray:
    """The mask's values over `window` (x0, y0, x1, y1 of the map) at the map's resolution.

    The mask (floats, at its own resolution) covers `mask_box` (x, y, width,
    height) of the map; outside it nothing is painted. Only the part of the
    mask inside the window is scaled, so a wish on a huge map never makes a
    map-sized mask.
    """
    wx0, wy0, wx1, wy1 = window
    values = np.zeros((wy1 - wy0, wx1 - wx0), np.float32)
    bx, by, bw, bh = mask_box
    ix0, iy0, ix1, iy1 = max(wx0, bx), max(wy0, by), min(wx1, bx + bw), min(wy1, by + bh)
    if ix0 >= ix1 or iy0 >= iy1:
        return values
    sx, sy = mask.shape[1] / bw, mask.shape[0] / bh  # mask pixels per map pixel
    if sx <= 1 and sy <= 1:  # scaled up: each map pixel interpolates the mask at its centre
        shift = np.float32([[sx, 0, (ix0 - bx + 0.5) * sx - 0.5], [0, sy, (iy0 - by + 0.5) * sy - 0.5]])
        part = cv2.warpAffine(mask, shift, (ix1 - ix0, iy1 - iy0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    else:  # scaled down: area averaging keeps thin strokes
        crop = mask[math.floor((iy0 - by) * sy): math.ceil((iy1 - by) * sy),
                    math.floor((ix0 - bx) * sx): math.ceil((ix1 - bx) * sx)]
        part = cv2.resize(crop, (ix1 - ix0, iy1 - iy0), interpolation=cv2.INTER_AREA)
    values[iy0 - wy0: iy1 - wy0, ix0 - wx0: ix1 - wx0] = np.clip(part, 0, 1)
    return values


def resize_values(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float mask; area averaging when shrinking keeps thin strokes."""
    shrinking = values.shape[1] > size[0] or values.shape[0] > size[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(values, size, interpolation=interpolation)
    return np.clip(resized, 0, 1, out=resized)


def mask_bbox(mask: np.ndarray, threshold: float = PAINTED) -> tuple[int, int, int, int]:
    """The painted region's bounding box (x0, y0, x1, y1), x1 and y1 exclusive."""
    painted = np.ascontiguousarray(mask >= threshold).view(np.uint8)
    x, y, width, height = cv2.boundingRect(painted)
    if width == 0 or height == 0:
        raise EmptyMask()
    return x, y, x + width, y + height
