"""The map's ground resolution for the classic engine: metres per pixel.

The procedural painters were made for the synthetic demo map (`tooling.demo`):
its house plots are 22 px apart and its houses 12-20 px long, which are 10-15 m
houses at about REFERENCE_METRES_PER_PIXEL. On a map with another resolution
a painter paints at the reference scale and the picture is resized, so a tree
crown, a house or a ripple keeps its size in metres (`paint_at_scale`).

When a World does not know its resolution, it is estimated from the size of the
map's red and brown roofs (`estimate_scale`): houses are the commonest thing of
known size on a town map, and they are easy to find by colour. A colour mask
finds the sunlit part of a roof, or pieces of it, more often than the whole
roof, so the roof area is calibrated on the real town maps of ../shared/maps
(Olpe 1.5 m, Zurich 0.5 m, the village 0.5 m; ROOF_CALIBRATION). Measured with
benchmarks/land_cover.py (issue 25): calibrated on two of those maps and tried
on the third, the estimate is within a factor of 1.65 of the known scale; the
demo map's synthetic roofs are whole and read finer. Maps without roofs
(forest, snow) get no estimate: the engine says what it assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

# The demo map's resolution, which the painters' sizes are tuned for.
REFERENCE_METRES_PER_PIXEL = 0.8
# The 90th percentile of red roof areas on the demo map (px², measured at 1536x1024).
REFERENCE_ROOF_AREA_PX = 305.0
MIN_ROOFS = 15  # fewer red roofs than this: no estimate
SURE_ROOFS = 100  # this many roofs or more: the estimate is as good as measured on the town maps
# Known scale over the uncalibrated roof estimate on the shared town maps (olpe 1/2.34, zurich
# 1/3.25, village 1/4.47): their geometric mean. Each map estimated with the other two's mean is
# off by 0.61x (Olpe), 1.00x (Zurich), 1.62x (village).
ROOF_CALIBRATION = 1 / 3.26
# How far the estimate may be from the truth: the worst measured on the town maps and their
# 0.5x and 2x copies (1.83x, the village at 2x), and wider with few roofs.
SURE_FACTOR, UNSURE_FACTOR = 1.9, 2.5
ROOF_PERCENTILE = 90  # large roofs: small ones are often only a sunlit half, a shed or noise
MIN_METRES_PER_PIXEL, MAX_METRES_PER_PIXEL = 0.03, 10.0
MAX_PAINTING_SIDE = 1536  # a painter never paints more than this per side (time)


def roof_mask(rgb: np.ndarray) -> np.ndarray:
    """Red and brown tiled roofs: reddish hue, saturated, neither black nor white."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = rgb[..., 0].astype(np.int16)
    green = rgb[..., 1].astype(np.int16)
    return ((hue < 12) | (hue > 165)) & (sat > 50) & (val > 60) & (val < 230) & (red > green + 15)


def estimate_metres_per_pixel(rgb: np.ndarray) -> Optional[float]:
    """Metres per pixel from the size of the map's roofs; None when it shows too few."""
    estimate = estimate_scale(rgb)
    return None if estimate is None else estimate.metres_per_pixel


def _roof_areas(rgb: np.ndarray) -> np.ndarray:
    from inpainting_core.engines.classic.reading import compact_parts

    roofs = roof_mask(rgb)
    _count, _labels, stats, _centres = cv2.connectedComponentsWithStats(
        (roofs & compact_parts(roofs)).astype(np.uint8), connectivity=4
    )
    areas = stats[1:, cv2.CC_STAT_AREA]
    return areas[areas >= 4]  # single pixels are noise, not roofs


def roof_share(rgb: np.ndarray) -> float:
    """The share of a picture's pixels on compact red or brown roofs (no red-drawn roads)."""
    from inpainting_core.engines.classic.reading import compact_parts

    roofs = roof_mask(rgb)
    return float((roofs & compact_parts(roofs)).mean()) if roofs.any() else 0.0


def zoom_for(metres_per_pixel: float) -> float:
    """Pixels of this picture per pixel of the reference (demo) map: 2 = things twice as big."""
    return REFERENCE_METRES_PER_PIXEL / metres_per_pixel


def paint_at_scale(
    painter: Callable[[np.random.Generator, tuple[int, int]], np.ndarray],
    rng: np.random.Generator,
    shape: tuple[int, int],
    zoom: float,
) -> np.ndarray:
    """Run `painter` at the reference scale and resize to `shape`: sizes follow the map.

    With zoom < 1 (a coarser map) the painter paints a larger picture that is
    shrunk (capped at MAX_PAINTING_SIDE per side for speed), with zoom > 1 a
    smaller one that is enlarged.
    """
    height, width = shape
    if abs(zoom - 1.0) < 0.05:
        return painter(rng, shape)
    limit = MAX_PAINTING_SIDE / max(height, width)
    factor = min(1.0 / zoom, max(1.0, limit))
    size = (max(8, round(height * factor)), max(8, round(width * factor)))
    painted = painter(rng, size).astype(np.float32)
    interpolation = cv2.INTER_AREA if factor > 1 else cv2.INTER_CUBIC
    return cv2.resize(painted, (width, height), interpolation=interpolation)


@dataclass(frozen=True)
class ScaleEstimate:
    """An estimated scale, how sure it is, and what it was measured from.

    `within` is the factor the truth is expected within (measured on the shared
    town maps); `confidence` says the same in a word: "medium" (SURE_FACTOR,
    many roofs) or "low" (UNSURE_FACTOR, few roofs).
    """

    metres_per_pixel: float
    confidence: str
    source: str
    within: float = UNSURE_FACTOR
    count: int = 0


def estimate_scale(rgb: np.ndarray) -> Optional[ScaleEstimate]:
    """The scale from the map's roofs (see the module doc), or None when it shows fewer than MIN_ROOFS."""
    areas = _roof_areas(rgb)
    if areas.size < MIN_ROOFS:
        return None
    typical = float(np.percentile(areas, ROOF_PERCENTILE))
    mpp = REFERENCE_METRES_PER_PIXEL * math.sqrt(REFERENCE_ROOF_AREA_PX / typical) * ROOF_CALIBRATION
    mpp = float(np.clip(mpp, MIN_METRES_PER_PIXEL, MAX_METRES_PER_PIXEL))
    sure = areas.size >= SURE_ROOFS
    return ScaleEstimate(mpp, "medium" if sure else "low", "roofs",
                         SURE_FACTOR if sure else UNSURE_FACTOR, int(areas.size))
