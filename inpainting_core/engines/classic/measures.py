"""What a picture looks like, in numbers: open water, repetition, texture, colour.

The engine uses these to decide (is the map's own water open water, worth
quilting from?) and the picture benchmark (`benchmarks/picture_quality.py`)
and the tests use the same functions to judge what the engine painted, so a
figure means the same everywhere.

Open water, as aerial photos show it (measured on the lake of Olpe, a
reservoir shore and a river at 0.5-1.5 m per pixel): dark (Lab lightness
15-55), never red or bright, blue-grey to olive green, and smooth: its
fine-scale texture (brightness minus its blur) has a standard deviation of
2-5 grey levels where trees, roofs and fields have 8-30.
"""

from __future__ import annotations

import cv2
import numpy as np

# Open water in Lab (float Lab, L 0..100): lightness range, and how red (a*) or yellow (b*)
# it may be. Measured on the shared maps' water: Olpe's lake L 40-46, a* -6, b* -5;
# the reservoir L 21-27, a* -14, b* +14; its river L 25-35, a* -12, b* +12.
WATER_LIGHTNESS = (10.0, 56.0)
WATER_MAX_A = 4.0
WATER_B = (-28.0, 24.0)
WATER_MAX_CHROMA = 32.0
# Fine texture (std of brightness minus its 2 px blur, 0-255 grey levels) of open water.
WATER_MAX_TEXTURE = 6.5
# Periodicity: autocorrelation peaks closer than this (px) are the texture's own grain.
MIN_LAG = 6


def lab(rgb: np.ndarray) -> np.ndarray:
    """Float Lab (L 0..100) of an RGB picture (uint8 or float 0..255)."""
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def fine_texture(rgb: np.ndarray, window: int = 9) -> np.ndarray:
    """Local std (grey levels) of brightness minus its 2 px blur: grain, crowns, cars, lines."""
    grey = np.asarray(rgb, np.float32).mean(axis=2)
    detail = grey - cv2.GaussianBlur(grey, (0, 0), 2.0)
    mean = cv2.blur(detail, (window, window))
    return np.sqrt(np.maximum(cv2.blur(detail * detail, (window, window)) - mean * mean, 0))


def water_colour(rgb: np.ndarray) -> np.ndarray:
    """Pixels whose colour is that of open water in aerial photos (bool HxW)."""
    values = lab(rgb)
    lightness, a, b = values[..., 0], values[..., 1], values[..., 2]
    return ((lightness >= WATER_LIGHTNESS[0]) & (lightness <= WATER_LIGHTNESS[1]) & (a <= WATER_MAX_A)
            & (b >= WATER_B[0]) & (b <= WATER_B[1]) & (np.hypot(a, b) <= WATER_MAX_CHROMA))


def open_water(rgb: np.ndarray) -> np.ndarray:
    """Pixels that look like open water: water's colour and smooth (bool HxW)."""
    return water_colour(rgb) & (fine_texture(rgb) <= WATER_MAX_TEXTURE)


def inscribed_square(region: np.ndarray, min_side: int = 24):
    """(top, left, side) of a large square inside `region`, or None when none of min_side fits."""
    inside = cv2.distanceTransform(np.pad(region.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    side = int(inside[y, x] * 1.35)  # a bit beyond the inscribed circle's square, into the corners
    side = min(side, region.shape[0], region.shape[1])
    while side >= min_side:
        top = int(np.clip(y - side // 2, 0, region.shape[0] - side))
        left = int(np.clip(x - side // 2, 0, region.shape[1] - side))
        if region[top : top + side, left : left + side].mean() >= 0.97:
            return top, left, side
        side = int(side * 0.9)
    return None


def periodicity(rgb: np.ndarray) -> float:
    """The strongest repetition in a picture: 0 none, 1 a perfect tiling.

    The normalised autocorrelation of its fine texture (brightness minus a
    3 px blur), at lags of at least MIN_LAG px and at most a third of its
    side: a repeated patch gives a peak at its offset, a natural texture only
    its own short-range grain. Windowed (Hann) so the picture's edges add nothing.
    """
    grey = np.asarray(rgb, np.float32)
    grey = grey.mean(axis=2) if grey.ndim == 3 else grey
    detail = grey - cv2.GaussianBlur(grey, (0, 0), 3.0)
    detail -= detail.mean()
    height, width = detail.shape
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    detail *= window
    spectrum = np.abs(np.fft.rfft2(detail, s=(2 * height, 2 * width))) ** 2
    correlation = np.fft.irfft2(spectrum, s=(2 * height, 2 * width))
    # the overlap of the window with itself shifted: divide it out so far lags count as much
    overlap = np.fft.irfft2(np.abs(np.fft.rfft2(window, s=(2 * height, 2 * width))) ** 2, s=(2 * height, 2 * width))
    if correlation[0, 0] <= 1e-6:
        return 0.0
    correlation = correlation / np.maximum(overlap, 1e-6 * overlap[0, 0]) * (overlap[0, 0] / correlation[0, 0])
    correlation = np.fft.fftshift(correlation)
    cy, cx = height, width
    reach = max(MIN_LAG + 1, min(height, width) // 3)
    yy, xx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    lags = correlation[cy - reach : cy + reach + 1, cx - reach : cx + reach + 1]
    far = np.hypot(yy, xx) >= MIN_LAG
    return float(max(0.0, lags[far].max()))


def ring_around(region: np.ndarray, width: int) -> np.ndarray:
    """A band `width` px wide around `region`, outside it."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return (cv2.dilate(region.astype(np.uint8), kernel) > 0) & ~region


def edge_contrast(rgb: np.ndarray, region: np.ndarray) -> float:
    """How strongly the region's outline shows: mean gradient on it over the mean nearby (1 = unseen)."""
    grey = cv2.GaussianBlur(np.asarray(rgb, np.float32).mean(axis=2), (0, 0), 1.0)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    solid = region.astype(np.uint8)
    outline = (cv2.dilate(solid, np.ones((3, 3), np.uint8)) > 0) & ~(cv2.erode(solid, np.ones((3, 3), np.uint8)) > 0)
    nearby = ring_around(region, 12) | (region & ~(cv2.erode(solid, np.ones((25, 25), np.uint8)) > 0))
    nearby &= ~outline
    if not outline.any() or not nearby.any():
        return 1.0
    return float(gradient[outline].mean() / max(gradient[nearby].mean(), 1e-3))


# A lake or a river wide enough to quilt from: its open water reaches this far (m) from every
# shore somewhere, wider than a building's or a tree's shadow (which is dark and smooth too).
MIN_WATER_HALF_WIDTH_M = 12.0
# A body of open water is calm all over: its lightness varies by at most this much (std, Lab L),
# and its fine texture is at most this share of the land's around it. Measured on the shared
# maps: the lakes of Olpe and of the village 0.8-1.7 and 0.04-0.34 at 0.3-1x their resolution;
# dark smooth fields, clearings and shadows on snow that pass the colour test 2.0-6.0 and 0.11-0.6.
MAX_WATER_LIGHTNESS_STD = 1.9
MAX_WATER_TEXTURE_SHARE = 0.4


def open_water_bodies(rgb: np.ndarray, metres_per_pixel: float) -> np.ndarray:
    """Open water in bodies wide enough to be a lake or a river, and calm all over (bool HxW).

    Not a shadow (too narrow), not a dark field, a clearing or a shadow on snow
    (their lightness and grain vary more than a lake's).
    """
    water = cv2.morphologyEx(open_water(rgb).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(water, connectivity=8)
    if count <= 1:
        return np.zeros(water.shape, bool)
    inland = cv2.distanceTransform(water, cv2.DIST_L2, 5)
    widest = np.zeros(count, np.float32)
    np.maximum.at(widest, labels.ravel(), inland.ravel())
    keep = widest * metres_per_pixel >= MIN_WATER_HALF_WIDTH_M
    keep[0] = False
    if not keep.any():
        return np.zeros(water.shape, bool)
    lightness = lab(rgb)[..., 0].ravel()
    texture = fine_texture(rgb)
    land = float(np.median(texture[water == 0])) if (water == 0).any() else float(np.median(texture))
    flat = labels.ravel()
    area = np.bincount(flat, minlength=count).astype(np.float64) + 1e-6
    mean = np.bincount(flat, lightness, minlength=count) / area
    spread = np.sqrt(np.maximum(np.bincount(flat, lightness**2, minlength=count) / area - mean**2, 0))
    grain = np.bincount(flat, texture.ravel(), minlength=count) / area
    keep &= (spread <= MAX_WATER_LIGHTNESS_STD) & (grain <= MAX_WATER_TEXTURE_SHARE * max(land, 1e-3))
    return keep[labels]


# A winter landscape is nearly colourless: three quarters of it under this chroma (Lab). The
# summer maps, towns included, measure 11-22, the Harz in snow 3.6.
WINTER_CHROMA = 6.0
WINTER_BRIGHT_SHARE = 0.08  # ... with at least this share of bright, colourless ground (snow)


def winter_landscape(rgb: np.ndarray) -> bool:
    """Whether a map (RGB, any size) shows a landscape under snow."""
    values = lab(np.asarray(rgb).reshape(-1, 1, 3)).reshape(-1, 3)
    if len(values) == 0:
        return False
    chroma = np.hypot(values[:, 1], values[:, 2])
    bright = float(((values[:, 0] > 65) & (chroma < 10)).mean())
    return bool(np.percentile(chroma, 75) < WINTER_CHROMA and bright > WINTER_BRIGHT_SHARE)
