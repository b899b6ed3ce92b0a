"""A synthetic aerial map in the spirit of Olpe, for demos, tests and first runs.

The museum's real orthophotos cannot ship with the code, yet every part of the
project needs a map to work on. This one is painted from seeded noise: a
winding reservoir like the Biggesee, a river feeding it, wooded hills, a
patchwork of fields and meadows, and a small town on a street grid with roads
leading out of it. It uses the classic engine's procedural painters, so both
draw land covers the same way, and it can return its land-cover layout, which
lets tests check what the engine recognises on it.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
from PIL import Image

from inpainting_core import landcover
from inpainting_core.engines.classic.painters import (
    FIELD_CROPS,
    field_rows,
    grain,
    paint_buildings,
    paint_forest,
    paint_meadow,
    paint_road,
    paint_water,
    smooth_noise,
    tree_canopy,
)

# The postcode of Olpe: the same map every time unless a caller asks otherwise.
DEFAULT_SEED = 57462
LABELS = landcover.ALL
_INDEX = {name: index for index, name in enumerate(LABELS)}


def make_demo_map(
    width: int = 1536, height: int = 1024, seed: int = DEFAULT_SEED, return_labels: bool = False
):
    """Paint the demo map; with `return_labels`, also an HxW uint8 array of land covers.

    Label values index `inpainting_core.landcover.ALL` (see `LABELS`).
    """
    image, labels = _painted(int(width), int(height), int(seed))
    picture = Image.fromarray(image)  # Pillow copies: callers may draw on it
    if return_labels:
        return picture, labels.copy()
    return picture


def make_demo_mask_example(
    width: int = 1536, height: int = 1024, seed: int = DEFAULT_SEED, stroke: int = 40
) -> Image.Image:
    """Brush strokes along the lake shore, white on transparency, as a painting front end sends.

    The strokes follow a stretch of the shoreline, so a wish like "more forest
    here" or "a beach here" can be tried on the demo map at once.
    """
    _image, labels = _painted(int(width), int(height), int(seed))
    water = (labels == _INDEX[landcover.WATER]).astype(np.uint8)
    # opening removes the narrow river, leaving the lake
    lake = cv2.morphologyEx(water, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25)))
    contours, _hierarchy = cv2.findContours(lake, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    shore = max(contours, key=cv2.contourArea)[:, 0, :]
    start = int(np.argmin(np.linalg.norm(shore - np.float32([0.62 * width, 0.78 * height]), axis=1)))
    length = min(len(shore), int(0.3 * (width + height)))
    stretch = np.roll(shore, -start, axis=0)[:length:8]
    # where the lake runs off the map, its outline follows the map's edge: no shore there
    inside = (stretch[:, 0] > 1) & (stretch[:, 0] < width - 2) & (stretch[:, 1] > 1) & (stretch[:, 1] < height - 2)
    cuts = np.flatnonzero(np.diff(inside.astype(np.int8))) + 1
    runs = [
        run.astype(np.int32)
        for run, on_shore in zip(np.split(stretch, cuts), np.split(inside, cuts), strict=True)
        if on_shore[0] and len(run) > 1
    ]
    alpha = np.zeros((height, width), np.uint8)
    cv2.polylines(alpha, runs, False, 255, stroke, cv2.LINE_AA)
    rgba = np.dstack([np.full((height, width, 3), 255, np.uint8), alpha])
    return Image.fromarray(rgba)


def make_demo_regions(width: int = 1536, height: int = 1024, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The demo map's true regions, HxW int32: every field or meadow parcel its own id,
    every other land cover one id each (its label + the parcels' count).

    What a visitor sees as one field is one id here: the select tool's segmentation
    is checked against it (tests/test_segmentation.py, tests/test_kiosk_browser.py).
    """
    _image, labels = _painted(int(width), int(height), int(seed))
    plan = _lay_out(np.random.default_rng(int(seed)), (int(height), int(width)))
    parcels = plan["parcels"].astype(np.int32)
    regions = parcels.copy()
    open_land = (labels == _INDEX[landcover.FIELD]) | (labels == _INDEX[landcover.MEADOW])
    regions[~open_land] = int(parcels.max()) + 1 + labels[~open_land].astype(np.int32)
    return regions


def land_cover_fractions(labels: np.ndarray) -> dict[str, float]:
    """Share of the map each land cover takes, e.g. {"water": 0.12, ...}."""
    counts = np.bincount(labels.ravel(), minlength=len(LABELS))
    return {name: float(counts[index]) / labels.size for index, name in enumerate(LABELS)}


@functools.lru_cache(maxsize=4)
def _painted(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Painting takes a good fraction of a second; the same seed always gives the same map."""
    rng = np.random.default_rng(seed)
    shape = (height, width)
    plan = _lay_out(rng, shape)
    image = _paint(rng, shape, plan)
    labels = _labels(plan)
    image.flags.writeable = False
    labels.flags.writeable = False
    return image, labels


# --------------------------------------------------------------------------------
# Layout: where each land cover lies, as soft float masks in [0, 1].
# --------------------------------------------------------------------------------


def _lay_out(rng: np.random.Generator, shape: tuple[int, int]) -> dict:
    height, width = shape
    scale = min(height, width) / 1024
    lake_axis = _smooth_path(
        _jitter(rng, [(0.50, 1.08), (0.56, 0.86), (0.66, 0.70), (0.80, 0.64), (0.92, 0.50), (1.08, 0.42)], 0.025),
        shape,
    )
    lake_arm = _smooth_path(_jitter(rng, [(0.74, 0.66), (0.80, 0.82), (0.92, 0.92)], 0.02), shape)
    river = _smooth_path(
        _jitter(rng, [(-0.02, 0.56), (0.12, 0.60), (0.24, 0.70), (0.36, 0.74), (0.46, 0.84), (0.53, 0.95)], 0.02),
        shape,
    )
    wobble = smooth_noise(rng, shape, 90 * scale, octaves=3)
    lake = _band(shape, [lake_axis], 70 * scale, wobble * 22 * scale)
    lake = np.maximum(lake, _band(shape, [lake_arm], 38 * scale, wobble * 14 * scale))
    river_mask = _band(shape, [river], 5 * scale, wobble * 1.5 * scale)
    water = np.maximum(lake, river_mask)

    town_centre = np.float32([0.30 * width, 0.36 * height])
    town = _blob(shape, town_centre, 0.17 * width, smooth_noise(rng, shape, 120 * scale, octaves=2))
    town *= 1 - _dilate(water, 6)

    hills = smooth_noise(rng, shape, 260 * scale, octaves=3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    slope = 1.1 * (np.abs(xx / width - 0.35) + np.abs(yy / height - 0.45))  # wooded away from town
    forest = np.clip((hills * 0.9 + slope - 0.75) * 6, 0, 1)
    forest *= (1 - _dilate(town, 30)) * (1 - water)

    roads = _roads(rng, shape, town_centre, scale)
    parcels, parcel_kinds, lanes = _parcels(rng, shape, scale)
    return {
        "water": water,
        "lake": lake,
        "town": town,
        "forest": forest,
        "roads": roads * (1 - lake),
        "parcels": parcels,
        "parcel_kinds": parcel_kinds,
        "lanes": lanes * (1 - forest) * (1 - town) * (1 - water),
        "scale": scale,
    }


def _jitter(rng, points, amount):
    points = np.float32(points)
    return points + rng.uniform(-amount, amount, points.shape).astype(np.float32)


def _smooth_path(points, shape, rounds: int = 4) -> np.ndarray:
    """Chaikin-smoothed polyline through relative control points, in pixels."""
    height, width = shape
    path = np.float32(points) * np.float32([width, height])
    for _round in range(rounds):
        ahead, behind = path[:-1], path[1:]
        cut = np.empty((2 * len(ahead), 2), np.float32)
        cut[0::2] = 0.75 * ahead + 0.25 * behind
        cut[1::2] = 0.25 * ahead + 0.75 * behind
        path = np.vstack([path[:1], cut, path[-1:]])
    return path


def _distance_to(shape, paths, thickness: int = 1) -> np.ndarray:
    canvas = np.full(shape, 255, np.uint8)
    cv2.polylines(canvas, [np.round(p).astype(np.int32) for p in paths], False, 0, thickness)
    return cv2.distanceTransform(canvas, cv2.DIST_L2, 5)


def _band(shape, paths, half_width: float, wobble: np.ndarray) -> np.ndarray:
    """Soft mask of everything within `half_width` (+ wobble) of the paths."""
    distance = _distance_to(shape, paths)
    return np.clip(half_width + wobble - distance + 0.5, 0, 1)


def _blob(shape, centre, radius, wobble) -> np.ndarray:
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(xx - centre[0], (yy - centre[1]) * 1.3)
    return np.clip((radius * (1 + 0.3 * wobble) - distance) / 4, 0, 1)


def _dilate(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Grow a soft mask by `pixels`, with a soft edge (a distance transform beats a large kernel)."""
    outside = (mask < 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    return np.clip(pixels + 0.5 - distance, 0, 1)


def _roads(rng, shape, town_centre, scale) -> np.ndarray:
    """Main roads from the town to the map's edges, as an antialiased soft mask."""
    height, width = shape
    tx, ty = town_centre[0] / width, town_centre[1] / height
    routes = [
        [(-0.02, 0.30), (0.12, 0.33), (tx, ty), (0.48, 0.26), (0.64, 0.20), (0.82, 0.17), (1.02, 0.12)],
        [(tx, ty), (0.33, 0.48), (0.40, 0.62), (0.44, 0.80), (0.47, 1.02)],
        [(tx, ty), (0.26, 0.20), (0.24, 0.08), (0.27, -0.02)],
        [(0.64, 0.20), (0.70, 0.36), (0.76, 0.46), (0.90, 0.40), (1.02, 0.30)],
    ]
    canvas = np.zeros(shape, np.uint8)
    thickness = max(3, int(round(7 * scale)))
    for route in routes:
        path = _smooth_path(_jitter(rng, route, 0.012), shape, rounds=3)
        cv2.polylines(canvas, [np.round(path * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, 4)
    return canvas.astype(np.float32) / 255


def _parcels(rng, shape, scale):
    """Voronoi patchwork of parcels, each a field or a meadow, with lanes between some."""
    height, width = shape
    cell = 150 * scale
    gy, gx = np.mgrid[-1 : height / cell + 1, -1 : width / cell + 1]
    points = np.stack([gx.ravel(), gy.ravel()], axis=1) * cell
    points += rng.uniform(-0.42, 0.42, points.shape) * cell
    subdiv = cv2.Subdiv2D((-int(2 * cell), -int(2 * cell), width + int(4 * cell), height + int(4 * cell)))
    subdiv.insert([(float(x), float(y)) for x, y in points])
    facets, _centres = subdiv.getVoronoiFacetList([])
    parcels = np.zeros(shape, np.int32)
    for index, facet in enumerate(facets):
        cv2.fillPoly(parcels, [np.round(facet).astype(np.int32)], index)
    kinds = rng.random(len(facets)) < 0.62  # True: field, False: meadow
    edges = (cv2.Laplacian(parcels.astype(np.float32), cv2.CV_32F) != 0).astype(np.float32)
    lane_parcels = rng.random(len(facets)) < 0.35
    lanes = cv2.GaussianBlur(edges * lane_parcels[parcels], (0, 0), 0.8) * 2.0
    return parcels, kinds, np.clip(lanes, 0, 1)


# --------------------------------------------------------------------------------
# Painting: one picture per land cover, layered by the soft masks.
# --------------------------------------------------------------------------------


def _paint(rng, shape, plan) -> np.ndarray:
    scale = plan["scale"]
    image = paint_meadow(rng, shape)
    image = _over(image, _patchwork(rng, shape, plan), _field_alpha(plan))
    image = _over(image, np.float32([176, 164, 136]) + grain(rng, shape, 6), plan["lanes"])

    canopy, canopy_shading = tree_canopy(rng, shape, 5.0)
    forest_edge = np.clip((cv2.GaussianBlur(plan["forest"], (0, 0), 3) - 0.5) * 3 + canopy - 0.5, 0, 1)
    forest_edge = np.clip(forest_edge * 2.5, 0, 1)
    image = _cast_shadow(image, forest_edge, int(round(5 * scale)), 0.45)
    image = _over(image, paint_forest(rng, shape, canopy=(canopy, canopy_shading)), forest_edge)

    image = _paint_town(rng, image, plan["town"], scale)
    image = _over(image, paint_road(rng, shape), plan["roads"])
    image = _paint_water(rng, shape, image, plan)

    haze = np.float32([196, 204, 212])
    image = image * 0.95 + haze * 0.05 + grain(rng, shape, 1.5)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    return np.clip(image, 0, 255).astype(np.uint8)


def _paint_town(rng, image, town, scale) -> np.ndarray:
    """Paint houses only where the town lies: the street grid is the costliest layer."""
    rows, columns = np.nonzero(town > 0)
    if rows.size == 0:
        return image
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    houses, _roofs = paint_buildings(
        rng, (bottom - top, right - left), angle=float(rng.uniform(0.1, 0.5)), spacing=22 * scale
    )
    window = (slice(top, bottom), slice(left, right))
    image[window] = _over(image[window], houses, town[window])
    return image


def _field_alpha(plan) -> np.ndarray:
    return plan["parcel_kinds"][plan["parcels"]].astype(np.float32)


def _patchwork(rng, shape, plan) -> np.ndarray:
    """All field parcels at once: per-parcel row direction, row spacing and crop."""
    parcels = plan["parcels"]
    count = int(parcels.max()) + 1
    angle = rng.uniform(0, math.pi, count).astype(np.float32)[parcels]
    period = rng.uniform(5.0, 9.0, count).astype(np.float32)[parcels]
    crops = rng.integers(len(FIELD_CROPS), size=count)
    dark = np.float32([FIELD_CROPS[c][0] for c in crops])[parcels]
    light = np.float32([FIELD_CROPS[c][1] for c in crops])[parcels]
    contrast = np.float32([FIELD_CROPS[c][2] for c in crops])[parcels]
    rows = field_rows(shape, angle, period, smooth_noise(rng, shape, 20))
    tone = np.clip(smooth_noise(rng, shape, 110, octaves=2) * 0.25 + 0.5, 0, 1)[..., None]
    image = dark + (light - dark) * tone + (rows * contrast)[..., None]
    return image + grain(rng, shape, 3)


def _paint_water(rng, shape, image, plan) -> np.ndarray:
    """Water gets darker with depth, lighter and browner in the shallows by the shore."""
    water = plan["water"]
    inside = cv2.distanceTransform((water > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    depth = np.clip(inside / (40 * plan["scale"]), 0, 1)[..., None]
    shallows = np.float32([78, 96, 84])
    colour = paint_water(rng, shape) * (1.1 - 0.22 * depth)
    colour = colour * (0.4 + 0.6 * depth) + shallows * (0.6 - 0.6 * depth)
    shore = np.clip(_dilate(water, 3) - water, 0, 1)
    image = _over(image, np.float32([120, 114, 92]) + grain(rng, shape, 5), shore * 0.7)
    return _over(image, colour, cv2.GaussianBlur(water, (0, 0), 0.8))


def _cast_shadow(image, caster, offset, strength) -> np.ndarray:
    """Darken the ground to the lower right of tall things (the sun stands upper left)."""
    shadow = np.roll(np.roll(caster, offset, axis=0), offset, axis=1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), offset * 0.4 + 0.5)
    return image * (1 - strength * np.clip(shadow - caster, 0, 1))[..., None]


def _over(base: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    layer = layer - base
    layer *= alpha[..., None]
    return base + layer


def _labels(plan) -> np.ndarray:
    labels = np.full(plan["parcels"].shape, _INDEX[landcover.MEADOW], np.uint8)
    labels[_field_alpha(plan) > 0.5] = _INDEX[landcover.FIELD]
    labels[plan["forest"] > 0.5] = _INDEX[landcover.FOREST]
    labels[plan["town"] > 0.5] = _INDEX[landcover.BUILDINGS]
    labels[plan["roads"] > 0.5] = _INDEX[landcover.ROAD]
    labels[plan["water"] > 0.5] = _INDEX[landcover.WATER]
    return labels
