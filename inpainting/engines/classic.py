"""The classic engine: offline, on the CPU, without model weights.

It repaints a region the way a map maker would: it looks for places on the same
map that already show the wished-for land cover (the lake, a forest, a field),
quilts their texture into the region, and blends the result into its
surroundings. Land covers the map does not show (snow, lava on a map of the
Sauerland) are painted procedurally from a palette and layered noise. The
procedural painters also paint the synthetic demo map (`inpainting.demo`), so
the project has a plausible aerial picture without shipping real imagery.

How a wish is read and painted:

* Land covers come from the prepared prompt (`request.land_covers`, main
  first, at most three used). Further covers appear as soft blobs inside the
  main one ("a lake with forest" gets wooded islands). A wish that names no
  land cover heals the region with the cover that surrounds it.
* Texture comes from windows of the map (`request.context`, near
  `request.crop_box`) that show the cover almost alone, outside the painted
  region, scaled like the crop. They are quilted (Efros & Freeman: best
  matching patches joined along minimal-error seams). Fields are painted as
  rows in the colours of a field on the map, because quilting mixes the row
  directions of neighbouring parcels; roads are always painted.
* The seed is `request.seed`, or else derived from the prompt, so the same
  wish on the same region gives the same picture.
* Style, steps, guidance and strength are diffusion parameters and are ignored.

Everything is vectorised numpy/OpenCV (loops run over patches, never pixels)
and deterministic for a seed.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

from inpainting import landcover
from inpainting.engines import CLASSIC, LABELS
from inpainting.engines.base import (
    CancelCheck,
    Engine,
    EngineRequest,
    EngineStatus,
    ProgressCallback,
    check_cancel,
)

# --------------------------------------------------------------------------------
# Procedural painters: float32 RGB pictures in [0, 255], one per land cover.
# --------------------------------------------------------------------------------

Painter = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, octaves: int = 1
) -> np.ndarray:
    """Zero-mean, unit-std value noise whose blobs are about `cell` pixels wide.

    Upsampling a small random grid with cubic interpolation is much cheaper than
    blurring full-size white noise with a large kernel.
    """
    height, width = shape
    total = np.zeros(shape, np.float32)
    amplitude = 1.0
    for _octave in range(octaves):
        step = max(1.0, cell)
        grid_h, grid_w = int(height / step) + 4, int(width / step) + 4
        grid = rng.standard_normal((grid_h, grid_w)).astype(np.float32)
        size = (int(round(grid_w * step)), int(round(grid_h * step)))
        layer = cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC)
        offset = int(step)
        total += amplitude * layer[offset : offset + height, offset : offset + width]
        cell /= 2.0
        amplitude *= 0.5
    return _standardise(total)


def stretched_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, stretch: float, angle: float
) -> np.ndarray:
    """Noise whose blobs are `stretch` times longer along `angle` (ripples, dunes, rows)."""
    height, width = shape
    side = int(math.ceil(math.hypot(height, width))) + 2
    long_cell, short_cell = cell * stretch, cell
    grid = rng.standard_normal(
        (int(side / short_cell) + 4, int(side / long_cell) + 4)
    ).astype(np.float32)
    square = cv2.resize(grid, (side + 2 * int(long_cell) + 8, side + 2 * int(short_cell) + 8),
                        interpolation=cv2.INTER_CUBIC)
    square = square[int(short_cell) : int(short_cell) + side, int(long_cell) : int(long_cell) + side]
    rotation = cv2.getRotationMatrix2D((side / 2, side / 2), math.degrees(angle), 1.0)
    rotated = cv2.warpAffine(square, rotation, (side, side), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
    top, left = (side - height) // 2, (side - width) // 2
    return _standardise(rotated[top : top + height, left : left + width])


def _standardise(values: np.ndarray) -> np.ndarray:
    values = values - values.mean()
    return (values / (values.std() + 1e-6)).astype(np.float32)


def _mix(dark, light, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend between two RGB colours; `t` in [0, 1] of shape HxW."""
    dark = np.asarray(dark, np.float32)
    light = np.asarray(light, np.float32)
    return dark + (light - dark) * t[..., None]


def grain(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Per-pixel sensor grain, the same in all channels, so flat areas are never flat."""
    # Uniform bytes are several times cheaper than normal samples and look the same.
    values = np.frombuffer(rng.bytes(shape[0] * shape[1]), np.uint8).reshape(shape)
    noise = values.astype(np.float32)
    noise -= np.float32(127.5)
    noise *= np.float32(sigma / 73.9)  # the std of uniform bytes is 73.9
    return noise[..., None]


def tree_canopy(
    rng: np.random.Generator, shape: tuple[int, int], size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Tree-crown height field in [0, 1] and its sun shading (light from the upper left).

    Band-pass noise has blobs about one crown wide; shading is the height
    difference to the neighbour towards the sun, which makes the blobs round.
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    fine = cv2.GaussianBlur(white, (0, 0), size * 0.5)
    coarse = cv2.GaussianBlur(white, (0, 0), size * 1.4)
    height = _standardise(fine - 0.6 * coarse)
    height = np.clip(height * 0.45 + 0.5, 0.0, 1.0)
    shift = max(1, int(round(size * 0.35)))
    toward_sun = np.roll(np.roll(height, shift, axis=0), shift, axis=1)
    shading = np.clip((height - toward_sun) * 1.6, -1.0, 1.0)
    return height, shading


def paint_forest(
    rng: np.random.Generator,
    shape: tuple[int, int],
    canopy: Optional[tuple[np.ndarray, np.ndarray]] = None,
) -> np.ndarray:
    """Crowns of mixed woodland; pass `canopy` to share crowns with a ragged forest edge."""
    height, shading = canopy if canopy is not None else tree_canopy(rng, shape, 5.0)
    species = np.clip(smooth_noise(rng, shape, 60, octaves=3) * 0.5 + 0.5, 0, 1)
    crown = _mix((30, 50, 30), (66, 92, 42), species)  # conifers darker, broadleaf lighter
    stands = smooth_noise(rng, shape, 160)[..., None] * np.float32(0.08)
    image = crown * (0.55 + 0.6 * height[..., None] + stands)
    image += shading[..., None] * np.float32(22)
    gaps = np.clip((0.22 - height) * 4, 0, 1)[..., None]
    image = image * (1 - gaps) + np.float32([22, 32, 20]) * gaps
    return image + grain(rng, shape, 3)


def paint_meadow(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    patches = np.clip(smooth_noise(rng, shape, 90, octaves=3) * 0.3 + 0.5, 0, 1)
    image = _mix((96, 126, 58), (146, 160, 88), patches)
    tufts = smooth_noise(rng, shape, 3)
    image += tufts[..., None] * np.float32(5)
    return image + grain(rng, shape, 3.5)


def field_rows(shape: tuple[int, int], angle, period, wobble: np.ndarray) -> np.ndarray:
    """Furrows in [-1, 1]; `angle` and `period` may be scalars or per-pixel arrays."""
    height, width = shape
    rows_y, rows_x = np.mgrid[0:height, 0:width].astype(np.float32)
    across = rows_x * np.cos(angle) + rows_y * np.sin(angle)
    rows = np.sin((across / period + wobble * 0.12) * np.float32(2 * math.pi))
    return (np.sign(rows) * np.abs(rows) ** 0.5).astype(np.float32)  # sharper than a sine


def paint_field(
    rng: np.random.Generator,
    shape: tuple[int, int],
    angle: Optional[float] = None,
    crop: Optional[tuple] = None,
) -> np.ndarray:
    """A parcel of tilled or grown rows; `crop` picks its colour, `angle` the row direction."""
    if angle is None:
        angle = float(rng.uniform(0, math.pi))
    if crop is None:
        crop = FIELD_CROPS[int(rng.integers(len(FIELD_CROPS)))]
    period = float(rng.uniform(5.0, 9.0))
    wobble = stretched_noise(rng, shape, 6, 8, angle + math.pi / 2)
    rows = field_rows(shape, angle, period, wobble)
    patches = np.clip(smooth_noise(rng, shape, 120, octaves=2) * 0.25 + 0.5, 0, 1)
    image = _mix(crop[0], crop[1], patches)
    image += rows[..., None] * np.float32(crop[2])
    return image + grain(rng, shape, 3)


# dark colour, light colour, row contrast
FIELD_CROPS = (
    ((176, 156, 96), (206, 186, 120), 12),  # ripe grain
    ((138, 108, 78), (170, 138, 100), 14),  # tilled soil
    ((122, 138, 66), (150, 160, 84), 11),  # young crop
    ((190, 176, 110), (214, 198, 136), 9),  # stubble
    ((100, 122, 56), (128, 144, 70), 13),  # maize
)


def paint_water(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    wind = float(rng.uniform(0, math.pi))
    ripples = stretched_noise(rng, shape, 2.5, 6, wind)
    swell = smooth_noise(rng, shape, 110, octaves=2)
    image = _mix((30, 58, 66), (48, 80, 86), np.clip(swell * 0.25 + 0.5, 0, 1))
    image += ripples[..., None] * np.float32(1.6)
    return image + grain(rng, shape, 1.2)


def paint_sand(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    wind = float(rng.uniform(0, math.pi))
    dunes = stretched_noise(rng, shape, 22, 5, wind)
    ridges = 1 - np.abs(stretched_noise(rng, shape, 9, 4, wind))
    tone = np.clip(smooth_noise(rng, shape, 140, octaves=2) * 0.25 + 0.5, 0, 1)
    image = _mix((196, 176, 134), (226, 210, 168), tone)
    image += (dunes * 9 + ridges * 6)[..., None].astype(np.float32)
    return image + grain(rng, shape, 3)


def paint_snow(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    drifts = smooth_noise(rng, shape, 60, octaves=3)
    wind = float(rng.uniform(0, math.pi))
    sastrugi = stretched_noise(rng, shape, 3, 4, wind)
    shadow = np.clip(0.5 - drifts * 0.45, 0, 1)
    image = _mix((246, 248, 252), (204, 214, 232), shadow)  # shadows on snow turn blue
    image += sastrugi[..., None] * np.float32(1.5)
    return image + grain(rng, shape, 1.5)


def paint_rock(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Bare rock: a fractal, ridged relief lit from the upper left."""
    relief = smooth_noise(rng, shape, 48, octaves=4)
    relief += np.float32(0.7) * (1 - np.abs(smooth_noise(rng, shape, 26, octaves=3)))  # sharp ridges
    slope_x = cv2.Sobel(relief, cv2.CV_32F, 1, 0, ksize=3)
    slope_y = cv2.Sobel(relief, cv2.CV_32F, 0, 1, ksize=3)
    light = np.clip(0.55 - (slope_x + slope_y) * 0.3, 0, 1)
    tone = np.clip(smooth_noise(rng, shape, 90) * 0.3 + 0.5, 0, 1)
    stone = _mix((112, 104, 94), (150, 146, 138), tone)
    image = stone * (0.55 + 0.7 * light[..., None])
    return image + grain(rng, shape, 4)


def paint_lava(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Dark crust broken by glowing cracks; the glow bleeds a little into the crust."""
    crust = np.clip(smooth_noise(rng, shape, 12, octaves=3) * 0.3 + 0.5, 0, 1)
    image = _mix((28, 20, 18), (70, 52, 44), crust)
    ridged = np.abs(smooth_noise(rng, shape, 36, octaves=2))
    cracks = np.clip(1 - ridged / 0.18, 0, 1) ** 1.5
    flows = np.clip(smooth_noise(rng, shape, 160) * 0.5 - 0.1, 0, 1)
    heat = np.clip(cracks + flows * 0.8, 0, 1)
    glow = cv2.GaussianBlur(heat, (0, 0), 3.0)
    heat = np.clip(np.maximum(heat, glow * 0.8), 0, 1)
    hot = _mix((200, 40, 8), (255, 214, 90), heat**2)
    return image * (1 - heat[..., None]) + hot * heat[..., None] + grain(rng, shape, 2)


def paint_road(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    wear = np.clip(smooth_noise(rng, shape, 50, octaves=3) * 0.25 + 0.5, 0, 1)
    image = _mix((84, 86, 90), (116, 116, 118), wear)
    return image + grain(rng, shape, 5)


ROOF_COLOURS = np.float32(
    [
        (150, 70, 52),  # terracotta
        (128, 60, 48),
        (112, 84, 70),  # brown tiles
        (74, 76, 82),  # slate, anthracite
        (96, 98, 104),
        (168, 100, 76),
        (138, 134, 128),  # flat concrete
    ]
)


def paint_buildings(
    rng: np.random.Generator,
    shape: tuple[int, int],
    angle: Optional[float] = None,
    spacing: float = 22.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Houses with gabled roofs and cast shadows, gardens and trees, on a street grid.

    Returns the picture and a mask of roof pixels (for the demo map's labels).
    """
    if angle is None:
        angle = float(rng.uniform(0, math.pi / 2))
    image = _town_ground(rng, shape, angle, spacing)
    centres, sizes = _house_plots(rng, shape, angle, spacing)
    roof_ids, shadow = _rasterise_roofs(_roof_polygons(centres, sizes, angle), shape, spacing)
    colour_of = ROOF_COLOURS[rng.integers(len(ROOF_COLOURS), size=len(centres) + 1)]
    colour_of *= rng.uniform(0.88, 1.12, size=(len(colour_of), 1)).astype(np.float32)
    roof_mask = roof_ids > 0
    sunlit = np.where(roof_ids % 2 == 1, np.float32(1.1), np.float32(0.8))
    roof_colour = colour_of[(roof_ids + 1) // 2] * sunlit[..., None]
    image *= np.where(shadow > 0, np.float32(0.5), np.float32(1.0))[..., None]
    image = np.where(roof_mask[..., None], roof_colour, image)
    return image + grain(rng, shape, 3), roof_mask


def _town_ground(rng, shape, angle, spacing) -> np.ndarray:
    """Gardens with a few trees between the houses, asphalt streets along the grid gaps."""
    height, width = shape
    gardens = paint_meadow(rng, shape) * np.float32(0.92)
    canopy, shading = tree_canopy(rng, shape, 3.5)
    trees = np.clip((canopy - 0.55) * 6 + smooth_noise(rng, shape, 30) * 0.8 - 0.4, 0, 1)
    gardens = gardens * (1 - trees[..., None]) + paint_forest(rng, shape, (canopy, shading)) * trees[..., None]
    paved = np.clip(smooth_noise(rng, shape, 12) * 2 - 1.2, 0, 1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u = ((xx - width / 2) * math.cos(angle) + (yy - height / 2) * math.sin(angle)) / spacing
    v = (-(xx - width / 2) * math.sin(angle) + (yy - height / 2) * math.cos(angle)) / spacing
    street = np.maximum(_grid_line(u, 5, 2), _grid_line(v, 3, 1))
    ground = np.clip(paved + street, 0, 1)[..., None]
    return gardens * (1 - ground) + paint_road(rng, shape) * ground


def _grid_line(coordinate: np.ndarray, period: int, phase: int) -> np.ndarray:
    """Soft line where `coordinate` is `phase` modulo `period` (a street of about 0.6 plots)."""
    offset = np.abs((coordinate - phase + period / 2) % period - period / 2)
    return np.clip((0.34 - offset) * 12, 0, 1)


def _rasterise_roofs(roofs, shape, spacing) -> tuple[np.ndarray, np.ndarray]:
    """Roof halves as ids 2k+1 (sunlit) and 2k+2 (shaded); the shadow falls lower right."""
    roof_ids = np.zeros(shape, np.int32)
    shadow = np.zeros(shape, np.uint8)
    offset = max(2, int(round(spacing * 0.14)))
    outlines = [np.round(np.vstack([left[:2], right[2:]]) + offset).astype(np.int32) for left, right in roofs]
    cv2.fillPoly(shadow, outlines, 1)
    for index, (left_half, right_half) in enumerate(roofs):
        cv2.fillPoly(roof_ids, [np.round(left_half).astype(np.int32)], 2 * index + 1)
        cv2.fillPoly(roof_ids, [np.round(right_half).astype(np.int32)], 2 * index + 2)
    return roof_ids, shadow


def _house_plots(rng, shape, angle, spacing):
    """Jittered grid of house centres in a rotated frame, leaving the street gaps free."""
    height, width = shape
    count = int(math.hypot(height, width) / spacing / 2) + 2
    u, v = np.meshgrid(np.arange(-count, count + 1), np.arange(-count, count + 1))
    u = u.ravel().astype(np.float32)
    v = v.ravel().astype(np.float32)
    keep = (u % 5 != 2) & (v % 3 != 1)
    u, v = u[keep], v[keep]
    jitter = rng.uniform(-0.1, 0.1, size=(2, u.size)).astype(np.float32)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    du, dv = (u + jitter[0]) * spacing, (v + jitter[1]) * spacing
    x = width / 2 + du * cos_a - dv * sin_a
    y = height / 2 + du * sin_a + dv * cos_a
    inside = (x > -spacing) & (x < width + spacing) & (y > -spacing) & (y < height + spacing)
    chosen = inside & (rng.random(u.size) < 0.88)
    sizes = np.stack(
        [rng.uniform(0.55, 0.9, u.size), rng.uniform(0.5, 0.8, u.size)], axis=1
    ).astype(np.float32) * spacing
    return np.stack([x, y], axis=1)[chosen], sizes[chosen]


def _roof_polygons(centres, sizes, angle):
    """Two halves per house, split along the ridge: [corner, corner, ridge end, ridge end]."""
    along = np.float32([math.cos(angle), math.sin(angle)])
    across = np.float32([-math.sin(angle), math.cos(angle)])
    roofs = []
    for centre, (length, depth) in zip(centres, sizes):
        half_l, half_d = along * length / 2, across * depth / 2
        left = np.array([centre - half_l - half_d, centre + half_l - half_d, centre + half_l, centre - half_l])
        right = np.array([centre - half_l, centre + half_l, centre + half_l + half_d, centre - half_l + half_d])
        roofs.append((left, right))
    return roofs


PAINTERS: dict[str, Painter] = {
    landcover.WATER: paint_water,
    landcover.FOREST: paint_forest,
    landcover.MEADOW: paint_meadow,
    landcover.FIELD: paint_field,
    landcover.BUILDINGS: lambda rng, shape: paint_buildings(rng, shape)[0],
    landcover.ROAD: paint_road,
    landcover.SAND: paint_sand,
    landcover.SNOW: paint_snow,
    landcover.ROCK: paint_rock,
    landcover.LAVA: paint_lava,
}


# --------------------------------------------------------------------------------
# Reading the map: which land cover each pixel shows.
# --------------------------------------------------------------------------------

COVER_INDEX = {name: index for index, name in enumerate(landcover.ALL)}
SURVEY_LONG_SIDE = 768  # classification runs at this size: fast, and texture rules stay stable


def classify_land_cover(rgb: np.ndarray) -> np.ndarray:
    """Land cover per pixel (indices into `landcover.ALL`) from colour and local texture.

    Colour rules alone confuse a dark forest with a lake, so texture (the local
    standard deviation of brightness) separates smooth water from rough crowns.
    A town is a neighbourhood with roofs in it, so grey streets and gardens next
    to roofs count as buildings, grey elsewhere as road. A vote in a small window
    removes single stray pixels.
    """
    features = _colour_features(rgb)
    labels = np.full(rgb.shape[:2], COVER_INDEX[landcover.MEADOW], np.uint8)
    for cover, rule in _COLOUR_RULES:  # later rules win
        labels[rule(features)] = COVER_INDEX[cover]
    _merge_town(labels)
    return _majority_vote(labels, 7)


def _colour_features(rgb: np.ndarray) -> dict[str, np.ndarray]:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (5, 5))
    texture = np.sqrt(np.maximum(cv2.blur(grey * grey, (5, 5)) - mean * mean, 0))
    red, green, blue = (rgb[..., channel].astype(np.float32) for channel in range(3))
    return {
        "r": red, "g": green, "b": blue,
        "h": hsv[..., 0], "s": hsv[..., 1], "v": hsv[..., 2],
        "texture": texture,
        "rough": cv2.blur(texture, (9, 9)),
        "rows": _orientation_coherence(grey),
    }


def _orientation_coherence(grey: np.ndarray) -> np.ndarray:
    """0 for texture without direction, towards 1 for parallel lines (furrows, crop rows).

    From the structure tensor: how much the local gradients agree on one direction.
    """
    dx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    jxx = cv2.blur(dx * dx, (9, 9))
    jyy = cv2.blur(dy * dy, (9, 9))
    jxy = cv2.blur(dx * dy, (9, 9))
    return np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (jxx + jyy + 1.0)


# OpenCV hue runs 0..180: red ~0/180, yellow ~30, green ~60, cyan ~90, blue ~120.
def _is_field(f):
    """Yellow or brown farmland, or green land striped with crop rows."""
    ripe_or_tilled = (f["h"] >= 8) & (f["h"] < 32) & (f["v"] >= 100)
    rows = (f["rows"] > 0.8) & (f["texture"] > 4) & (f["v"] >= 100) & (f["h"] < 60)
    return ripe_or_tilled | rows


def _is_forest(f):
    return (f["v"] < 115) & (f["g"] >= f["r"]) & (f["g"] >= f["b"] - 4) & (f["texture"] >= 4)


def _is_road(f):
    return (f["s"] < 40) & (f["v"] > 60) & (f["v"] < 170)


def _is_rock(f):
    """Rough grey ground. Thin roads are grey too, so rock must fill its neighbourhood."""
    grey = ((f["s"] < 50) & (f["v"] > 60) & (f["v"] < 180)).astype(np.float32)
    return (grey * cv2.blur(grey, (15, 15)) > 0.85) & (f["rough"] > 5.5)


def _is_roof(f):
    return ((f["h"] < 12) | (f["h"] > 165)) & (f["s"] > 70) & (f["v"] > 70) & (f["v"] < 200) & (
        f["r"] > f["g"] + 25
    )


def _is_water(f):
    bluish = (f["h"] >= 75) & (f["h"] <= 125) & (f["s"] > 40) & (f["v"] < 130) & (f["texture"] < 7)
    return bluish | ((f["v"] < 50) & (f["texture"] < 4))


def _is_sand(f):
    return (f["h"] >= 12) & (f["h"] <= 30) & (f["s"] >= 25) & (f["s"] < 80) & (f["v"] > 190) & (
        f["texture"] < 7
    )


def _is_lava(f):
    """Glowing cracks, and the dark red crust between them."""
    glow = ((f["r"] > 180) & (f["r"] - f["b"] > 100) & (f["s"] > 120)).astype(np.float32)
    crust = (f["v"] < 90) & (f["s"] > 80) & ((f["h"] < 15) | (f["h"] > 170))
    return (glow > 0) | (crust & (cv2.blur(glow, (31, 31)) > 0.01))


def _is_snow(f):
    return (f["v"] > 200) & (f["s"] < 45)


_COLOUR_RULES = (
    (landcover.FIELD, _is_field),
    (landcover.FOREST, _is_forest),
    (landcover.ROAD, _is_road),
    (landcover.ROCK, _is_rock),
    (landcover.BUILDINGS, _is_roof),
    (landcover.WATER, _is_water),
    (landcover.SAND, _is_sand),
    (landcover.LAVA, _is_lava),
    (landcover.SNOW, _is_snow),
)


def _merge_town(labels: np.ndarray) -> None:
    """Streets, yards and gardens between roofs belong to the town."""
    roofs = (labels == COVER_INDEX[landcover.BUILDINGS]).astype(np.float32)
    town = cv2.blur(roofs, (25, 25)) > 0.03
    in_between = np.isin(labels, [COVER_INDEX[c] for c in (landcover.ROAD, landcover.ROCK, landcover.MEADOW, landcover.FIELD)])
    labels[town & in_between] = COVER_INDEX[landcover.BUILDINGS]


def _majority_vote(labels: np.ndarray, window: int) -> np.ndarray:
    votes = np.stack(
        [cv2.blur((labels == index).astype(np.float32), (window, window)) for index in range(len(landcover.ALL))]
    )
    return votes.argmax(axis=0).astype(np.uint8)


# --------------------------------------------------------------------------------
# The engine.
# --------------------------------------------------------------------------------

# The map around the region is surveyed up to this many pixels (at the crop's scale).
MAX_SURVEY_PIXELS = 4_000_000
PATCH_SIZES = (64, 40, 24)  # quilting patches, largest that the map offers enough of
MIN_EXEMPLARS = 12
# Roads are lines on a map: windows of pure road are rare and mostly town streets with
# gardens, so a wished road is always painted (as asphalt in the map's road colour).
ALWAYS_PAINTED = (landcover.ROAD,)
EXEMPLARS_PER_COVER = 96
MAX_COLOUR_SHIFT = 20.0  # how far blending may pull a fill's colour towards its surroundings
PHASES = 4  # survey, gather texture, synthesise, blend


@dataclass
class Survey:
    """The surveyed part of the map: its picture at the crop's scale and its land covers.

    `labels` and `blocked` are at survey scale (`factor` survey pixels per source
    pixel). `blocked` marks the painted region: its texture is about to go away.
    """

    source: np.ndarray
    small: np.ndarray
    labels: np.ndarray
    blocked: np.ndarray
    factor: float

    def surroundings(self) -> Optional[str]:
        """The land cover that most of the ring around the painted region shows."""
        ring = cv2.dilate(self.blocked.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        ring &= ~self.blocked
        if not ring.any():
            return None
        counts = np.bincount(self.labels[ring], minlength=len(landcover.ALL))
        return landcover.ALL[int(counts.argmax())]


class ClassicEngine(Engine):
    """Texture from the same map, procedural painting where the map has none; see module doc."""

    name = CLASSIC
    label = LABELS[CLASSIC]

    def status(self) -> EngineStatus:
        return self._usable()

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        max_side = int(settings.OLPE_CLASSIC_MAX_SIDE)
        if max(width, height) <= max_side:
            return width, height
        scale = max_side / max(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def inpaint(
        self,
        request: EngineRequest,
        progress: Optional[ProgressCallback] = None,
        should_cancel: Optional[CancelCheck] = None,
    ) -> Image.Image:
        crop = np.asarray(request.image.convert("RGB"))
        alpha = np.asarray(request.mask.convert("L"), np.float32) / 255.0
        rng = np.random.default_rng(seed_for(request))
        report = _Reporter(progress, should_cancel)
        if not (alpha > 0).any():
            return request.image.convert("RGB")

        report.start()
        survey = survey_map(crop, alpha > 0, request.context, request.crop_box)
        covers = wished_covers(request.land_covers, survey)
        report.done(None)

        box = _padded_bbox(alpha > 0, crop.shape[:2], margin=3)
        sources = {cover: gather_exemplars(survey, cover, rng) for cover in covers if cover not in ALWAYS_PAINTED}
        report.done(None)

        fill = synthesise(covers, sources, survey, _visible_core(alpha[box]), rng)
        report.done(_preview(_laid_over(crop, fill, alpha, box)))

        alpha = ragged_edge(covers[0], alpha, fill, box)
        result = blend(crop, fill, alpha, box)
        report.done(_preview(result))
        return Image.fromarray(result)


def _visible_core(alpha: np.ndarray) -> np.ndarray:
    """Where the new cover shows at least half: shores and forest edges are measured from here."""
    core = alpha >= 0.5
    return core if core.any() else alpha > 0


def seed_for(request: EngineRequest) -> int:
    """The request's seed, or one derived from the wish: the same wish paints the same picture."""
    if request.seed is not None:
        return int(request.seed) % 2**32
    return zlib.crc32(request.prompt.encode("utf-8"))


def wished_covers(land_covers: tuple[str, ...], survey: Survey) -> tuple[str, ...]:
    """Known land covers in the wish, main first; none named: what surrounds the region.

    A wish without a land cover ("make this disappear") then heals the region
    with its surroundings, the way a retoucher would; meadow when even that is unknown.
    """
    covers = tuple(dict.fromkeys(c for c in land_covers if c in COVER_INDEX))
    if covers:
        return covers[:3]
    return (survey.surroundings() or landcover.MEADOW,)


class _Reporter:
    """Counts the phases, passes progress on and stops between phases when cancelled."""

    def __init__(self, progress, should_cancel):
        self.progress = progress
        self.should_cancel = should_cancel
        self.step = 0

    def start(self):
        check_cancel(self.should_cancel)

    def done(self, preview):
        self.step += 1
        if self.progress is not None:
            self.progress(self.step, PHASES, preview)
        if self.step < PHASES:
            check_cancel(self.should_cancel)


def _preview(rgb: np.ndarray) -> Image.Image:
    preview = Image.fromarray(rgb)
    preview.thumbnail((256, 256))
    return preview


# --------------------------------------------------------------------------------
# Survey: the map around the region, at the crop's scale, and its land covers.
# --------------------------------------------------------------------------------


def survey_map(
    crop: np.ndarray,
    region: np.ndarray,
    context: Optional[Image.Image],
    crop_box: Optional[tuple[int, int, int, int]],
) -> Survey:
    """Cut the map around the crop at the crop's scale and classify it.

    The crop may have been scaled down for the engine; texture taken from the
    map is scaled alike, so crowns and furrows keep their size. Very large maps
    are surveyed only around the region.
    """
    if context is None or crop_box is None:
        source, origin = crop, (0, 0)
    else:
        source, origin = _source_window(context, crop_box, crop.shape[1])
    blocked_source = np.zeros(source.shape[:2], np.uint8)
    _paste_mask(blocked_source, region, origin)
    factor = min(1.0, SURVEY_LONG_SIDE / max(source.shape[:2]))
    survey_size = (max(1, round(source.shape[1] * factor)), max(1, round(source.shape[0] * factor)))
    small = cv2.resize(source, survey_size, interpolation=cv2.INTER_AREA)
    blocked = cv2.resize(blocked_source * 255, survey_size, interpolation=cv2.INTER_AREA) > 0
    blocked = cv2.dilate(blocked.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return Survey(source=source, small=small, labels=classify_land_cover(small), blocked=blocked, factor=factor)


def _source_window(context: Image.Image, crop_box, crop_width: int):
    """The part of the map to survey, scaled like the crop, and where the crop lies in it."""
    left, top, right, bottom = crop_box
    scale = crop_width / max(1, right - left)
    map_w, map_h = context.size
    limit = math.sqrt(MAX_SURVEY_PIXELS) / scale  # side of the window in map pixels
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    win_w, win_h = min(map_w, limit), min(map_h, limit)
    win_left = int(np.clip(centre_x - win_w / 2, 0, map_w - win_w))
    win_top = int(np.clip(centre_y - win_h / 2, 0, map_h - win_h))
    window = (win_left, win_top, win_left + int(win_w), win_top + int(win_h))
    picture = context.convert("RGB").crop(window)
    if scale != 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)
    origin = (round((left - win_left) * scale), round((top - win_top) * scale))
    return np.asarray(picture), origin


def _paste_mask(target: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> None:
    """Set `mask` into `target` at `origin`, clipped at the target's edges."""
    x, y = origin
    height, width = mask.shape
    top, left = max(0, y), max(0, x)
    bottom, right = min(target.shape[0], y + height), min(target.shape[1], x + width)
    if bottom > top and right > left:
        target[top:bottom, left:right] |= mask[top - y : bottom - y, left - x : right - x].astype(target.dtype)


# --------------------------------------------------------------------------------
# Gather: windows of the map that show the wished land cover.
# --------------------------------------------------------------------------------


def gather_exemplars(survey: Survey, cover: str, rng: np.random.Generator) -> Optional[np.ndarray]:
    """Up to EXEMPLARS_PER_COVER patches (N, P, P, 3) showing `cover`, or None.

    Windows must show the cover almost alone and lie outside the painted region.
    They are drawn around one place of the map (the nearer to the region the
    likelier), so the quilt continues one lake or one field, not a mixture.
    """
    for patch in PATCH_SIZES:
        centres = _clean_windows(survey, cover, patch)
        if len(centres) >= MIN_EXEMPLARS:
            chosen = _around_one_place(centres, survey, patch, rng)
            return _cut_patches(survey.source, chosen / survey.factor, patch)
    return None


def _clean_windows(survey: Survey, cover: str, patch: int) -> np.ndarray:
    """Survey-scale centres (x, y) of windows that show `cover` almost exclusively."""
    side = max(3, int(round(patch * survey.factor)))
    present = (survey.labels == COVER_INDEX[cover]).astype(np.float32)
    share = cv2.boxFilter(present, -1, (side, side), borderType=cv2.BORDER_CONSTANT)
    touched = cv2.boxFilter(survey.blocked.astype(np.float32), -1, (side, side), borderType=cv2.BORDER_CONSTANT)
    usable = (share >= 0.92) & (touched == 0)
    # the whole patch must lie inside the source picture
    margin = int(math.ceil(patch * survey.factor / 2)) + 1
    usable[:margin] = usable[-margin:] = False
    usable[:, :margin] = usable[:, -margin:] = False
    rows, columns = np.nonzero(usable)
    return np.stack([columns, rows], axis=1).astype(np.float32)


def _around_one_place(centres, survey: Survey, patch: int, rng) -> np.ndarray:
    """Windows near one anchor that look like it: one lake, one wood, one parcel."""
    region_rows, region_cols = np.nonzero(survey.blocked)
    region_centre = np.float32([region_cols.mean(), region_rows.mean()]) if region_rows.size else centres.mean(0)
    spread = float(max(survey.labels.shape)) / 4
    near_region = np.exp(-np.linalg.norm(centres - region_centre, axis=1) / spread)
    anchor = int(rng.choice(len(centres), p=near_region / near_region.sum()))
    side = max(3, int(round(patch * survey.factor)))
    colours = cv2.blur(survey.small.astype(np.float32), (side, side))
    colours = colours[centres[:, 1].astype(int), centres[:, 0].astype(int)]
    alike = np.linalg.norm(colours - colours[anchor], axis=1) < 14
    if np.count_nonzero(alike) < MIN_EXEMPLARS:
        alike[:] = True
    near_anchor = np.exp(-np.linalg.norm(centres - centres[anchor], axis=1) / (3 * side)) * alike
    count = min(EXEMPLARS_PER_COVER, int(np.count_nonzero(near_anchor)))
    picked = rng.choice(len(centres), size=count, replace=False, p=near_anchor / near_anchor.sum())
    return centres[picked]


def _cut_patches(source: np.ndarray, centres: np.ndarray, patch: int) -> np.ndarray:
    height, width = source.shape[:2]
    corners = np.round(centres - patch / 2).astype(np.int64)
    corners[:, 0] = np.clip(corners[:, 0], 0, width - patch)
    corners[:, 1] = np.clip(corners[:, 1], 0, height - patch)
    windows = np.lib.stride_tricks.sliding_window_view(source, (patch, patch), axis=(0, 1))
    # sliding_window_view puts the window axes last: (N, 3, P, P) -> (N, P, P, 3)
    return windows[corners[:, 1], corners[:, 0]].transpose(0, 2, 3, 1).astype(np.float32)


# --------------------------------------------------------------------------------
# Synthesise: quilt the exemplars, or paint procedurally, then shape the cover.
# --------------------------------------------------------------------------------


def synthesise(
    covers: tuple[str, ...],
    sources: dict[str, Optional[np.ndarray]],
    survey: Survey,
    region: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The fill for the region's bounding box: the main cover, further covers as patches in it."""
    fill = None
    for cover, weight in _cover_layout(covers, region, rng):
        layer = _texture(cover, sources.get(cover), survey, region.shape, rng)
        layer = _shape(cover, layer, weight > 0.5)
        fill = layer if fill is None else fill + (layer - fill) * weight[..., None]
    return fill


def _cover_layout(covers, region: np.ndarray, rng) -> list[tuple[str, np.ndarray]]:
    """The main cover fills the region; each further one takes a few soft-edged blobs inside it.

    "A lake with forest" thus becomes water with wooded islands, "forest with a
    lake" woodland with a pond, both away from the region's edge.
    """
    height, width = region.shape
    layout = [(covers[0], np.ones(region.shape, np.float32))]
    inland = cv2.distanceTransform(_padded_region(region), cv2.DIST_L2, 5)[1:-1, 1:-1]
    edge_room = np.clip((inland - 6) / 6, 0, 1)
    for cover in covers[1:]:
        blobs = smooth_noise(rng, region.shape, max(12.0, min(height, width) / 3), octaves=2)
        weight = np.clip((blobs - 0.6) * 3, 0, 1) * edge_room
        layout.append((cover, weight.astype(np.float32)))
    return layout


def _padded_region(region: np.ndarray) -> np.ndarray:
    """The region with a replicated 1 px border: the picture's edge is not a shore."""
    return cv2.copyMakeBorder(region.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)


def _texture(cover, exemplars, survey: Survey, shape, rng) -> np.ndarray:
    if exemplars is not None and cover in ROW_COVERS:
        return paint_field(rng, shape, crop=_row_palette(exemplars))
    if exemplars is not None:
        return quilt(exemplars, shape, rng)
    painted = PAINTERS[cover](rng, shape)
    return _tint_like_map(painted, cover, survey)


# Quilting mixes row directions of neighbouring parcels; rows are painted in the map's colours.
ROW_COVERS = (landcover.FIELD,)


def _row_palette(exemplars: np.ndarray) -> tuple:
    """Dark and light colour and row contrast of the parcel the exemplars come from."""
    mean = exemplars.reshape(-1, 3).mean(axis=0)
    contrast = float(np.clip(exemplars.mean(axis=3).std(), 6, 16))
    return (tuple(mean - 10), tuple(mean + 10), contrast)


def _tint_like_map(painted: np.ndarray, cover: str, survey: Survey) -> np.ndarray:
    """Shift a painted cover towards the colour the map gives it (a river, a road), if any."""
    present = survey.labels == COVER_INDEX[cover]
    present &= ~survey.blocked
    if present.sum() < 50:
        return painted
    target = np.median(survey.small[present].astype(np.float32), axis=0)
    return painted + 0.7 * (target - painted.reshape(-1, 3).mean(axis=0))


def quilt(exemplars: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Image quilting (Efros & Freeman): tile patches in raster order with hidden seams.

    For every tile, all candidates' squared difference to the already-filled
    overlap is computed at once and one of the best few is taken (variety
    without visible seams). The tile then replaces the canvas beyond the
    cheapest seam through the overlap, so crowns and furrows are cut along
    their own edges instead of being averaged into a blur.
    """
    patch = exemplars.shape[1]
    overlap = max(4, patch // 4)
    step = patch - overlap
    height, width = shape
    rows = max(1, math.ceil((height - overlap) / step))
    columns = max(1, math.ceil((width - overlap) / step))
    canvas = np.zeros((rows * step + overlap, columns * step + overlap, 3), np.float32)
    for row in range(rows):
        for column in range(columns):
            top, left = row * step, column * step
            target = canvas[top : top + patch, left : left + patch]
            seen = _overlap_mask(patch, overlap, row > 0, column > 0)
            chosen = exemplars[_pick(exemplars, target, seen, rng)]
            weight = _seam_weight(((chosen - target) ** 2).sum(axis=2), overlap, row > 0, column > 0)
            target += (chosen - target) * weight[..., None]
    return canvas[:height, :width]


def _overlap_mask(patch, overlap, has_top, has_left) -> np.ndarray:
    seen = np.zeros((patch, patch), bool)
    if has_top:
        seen[:overlap] = True
    if has_left:
        seen[:, :overlap] = True
    return seen


def _pick(exemplars, target, seen, rng) -> int:
    if not seen.any():
        return int(rng.integers(len(exemplars)))
    errors = ((exemplars[:, seen] - target[seen]) ** 2).sum(axis=(1, 2))
    good = np.flatnonzero(errors <= errors.min() * 1.1 + 1e-3)
    best_few = np.argsort(errors)[: max(3, len(good))]
    return int(rng.choice(best_few))


def _seam_weight(error: np.ndarray, overlap: int, has_top: bool, has_left: bool) -> np.ndarray:
    """Where the new tile shows (1) or the canvas stays (0), split along minimal-error seams."""
    weight = np.ones(error.shape, np.float32)
    if has_left:
        weight *= _beyond_seam(error[:, :overlap], error.shape[1])
    if has_top:
        weight *= _beyond_seam(error[:overlap, :].T, error.shape[0]).T
    if has_left or has_top:
        weight = cv2.GaussianBlur(weight, (3, 3), 0.8)  # antialias the cut
    return weight


def _beyond_seam(error: np.ndarray, length: int) -> np.ndarray:
    """Mask of pixels right of the cheapest top-to-bottom path through `error` (rows x overlap)."""
    rows, width = error.shape
    cost = error.copy()
    for row in range(1, rows):
        above = cost[row - 1]
        left_up = np.concatenate(([np.inf], above[:-1]))
        right_up = np.concatenate((above[1:], [np.inf]))
        cost[row] += np.minimum(np.minimum(left_up, above), right_up)
    path = np.empty(rows, np.int64)
    path[-1] = int(np.argmin(cost[-1]))
    for row in range(rows - 2, -1, -1):
        low, high = max(0, path[row + 1] - 1), min(width, path[row + 1] + 2)
        path[row] = low + int(np.argmin(cost[row, low:high]))
    return (np.arange(length)[None, :] >= path[:, None]).astype(np.float32)


def _shape(cover: str, layer: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Cover-specific touches that depend on the region's shape."""
    if cover == landcover.WATER:
        return _shape_water(layer, area)
    return layer


def _shape_water(layer: np.ndarray, area: np.ndarray) -> np.ndarray:
    """A dark line at the shore, lighter shallows, then deeper, darker water towards the middle."""
    inland = cv2.distanceTransform(_padded_region(area), cv2.DIST_L2, 5)[1:-1, 1:-1]
    reach = max(8.0, 0.2 * min(area.shape))
    depth = np.clip((inland - 4) / reach, 0, 1)
    shore_line = np.clip(1 - inland / 2.5, 0, 1) * area
    shallows = np.clip(1 - np.abs(inland - 5) / 4, 0, 1)
    shade = (1 - 0.12 * depth) * (1 - 0.2 * shore_line) * (1 + 0.07 * shallows)
    return layer * shade[..., None]


# --------------------------------------------------------------------------------
# Blend: the fill's colours meet the surroundings at the region's edge.
# --------------------------------------------------------------------------------


def ragged_edge(cover: str, alpha: np.ndarray, fill: np.ndarray, box) -> np.ndarray:
    """A wood ends in single crowns: near the edge, only the fill's bright crowns stay.

    The gaps between them show the old ground, so a new forest does not look cut out.
    """
    if cover != landcover.FOREST:
        return alpha
    sub_alpha = alpha[box]
    inland = cv2.distanceTransform(_padded_region(_visible_core(sub_alpha)), cv2.DIST_L2, 5)[1:-1, 1:-1]
    edge_zone = np.clip(1 - inland / 8.0, 0, 1)
    brightness = fill.mean(axis=2)
    low, high = np.percentile(brightness, [35, 65])
    crowns = np.clip((brightness - low) / max(high - low, 1.0), 0, 1)
    crowns = cv2.GaussianBlur(crowns, (0, 0), 1.0)
    shaped = alpha.copy()
    shaped[box] = sub_alpha * (1 - edge_zone * (1 - crowns))
    return shaped


def blend(crop: np.ndarray, fill: np.ndarray, alpha: np.ndarray, box) -> np.ndarray:
    """Poisson-blend the fill near the edge, keep its own colours inside, honour soft edges.

    seamlessClone alone drags the surroundings' colour into the whole region (a
    lake in a meadow turns green), so only a band along the edge takes the
    Poisson correction, and only up to MAX_COLOUR_SHIFT: a forest meeting a
    forest joins without a seam, a new lake keeps the colour of water.
    """
    sub_region = alpha[box] > 0
    surroundings = crop[box]
    cloned = _seamless_clone(_to_uint8(fill), surroundings, sub_region).astype(np.float32)
    inland = cv2.distanceTransform(_padded_region(sub_region), cv2.DIST_L2, 5)[1:-1, 1:-1]
    band = float(np.clip(0.08 * min(sub_region.shape), 3, 16))
    falloff = np.clip(1 - inland / band, 0, 1)[..., None]
    offset = np.clip(cloned - fill, -MAX_COLOUR_SHIFT, MAX_COLOUR_SHIFT)
    return _laid_over(crop, fill + offset * falloff, alpha, box)


def _laid_over(crop: np.ndarray, fill: np.ndarray, alpha: np.ndarray, box) -> np.ndarray:
    """The crop with the fill laid over its box, as opaque as the mask; exact where alpha is 0."""
    result = crop.copy()
    before = crop[box].astype(np.float32)
    result[box] = _to_uint8(before + (fill - before) * alpha[box][..., None])
    return result


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


# The thinnest region (px) whose colours cv2.seamlessClone can solve for.
POISSON_MIN_SIDE = 3


def _seamless_clone(source: np.ndarray, destination: np.ndarray, region: np.ndarray) -> np.ndarray:
    """cv2.seamlessClone for a region that may touch the picture's edge.

    OpenCV needs the mask's bounding box strictly inside the destination; a
    reflected border of 2 px around everything satisfies that, and is cut off again.
    A region thinner than POISSON_MIN_SIDE has no interior to solve for (OpenCV
    fails on it): the source comes back unchanged, so the fill keeps its colours.
    """
    rows, columns = np.nonzero(region)
    if rows.size == 0 or min(np.ptp(rows), np.ptp(columns)) + 1 < POISSON_MIN_SIDE:
        return np.ascontiguousarray(source)
    pad = 2
    border = cv2.BORDER_REFLECT
    src = cv2.copyMakeBorder(np.ascontiguousarray(source), pad, pad, pad, pad, border)
    dst = cv2.copyMakeBorder(np.ascontiguousarray(destination), pad, pad, pad, pad, border)
    mask = cv2.copyMakeBorder(region.astype(np.uint8) * 255, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(mask)
    cloned = cv2.seamlessClone(src, dst, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return cloned[pad:-pad, pad:-pad]


def _padded_bbox(region: np.ndarray, shape, margin: int) -> tuple[slice, slice]:
    rows, columns = np.nonzero(region)
    top, bottom = max(0, rows.min() - margin), min(shape[0], rows.max() + 1 + margin)
    left, right = max(0, columns.min() - margin), min(shape[1], columns.max() + 1 + margin)
    return slice(top, bottom), slice(left, right)
