"""Where the sun stood when the map was photographed, read from the shadows already on it.

Painted buildings, towers and trees must cast their shadows the way the map's
own do. A cast shadow is the darkest thing on an aerial photo; at its far
end (away from the sun) it meets sunlit ground, at its near end the thing
that casts it (a crown, a wall), which is darker than sunlit ground. So the
brightness steps just outside the shadows are larger on their side away
from the sun: summed over the ring around every shadow, the brightness
gradient points away from the sun (`estimate_sun`). The sum's strength
against the sum of the steps' sizes says how sure that is.

How long shadows are (`Sun.shadow_factor`, metres of shadow per metre of
height) follows from how much longer the shadows are along the sun's
direction than across it; it is a rough figure, kept between a high summer
sun and a low winter one.

Checked on the shared maps against the shadows by eye (tests/test_classic_real_maps.py)
and on drawn scenes with a known sun, turned every way (the estimate turns with them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SHADOW_DARKNESS = 0.7  # a shadow is darker than this share of the brightness around it ...
SHADOW_PERCENTILE = 35  # ... and among the darkest third of the map
MIN_SHADOW_SHARE = 0.005  # fewer shadow pixels than this: no estimate
DEFAULT_AZIMUTH = -3 * math.pi / 4  # light from the upper left, as the demo map and the painters have it


@dataclass(frozen=True)
class Sun:
    """The sun's direction in the picture and how long its shadows fall.

    `azimuth` (radians) is the direction from a point towards the sun in the
    picture's coordinates (x to the right, y down): 0 the sun to the right,
    pi/2 below. Shadows fall the other way.
    """

    azimuth: float
    confidence: float  # 0 (a guess) to 1 (every shadow agrees)
    shadow_factor: float  # metres of shadow per metre of height

    @property
    def towards_shadow(self) -> tuple[float, float]:
        """Unit vector (dx, dy) in which shadows fall."""
        return -math.cos(self.azimuth), -math.sin(self.azimuth)

    def offset(self, height_m: float, mpp: float) -> tuple[float, float]:
        """How far (px: dx, dy) the shadow of something `height_m` tall reaches."""
        length = height_m * self.shadow_factor / mpp
        dx, dy = self.towards_shadow
        return dx * length, dy * length


DEFAULT_SUN = Sun(DEFAULT_AZIMUTH, 0.0, 0.8)


def shadow_mask(rgb: np.ndarray, mpp: float) -> tuple[np.ndarray, np.ndarray]:
    """Cast shadows (bool HxW) and the lightly blurred brightness they were found in."""
    grey = cv2.GaussianBlur(np.asarray(rgb, np.float32).mean(axis=2), (0, 0), 1.0)
    around = cv2.GaussianBlur(grey, (0, 0), max(3.0, 8.0 / mpp))
    shadows = (grey < SHADOW_DARKNESS * around) & (grey < np.percentile(grey, SHADOW_PERCENTILE))
    # an odd (symmetric) kernel: an even one shifts the mask and biases the direction
    shadows = cv2.morphologyEx(shadows.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    return shadows, grey


def estimate_sun(rgb: np.ndarray, mpp: float) -> Sun:
    """The sun's direction from the map's shadows (see the module doc); DEFAULT_SUN without shadows."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 16:
        return DEFAULT_SUN
    shadows, grey = shadow_mask(rgb, mpp)
    if shadows.mean() < MIN_SHADOW_SHARE:
        return DEFAULT_SUN
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    ring = (cv2.dilate(shadows.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~shadows
    vx, vy = float(gx[ring].sum()), float(gy[ring].sum())
    total = float(np.hypot(gx[ring], gy[ring]).sum()) + 1e-6
    confidence = math.hypot(vx, vy) / total
    azimuth = math.atan2(-vy, -vx)  # the steps point away from the sun
    return Sun(azimuth, confidence, _shadow_factor(shadows, azimuth))


def _shadow_factor(shadows: np.ndarray, azimuth: float) -> float:
    """How much longer shadows are along the sun's direction than across it, as a length factor.

    The mean run of shadow pixels along a line in the sun's direction against
    the same across it: about 1 for a high sun (round shadows under round
    crowns), larger for a low one. Mapped to 0.5-2.5 m of shadow per m of height.
    """
    along = _mean_run(shadows, azimuth)
    across = _mean_run(shadows, azimuth + math.pi / 2)
    if across <= 0:
        return DEFAULT_SUN.shadow_factor
    return float(np.clip(0.8 * along / across, 0.5, 2.5))


def _mean_run(mask: np.ndarray, angle: float) -> float:
    """The mean length (px) of runs of `mask` along lines at `angle`."""
    height, width = mask.shape
    centre = (width / 2, height / 2)
    rotation = cv2.getRotationMatrix2D(centre, math.degrees(angle), 1.0)
    turned = cv2.warpAffine(mask.astype(np.uint8), rotation, (width, height), flags=cv2.INTER_NEAREST)
    runs = np.count_nonzero(turned)
    starts = np.count_nonzero(turned[:, 1:] > turned[:, :-1]) + np.count_nonzero(turned[:, 0])
    return runs / max(1, starts)
