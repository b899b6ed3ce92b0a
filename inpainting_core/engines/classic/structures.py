"""Built things and seasons for the classic engine, sized in metres and turned like the streets.

Every painter gets the box around the region (`base`: the map's own pixels
there, float RGB), the region (bool), the map's metres per pixel and the
street direction, and returns the picture for the box; the engine lays it
over the region. Geometry is computed on a rotated metre grid (`_Frame`), so
a stadium's pitch is 105 x 68 m on every map, and shrunk only when the
region is too small to hold it (the engine says so).

Sizes are typical for the Sauerland: a village church 35 m long, a hill
castle's curtain wall 60 x 40 m, a football ground with stands 150 x 110 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from inpainting_core.engines.classic.painters import (
    _mix,
    field_rows,
    grain,
    paint_forest,
    paint_meadow,
    paint_road,
    paint_snow,
    smooth_noise,
    stretched_noise,
)
from inpainting_core.engines.classic.scale import paint_at_scale, zoom_for

SUN = np.float32([1.0, 1.0])  # shadows fall to the lower right, as on the demo map


@dataclass
class _Frame:
    """Metre coordinates of every pixel: u along the streets, v across, origin at `centre`."""

    u: np.ndarray
    v: np.ndarray
    mpp: float
    fit: float  # 1, or how much the structure had to shrink to fit the region

    @classmethod
    def around(cls, region: np.ndarray, mpp: float, angle: float, extent_m: tuple[float, float]):
        height, width = region.shape
        inland = cv2.distanceTransform(cv2.copyMakeBorder(region.astype(np.uint8), 1, 1, 1, 1,
                                                          cv2.BORDER_CONSTANT, value=0), cv2.DIST_L2, 5)[1:-1, 1:-1]
        cy, cx = np.unravel_index(int(np.argmax(inland)), inland.shape)
        # the structure's half-diagonal must fit in the region's widest inscribed circle (a bit more)
        half_diagonal_px = math.hypot(*extent_m) / 2 / mpp
        fit = min(1.0, 1.25 * float(inland.max()) / half_diagonal_px) if half_diagonal_px > 0 else 1.0
        fit = max(fit, 0.05)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        dx, dy = (xx - cx) * mpp / fit, (yy - cy) * mpp / fit
        cos_a, sin_a = math.cos(angle), math.sin(angle)
        return cls(u=dx * cos_a + dy * sin_a, v=-dx * sin_a + dy * cos_a, mpp=mpp / fit, fit=fit)

    def soft(self, inside: np.ndarray) -> np.ndarray:
        """A signed distance in metres (negative inside) to a mask with a 1 px antialiased edge."""
        return np.clip(0.5 - inside / self.mpp, 0, 1).astype(np.float32)

    def box(self, u0, v0, length, depth) -> np.ndarray:
        """Soft mask of a rectangle centred at (u0, v0), `length` along u and `depth` along v."""
        outside = np.maximum(np.abs(self.u - u0) - length / 2, np.abs(self.v - v0) - depth / 2)
        return self.soft(outside)

    def disc(self, u0, v0, radius) -> np.ndarray:
        return self.soft(np.hypot(self.u - u0, self.v - v0) - radius)

    def line(self, distance: np.ndarray, width: float) -> np.ndarray:
        """A painted line: as strong as its width covers a pixel, never thinner than a pixel."""
        coverage = min(1.0, width / self.mpp)
        return (np.clip(0.5 - (np.abs(distance) - max(width, self.mpp) / 2) / self.mpp, 0, 1) * coverage).astype(
            np.float32
        )


def _over(image, colour, alpha):
    colour = np.asarray(colour, np.float32)
    return image + (colour - image) * alpha[..., None]


def _shadow(frame: _Frame, footprint: np.ndarray, height_m: float) -> np.ndarray:
    """The footprint's shadow, cast `height_m` (times the sun's slant) to the lower right."""
    shift = max(1, int(round(height_m * 0.5 / frame.mpp)))
    moved = np.roll(np.roll(footprint, shift, axis=0), shift, axis=1)
    moved[:shift] = 0
    moved[:, :shift] = 0
    return np.clip(moved - footprint, 0, 1)


def _gable(frame: _Frame, footprint: np.ndarray, across: np.ndarray, colour) -> tuple[np.ndarray, np.ndarray]:
    """A pitched roof: the half facing the sun lighter, the other darker."""
    colour = np.asarray(colour, np.float32)
    lit = np.where(across < 0, np.float32(1.12), np.float32(0.78))[..., None]
    return colour * lit, footprint


def paint_castle(rng, base, region, mpp, angle):
    """A castle filling the painted area: its curtain wall and towers along the outline, a paved
    or gravel courtyard inside, the keep and the hall in the middle (at their real size)."""
    frame = _Frame.around(region, mpp, angle, (70, 50))
    edge = _from_edge(region, mpp)
    yard_colour = _ground_colour(base, region, (150, 142, 124))
    image = base + (_paving(rng, region.shape, mpp, yard_colour * 0.95) - base) * (edge > 2.0)[..., None]
    image, _wall = _curtain_wall(rng, image, region, mpp, edge, (162, 154, 138))
    yard = frame.box(0, 0, 60, 40)
    image = _over(image, (150, 142, 124), yard)  # gravel courtyard
    wall_outline = np.maximum(np.abs(frame.u) - 30, np.abs(frame.v) - 20)
    wall = frame.line(wall_outline, 3.0)
    towers = np.zeros_like(wall)
    for su in (-30, 30):
        for sv in (-20, 20):
            towers = np.maximum(towers, frame.disc(su, sv, 5.0))
    keep = frame.box(-14, -4, 20, 14)
    hall = frame.box(12, 8, 26, 10)
    gate = frame.box(0, 20, 8, 8)
    built = np.clip(wall + towers + keep + hall + gate, 0, 1)
    image *= (1 - 0.5 * _shadow(frame, built, 14))[..., None]
    stone = np.float32([158, 150, 134]) * (1 + 0.06 * smooth_noise(rng, region.shape, 3 / frame.mpp + 1))[..., None]
    image = image + (stone - image) * np.clip(wall + gate, 0, 1)[..., None]
    slate = np.float32([84, 88, 96])
    tower_roof = slate * (1.15 - 0.35 * np.clip((frame.u + frame.v) / 14 + 0.5, 0, 1))[..., None]
    image = image + (tower_roof - image) * towers[..., None]
    for footprint, across, colour in ((keep, frame.v + 4, (92, 90, 96)), (hall, frame.v - 8, (146, 74, 56))):
        roof, mask = _gable(frame, footprint, across, colour)
        image = image + (roof - image) * mask[..., None]
    return image + grain(rng, region.shape, 2.5), frame.fit


def paint_church(rng, base, region, mpp, angle):
    """A church in its churchyard: the yard fills the painted area (lawn, rows of graves,
    trees along its wall), the church stands in the middle at its real size."""
    frame = _Frame.around(region, mpp, angle, (42, 28))
    edge = _from_edge(region, mpp)
    lawn = paint_at_scale(paint_meadow, rng, region.shape, zoom_for(mpp))
    image = base + (lawn - base) * (edge > 0.8)[..., None]
    wall = np.clip(1 - np.abs(edge - 0.9) / 0.7, 0, 1) * region
    image = _over(image, (150, 144, 132), wall)
    if mpp < 1.2:  # graves: 1 x 2 m stones in rows 3 m apart, where the map shows them
        rows = ((frame.v % 3.0) < 1.0) & ((frame.u % 2.0) < 1.1) & (edge > 4)
        image = _over(image, (176, 172, 166), (rows & (_hash(np.floor(frame.u / 2), np.floor(frame.v / 3)) < 0.7))
                      .astype(np.float32) * 0.8)
    paths = np.maximum(frame.line(frame.u, 2.5), frame.line(frame.v, 2.5)) * (edge > 1.5)
    image = _over(image, _ground_colour(base, region, (170, 162, 146)), paths)
    image = _paint_trees(rng, image, _tree_clumps(rng, region, mpp, edge), mpp)
    nave = frame.box(0, 0, 32, 12)
    transept = frame.box(6, 0, 10, 26)
    apse = frame.disc(16, 0, 6) * (frame.u > 16)
    tower = frame.box(-19, 0, 8, 8)
    built = np.clip(nave + transept + apse + tower, 0, 1)
    image *= (1 - 0.5 * _shadow(frame, built, 16))[..., None]
    tiles = np.float32([136, 72, 56]) if rng.random() < 0.5 else np.float32([84, 88, 98])
    roof, _ = _gable(frame, nave, frame.v, tiles)
    image = image + (roof - image) * nave[..., None]
    roof, _ = _gable(frame, transept, frame.u - 6, tiles)
    image = image + (roof - image) * (transept * (np.abs(frame.v) > 5.5))[..., None]
    image = _over(image, tiles * 0.9, apse)
    spire = np.float32([70, 74, 80]) * (1.2 - 0.4 * np.clip((frame.u + 19 + frame.v) / 8 + 0.5, 0, 1))[..., None]
    image = image + (spire - image) * tower[..., None]
    return image + grain(rng, region.shape, 2.5), frame.fit


def paint_stadium(rng, base, region, mpp, angle):
    """A football stadium: pitch, track and stands at their real size in the middle, a paved
    forecourt with a line of trees along the painted outline around them."""
    frame = _Frame.around(region, mpp, angle, (150, 110))
    edge = _from_edge(region, mpp)
    forecourt = _paving(rng, region.shape, mpp, _ground_colour(base, region, (146, 146, 142)))
    image = base + (forecourt - base) * (edge > 1.0)[..., None]
    image = _paint_trees(rng, image, _tree_clumps(rng, region, mpp, edge, near=10.0), mpp)
    outer = _rounded(frame, 75, 55, 22)
    inner = _rounded(frame, 60, 42, 14)
    stands = np.clip(outer - inner, 0, 1)
    image *= (1 - 0.45 * _shadow(frame, outer, 18))[..., None]
    depth = np.clip((np.maximum(np.abs(frame.u) - 60, np.abs(frame.v) - 42) + 15) / 15, 0, 1)
    roof = _mix((196, 198, 202), (150, 152, 160), depth)
    image = image + (roof - image) * stands[..., None]
    track = np.clip(inner - frame.box(0, 0, 105, 68), 0, 1)
    image = _over(image, (170, 84, 64), track)  # running track
    pitch = frame.box(0, 0, 105, 68)
    stripes = (np.floor(frame.u / 5.25) % 2 == 0).astype(np.float32)
    grass = _mix((64, 118, 50), (84, 140, 62), stripes)
    image = image + (grass - image) * pitch[..., None]
    lines = np.zeros_like(pitch)
    lines = np.maximum(lines, frame.line(np.maximum(np.abs(frame.u) - 52.5, np.abs(frame.v) - 34), 0.12 * 4))
    lines = np.maximum(lines, frame.line(frame.u, 0.5) * (np.abs(frame.v) < 34))
    lines = np.maximum(lines, frame.line(np.hypot(frame.u, frame.v) - 9.15, 0.5))
    for side in (-1, 1):
        box = np.maximum(np.abs(frame.u - side * (52.5 - 8.25)) - 8.25, np.abs(frame.v) - 20.15)
        lines = np.maximum(lines, frame.line(box, 0.5))
    image = _over(image, (236, 238, 236), lines * pitch)
    return image + grain(rng, region.shape, 2), frame.fit


def _rounded(frame: _Frame, half_u, half_v, radius) -> np.ndarray:
    du = np.maximum(np.abs(frame.u) - (half_u - radius), 0)
    dv = np.maximum(np.abs(frame.v) - (half_v - radius), 0)
    return frame.soft(np.hypot(du, dv) - radius)


def _axis(region: np.ndarray) -> float:
    """The long axis of the region (radians): a bridge or a railway runs along the stroke."""
    rows, columns = np.nonzero(region)
    if rows.size < 3:
        return 0.0
    coords = np.stack([columns, rows]).astype(np.float32)
    coords -= coords.mean(axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(coords @ coords.T)
    main = vectors[:, int(np.argmax(values))]
    return float(math.atan2(main[1], main[0]))


def _along_stroke(region, mpp) -> _Frame:
    """A frame along the stroke's long axis through its centre (no shrinking)."""
    height, width = region.shape
    rows, columns = np.nonzero(region)
    cy, cx = rows.mean(), columns.mean()
    axis = _axis(region)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = (xx - cx) * mpp, (yy - cy) * mpp
    cos_a, sin_a = math.cos(axis), math.sin(axis)
    return _Frame(u=dx * cos_a + dy * sin_a, v=-dx * sin_a + dy * cos_a, mpp=mpp, fit=1.0)


def paint_bridge(rng, base, region, mpp, angle):
    frame = _along_stroke(region, mpp)
    image = base.copy()
    deck = frame.box(0, 0, 1e6, 11)
    image *= (1 - 0.55 * _shadow(frame, deck, 8))[..., None]
    asphalt = paint_at_scale(paint_road, rng, region.shape, zoom_for(mpp))
    image = image + (asphalt - image) * deck[..., None]
    railings = np.maximum(frame.line(frame.v - 5.2, 0.6), frame.line(frame.v + 5.2, 0.6))
    image = _over(image, (196, 194, 188), railings)
    dashes = frame.line(frame.v, 0.15 * 3) * ((frame.u % 12) < 6)
    image = _over(image, (226, 226, 220), dashes)
    return image + grain(rng, region.shape, 2), 1.0


def paint_railway(rng, base, region, mpp, angle):
    frame = _along_stroke(region, mpp)
    image = base.copy()
    bed = frame.box(0, 0, 1e6, 9)
    ballast = _mix((110, 102, 94), (146, 138, 126), np.clip(
        0.5 + 0.25 * smooth_noise(rng, region.shape, max(1.0, 1.5 / mpp)), 0, 1))
    image = image + (ballast - image) * bed[..., None]
    sleepers = frame.box(0, 0, 1e6, 6.4) * (0.35 if mpp > 0.3 else ((frame.u % 0.6) < 0.25))
    image = _over(image, (92, 76, 62), sleepers * 0.8)
    rails = np.zeros_like(bed)
    for track in (-2.25, 2.25):
        for rail in (-0.72, 0.72):
            rails = np.maximum(rails, frame.line(frame.v - track - rail, 0.2))
    image = _over(image, (70, 70, 74), np.clip(rails * 1.5, 0, 1))
    return image + grain(rng, region.shape, 2), 1.0


def paint_wind_farm(rng, base, region, mpp, angle):
    """Wind turbines on the ground that is there: white three-bladed rotors (120 m across)
    with the long shadow of their 120 m towers, 300 m apart along the streets' direction."""
    frame = _Frame.around(region, mpp, angle, (0, 0))
    frame.fit = 1.0
    image = base.copy()
    spacing = 300.0
    cell_u, cell_v = np.round(frame.u / spacing), np.round(frame.v / spacing)
    du, dv = frame.u - cell_u * spacing, frame.v - cell_v * spacing  # metres from the nearest turbine
    turn = _hash(cell_u, cell_v) * (2 * math.pi / 3)  # each rotor stands at its own angle
    radius = np.hypot(du, dv)
    sector = (np.arctan2(dv, du) - turn + math.pi / 3) % (2 * math.pi / 3) - math.pi / 3
    along, across = radius * np.cos(sector), radius * np.sin(sector)
    blades = frame.line(across, 3.0) * (along < 60)
    hub = frame.soft(radius - 2.5)
    # back to picture directions (right, down) to cast the tower's shadow to the lower right
    right = du * math.cos(angle) - dv * math.sin(angle)
    down = du * math.sin(angle) + dv * math.cos(angle)
    shadow_along, shadow_across = (right + down) / math.sqrt(2), (right - down) / math.sqrt(2)
    shadow = frame.line(shadow_across, 4.0) * (shadow_along > 0) * (shadow_along < 85)
    image *= (1 - 0.45 * shadow)[..., None]
    image = _over(image, (236, 238, 240), np.clip(np.maximum(blades, hub), 0, 1))
    return image + grain(rng, region.shape, 1.5), 1.0


def _hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per integer cell (a, b)."""
    return np.abs(np.sin(a * 12.9898 + b * 78.233) * 43758.5453) % 1.0


def paint_vineyard(rng, base, region, mpp, angle):
    shape = region.shape
    period = max(2.2 / mpp, 2.5)  # vine rows 2.2 m apart, never finer than the pixels show
    wobble = stretched_noise(rng, shape, 6, 8, angle)
    rows = field_rows(shape, angle + math.pi / 2, period, wobble)
    vines = _mix((150, 128, 96), (72, 98, 44), np.clip(rows * 0.5 + 0.5, 0, 1))
    terraces = field_rows(shape, angle + math.pi / 2, max(25 / mpp, 6), wobble * 0)
    image = vines * (1 - 0.12 * np.clip(terraces - 0.8, 0, 1) * 5)[..., None]
    return image + grain(rng, shape, 3), 1.0


def paint_park(rng, base, region, mpp, angle, lawn=None):
    shape = region.shape
    zoom = zoom_for(mpp)
    image = lawn if lawn is not None else paint_at_scale(paint_meadow, rng, shape, zoom)
    clumps = np.clip((smooth_noise(rng, shape, max(3.0, 18 / mpp), octaves=2) - 0.55) * 3, 0, 1)
    trees = paint_at_scale(paint_forest, rng, shape, zoom)
    image = image * (1 - 0.5 * _shifted(clumps, max(1, round(3 / mpp))))[..., None]
    image = image + (trees - image) * clumps[..., None]
    paths = smooth_noise(rng, shape, max(4.0, 45 / mpp))
    path = np.clip(1 - np.abs(paths) / max(0.03, 1.6 / mpp * 0.03), 0, 1) * (clumps < 0.2)
    image = _over(image, (196, 186, 160), path)
    return image + grain(rng, shape, 2), 1.0


def _shifted(mask, shift):
    moved = np.roll(np.roll(mask, shift, axis=0), shift, axis=1)
    return np.clip(moved - mask, 0, 1)


def add_harbour(rng, water: np.ndarray, water_alpha: np.ndarray, mpp, angle):
    """Piers and moored boats on a painted stretch of water (in place of a shore's calm)."""
    frame = _Frame.around(water_alpha > 0.5, mpp, angle, (0, 0))
    frame.fit, frame.mpp = 1.0, mpp
    inland = cv2.distanceTransform((water_alpha > 0.5).astype(np.uint8), cv2.DIST_L2, 5) * mpp
    image = water.copy()
    pier_every = 30.0
    pier_lane = ((frame.u + 1e3) % pier_every) - pier_every / 2
    near_shore = (inland < 45) & (water_alpha > 0.5)
    piers = frame.line(pier_lane, 2.5) * near_shore
    berth = np.floor((frame.u + 1e3) / pier_every)
    slot = np.floor((frame.v + 1e3) / 9)
    beside_pier = np.abs(np.abs(pier_lane) - 3.4) < 1.3  # boats 2.6 m wide moored on both sides
    along = np.abs(((frame.v + 1e3) % 9) - 4.5) < 3.6  # and 7 m long, 9 m apart
    boat = beside_pier & along & (_hash(slot, berth + 3 * np.sign(pier_lane)) < 0.45) & near_shore & (inland > 3)
    boats = boat.astype(np.float32)
    image *= (1 - 0.5 * _shadow(frame, np.maximum(boats, piers), 1.5))[..., None]
    image = _over(image, (168, 150, 122), piers)
    hulls = _mix((236, 236, 232), (200, 206, 214), (_hash(slot + 11, berth) > 0.6).astype(np.float32))
    image = image + (hulls - image) * boats[..., None]
    return image


def snow_over(rng, base, region, mpp, angle):
    """Winter: the region keeps its houses, trees and roads, but under fresh snow."""
    shape = region.shape
    snow = paint_at_scale(paint_snow, rng, shape, zoom_for(mpp))
    grey = base.mean(axis=2)
    detail = grey - cv2.GaussianBlur(grey, (0, 0), 2.0)
    dark = np.clip((90 - cv2.GaussianBlur(grey, (0, 0), 1.0)) / 90, 0, 1)  # walls, shadows, water stay dark-ish
    image = snow + (detail * 0.9)[..., None]
    image = image + (base * 0.8 - image) * (dark * 0.35)[..., None]
    return image, 1.0


# --- Grounds: what a structure's painted area holds around the building itself -------------


def _from_edge(region: np.ndarray, mpp: float) -> np.ndarray:
    """Metres from the painted area's outline, inside it (the picture's edge is no outline)."""
    padded = cv2.copyMakeBorder(region.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1] * np.float32(mpp)


def _paving(rng, shape, mpp, colour, contrast=10.0) -> np.ndarray:
    """Paving or gravel in `colour`: worn patches of a few metres and grain, at the map's scale."""
    wear = smooth_noise(rng, shape, max(1.5, 6.0 / mpp), octaves=3)
    return np.asarray(colour, np.float32) + (wear * contrast)[..., None] + grain(rng, shape, 3.0)


def _ground_colour(base: np.ndarray, region: np.ndarray, fallback) -> np.ndarray:
    """A light, grey paving colour taken from the map around the area (its own paths and yards)."""
    around = ~region
    pixels = base[around] if around.sum() > 50 else base.reshape(-1, 3)
    spread = pixels.max(axis=1) - pixels.min(axis=1)
    grey = pixels[(spread < 25) & (pixels.mean(axis=1) > 90)]
    if len(grey) < 30:
        return np.asarray(fallback, np.float32)
    return np.median(grey, axis=0).astype(np.float32)


def _tree_clumps(rng, region, mpp, edge, near=8.0) -> np.ndarray:
    """Soft masks of tree crowns (5-9 m) in a band along the outline."""
    shape = region.shape
    crowns = smooth_noise(rng, shape, max(1.5, 3.5 / mpp), octaves=1)
    band = np.clip(1 - np.abs(edge - near * 0.5) / near, 0, 1) * region
    return np.clip((crowns - 0.6) * 3, 0, 1) * band


def _paint_trees(rng, image, trees, mpp):
    shaded = image * (1 - 0.45 * _shifted(trees, max(1, round(2.5 / mpp))))[..., None]
    canopy = paint_at_scale(paint_forest, rng, trees.shape, zoom_for(mpp))
    return shaded + (canopy - shaded) * trees[..., None]


def _curtain_wall(rng, image, region, mpp, edge, colour):
    """A stone wall along the painted outline, with round towers every 25-35 m along it."""
    wall = np.clip(1 - np.abs(edge - 3.5) / 1.6, 0, 1) * region
    towers = np.zeros(region.shape, np.float32)
    contours, _ = cv2.findContours(((edge >= 3.5) & region).astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    spacing = max(3, int(round(30.0 / mpp)))
    radius = max(1, int(round(4.5 / mpp)))
    for contour in contours:
        if len(contour) < spacing // 2:
            continue
        for point in contour[:: spacing, 0]:
            cv2.circle(towers, (int(point[0]), int(point[1])), radius, 1.0, -1, cv2.LINE_AA)
    towers *= region
    built = np.clip(wall + towers, 0, 1)
    image = image * (1 - 0.5 * _shifted(built, max(1, round(6 / mpp))))[..., None]
    stone = np.asarray(colour, np.float32) * (1 + 0.07 * smooth_noise(rng, region.shape, max(1.0, 1.5 / mpp)))[..., None]
    image = image + (stone - image) * wall[..., None]
    lit = np.asarray(colour, np.float32) * 0.62  # slate cones of the towers
    return image + (lit - image) * towers[..., None], built


def paint_market(rng, base, region, mpp, angle):
    """A market square filling the painted area: cobbles in the map's paving colour, rows of
    stalls with coloured awnings (3 x 2 m) in the middle, a few trees along its edge."""
    frame = _Frame.around(region, mpp, angle, (0, 0))
    frame.fit, frame.mpp = 1.0, mpp
    edge = _from_edge(region, mpp)
    image = base + (_paving(rng, region.shape, mpp, _ground_colour(base, region, (160, 150, 138)), 8.0)
                    - base) * (edge > 0.5)[..., None]
    cell_u, cell_v = np.floor(frame.u / 4.0), np.floor(frame.v / 6.0)
    stall = ((frame.u % 4.0) < 3.0) & ((frame.v % 6.0) < 2.0) & (edge > 8) & (_hash(cell_u, cell_v) < 0.55)
    awnings = np.float32([[196, 64, 52], [232, 232, 226], [60, 110, 160], [210, 170, 60]])
    colour = awnings[(_hash(cell_u + 7, cell_v) * len(awnings)).astype(int) % len(awnings)]
    stalls = stall.astype(np.float32)
    image = image * (1 - 0.4 * _shifted(stalls, max(1, round(1.5 / mpp))))[..., None]
    image = image + (colour - image) * stalls[..., None]
    image = _paint_trees(rng, image, _tree_clumps(rng, region, mpp, edge, near=6.0), mpp)
    return image + grain(rng, region.shape, 2), 1.0


STRUCTURES: dict[str, Callable] = {
    "market square": paint_market,
    "castle": paint_castle,
    "church": paint_church,
    "stadium": paint_stadium,
    "bridge": paint_bridge,
    "railway": paint_railway,
    "wind farm": paint_wind_farm,
    "vineyard": paint_vineyard,
    "park": paint_park,
    "snow": snow_over,
}
