"""Procedural painters of the classic engine: float32 RGB pictures in [0, 255].

One painter per land cover (`PAINTERS`). They paint what the map does not
show (snow, lava on a map of the Sauerland), and the synthetic demo map
(`tooling.demo`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import cv2
import numpy as np

from inpainting_core import landcover

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
    """Open water as aerial photos show it: dark blue-green, smooth, with a faint sky
    reflection across it and wind ripples a few metres long (colours measured on the
    shared maps' lake, reservoir and river: Lab lightness 24-42, a* -6..-14)."""
    wind = float(rng.uniform(0, math.pi))
    ripples = stretched_noise(rng, shape, 2.5, 6, wind)
    swell = smooth_noise(rng, shape, 110, octaves=2)
    image = _mix((42, 62, 64), (62, 82, 84), np.clip(swell * 0.2 + 0.5, 0, 1))
    sky = stretched_noise(rng, shape, 90, 3, wind + math.pi / 2)  # a faint reflection of the sky
    image += (sky * 2.5)[..., None] + ripples[..., None] * np.float32(1.2)
    return image + grain(rng, shape, 1.0)


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
