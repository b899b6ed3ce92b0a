"""Built places and seasons for the classic engine, laid out over the whole painted area.

A visitor who paints a large area and wishes for a castle wants the whole area
to read as a castle, not a toy in the middle of a disc. So every painter lays
the place out to the painted shape: a castle's curtain wall and towers run
along the outline, its halls stand against the wall around a paved courtyard
with the keep; a church stands in its churchyard with graves, paths, trees
and a wall; a market square is a paved square framed by town houses along
the outline; a stadium has its stands and, around it, forecourt, car parks
and trees. Sizes are real sizes in metres at the map's scale (`_Frame`): the
scale decides how big a tower or a grave is, not how much of the area is
used. Only when the area is too small for the place's core is it painted
smaller than life (the engine says so).

Materials are the map's own (`sites.MapTextures`): its lawns, trees and
paving quilted from the map, roofs in its roof colours and grain, shadows
cast in the direction and darkness of the map's own shadows (`sun`).

Every painter takes a `Site` (the box around the region: the map's pixels,
the region, metres per pixel, the streets' direction, the map's materials)
and returns the picture for the box and how much it had to shrink (1: not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import cv2
import numpy as np

from inpainting_core.engines.classic import measures
from inpainting_core.engines.classic.farmland import paint_vineyard
from inpainting_core.engines.classic.painters import (
    _mix,
    grain,
    paint_road,
    smooth_noise,
)
from inpainting_core.engines.classic.scale import paint_at_scale, zoom_for
from inpainting_core.engines.classic.shapes import long_axis
from inpainting_core.engines.classic.sites import (
    MIN_DETAIL_PX,
    Building,
    MapTextures,
    along_outline,
    build,
    cast_shadow,
    lab_to_rgb,
    park_cars,
    plant_trees,
    scatter,
)


@dataclass
class Site:
    """Where a built place is painted: the box around the painted region and the map's materials."""

    rng: np.random.Generator
    base: np.ndarray  # the map's own pixels in the box (float RGB)
    region: np.ndarray  # the painted region in the box (bool)
    mpp: float
    angle: float  # the streets' direction (radians)
    textures: MapTextures

    @property
    def shape(self):
        return self.region.shape

    @cached_property
    def edge_px(self) -> np.ndarray:
        """Pixels from the painted area's outline, inside it (the picture's edge is no outline)."""
        padded = cv2.copyMakeBorder(self.region.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
        return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]

    def frame(self, extent_m: tuple[float, float]) -> "_Frame":
        return _Frame.around(self.region, self.mpp, self.angle, extent_m)

    def paint(self, image, colour_lab, mask) -> np.ndarray:
        """`mask` (soft) painted in one Lab colour."""
        return image + (lab_to_rgb(colour_lab) - image) * np.asarray(mask, np.float32)[..., None]


@dataclass
class _Frame:
    """Metre coordinates of every pixel: u along the streets, v across, origin at the widest place.

    `mpp` is metres per pixel as the place is drawn: the map's, or more where
    the place had to shrink by `fit` to fit the painted area.
    """

    u: np.ndarray
    v: np.ndarray
    mpp: float
    fit: float  # 1, or how much the structure had to shrink to fit the region
    centre: tuple[float, float] = (0.0, 0.0)  # px
    angle: float = 0.0

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
        return cls(u=dx * cos_a + dy * sin_a, v=-dx * sin_a + dy * cos_a, mpp=mpp / fit, fit=fit,
                   centre=(float(cx), float(cy)), angle=angle)

    def point(self, u: float, v: float) -> tuple[float, float]:
        """The pixel (x, y) of the place at (u, v) metres."""
        cos_a, sin_a = math.cos(self.angle), math.sin(self.angle)
        return (self.centre[0] + (u * cos_a - v * sin_a) / self.mpp,
                self.centre[1] + (u * sin_a + v * cos_a) / self.mpp)

    def px(self, metres: float) -> float:
        return metres / self.mpp

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

    def house(self, u, v, length, depth, height, roof="gable", across=False, colour=None) -> Building:
        """A building centred at (u, v) m, `length` along the frame's u (its ridge, unless `across`)."""
        angle = self.angle + (math.pi / 2 if across else 0.0)
        size = (depth, length) if across else (length, depth)
        return Building.box(self.point(u, v), self.px(size[0]), self.px(size[1]), angle, height, roof, colour)


def _over(image, colour, alpha):
    colour = np.asarray(colour, np.float32)
    return image + (colour - image) * np.asarray(alpha, np.float32)[..., None]


def _stone(textures: MapTextures, lighter: float = 6.0) -> np.ndarray:
    """Light, warm stone: the map's paving colour a little lighter and yellower (Lab)."""
    colour = np.float32(textures.paving_lab).copy()
    colour[0] = float(np.clip(colour[0] + lighter, 50, 85))
    colour[2] += 6
    return colour


def _buildings_free(shape, buildings: list[Building], margin_px: float) -> np.ndarray:
    """Where no building stands (bool), `margin_px` away from every one."""
    taken = np.zeros(shape, np.uint8)
    for building in buildings:
        cv2.fillPoly(taken, [np.round(building.outline()).astype(np.int32)], 1)
    if margin_px >= 1:
        size = 2 * int(margin_px) + 1
        taken = cv2.dilate(taken, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    return taken == 0


def _ring_of_houses(stretches, depth_px: float, rng, heights=(10.0, 14.0), widths_px=None,
                    share: float = 1.0, gables_across: float = 0.0, gap_px: float = 0.0,
                    colour=None) -> list[Building]:
    """Buildings side by side along straight stretches (their outer side on the stretch's line
    shifted outward by half their depth): town houses around a square, halls against a wall."""
    houses = []
    for a, b in stretches:
        direction = b - a
        length = float(np.linalg.norm(direction))
        if length < 0.6 * depth_px or rng.random() > share:
            continue
        along = direction / length
        angle = math.atan2(along[1], along[0])
        low, high = widths_px or (length, length)
        position = 0.0
        while position < length - 0.4 * low:
            width = min(float(rng.uniform(low, high)), length - position)
            centre = a + along * (position + width / 2)
            across = rng.random() < gables_across
            houses.append(Building.box(centre, width - 0.3, depth_px, angle + (math.pi / 2 if across else 0),
                                       float(rng.uniform(*heights)), "gable", colour) if not across else
                          Building.box(centre, depth_px, width - 0.3, angle + math.pi / 2,
                                       float(rng.uniform(*heights)), "gable", colour))
            position += width + (float(rng.uniform(0.5, 1.5)) * gap_px if gap_px else 0.0)
    return houses


def _trees_along(site: Site, inset_m: float, spacing_m: float, scale_mpp: float) -> np.ndarray:
    """Tree positions along the outline, `inset_m` inside it, about `spacing_m` apart."""
    points = []
    for a, b in along_outline(site.region, inset_m / scale_mpp, spacing_m / scale_mpp):
        length = float(np.linalg.norm(b - a))
        count = max(1, int(length * scale_mpp / spacing_m))
        for t in (np.arange(count) + site.rng.uniform(0.2, 0.8)) / count:
            points.append(a + (b - a) * t)
    return np.float32(points).reshape(-1, 2)


# --------------------------------------------------------------------------------
# Castle
# --------------------------------------------------------------------------------


def paint_castle(site: Site):
    """A castle filling the painted area, however large.

    Its curtain wall runs along the outline with round towers every ~30 m and
    its halls stand against the wall. A large area becomes a concentric
    fortress: every ~55 m further in another wall with towers and halls, the
    wards between them with lawns, trees, stables and barns, until the inner
    courtyard (paved) is small enough for the keep (a square tower) and the
    great hall at its widest place.
    """
    rng, textures = site.rng, site.textures
    frame = site.frame((60, 45))
    m = frame.mpp  # metres per pixel as drawn (more if the castle had to shrink)
    edge = site.edge_px * m
    half = float(edge.max())
    image = textures.lawn().copy()
    stone = _stone(textures)
    wall_stone = lab_to_rgb(stone) * (1 + 0.05 * smooth_noise(rng, site.shape, max(1.0, 1.5 / m)))[..., None]
    buildings: list[Building] = []
    trees = []
    depth, wall_width, ring_step = 11.0, 2.6, 55.0
    walls = [2.5]
    while half - walls[-1] > ring_step + 30:
        walls.append(walls[-1] + ring_step)
    walls_mask = np.zeros(site.shape, np.float32)
    for ring, inset in enumerate(walls):
        innermost = ring == len(walls) - 1
        width = wall_width if (innermost or ring > 0) else wall_width * 0.8
        walls_mask = np.maximum(walls_mask, np.clip(1 - np.abs(edge - (inset + width / 2)) / (width / 2), 0, 1))
        halls = along_outline(site.region, (inset + width + depth / 2) / m, 14 / m)
        if halls:
            gate = int(rng.integers(len(halls)))
            halls = [stretch for index, stretch in enumerate(halls) if index != gate]
        buildings += _ring_of_houses(halls, depth / m, rng, heights=(12, 16) if innermost else (8, 12),
                                     widths_px=(14 / m, 30 / m), share=0.8 if innermost else 0.45)
        towers = [Building.tower(tuple(a), (4.5 if innermost else 3.8) / m, 20.0 if innermost else 15.0,
                                 colour=_slate(textures))
                  for a, _b in along_outline(site.region, (inset + width / 2) / m, 10 / m)]
        buildings += _spaced(towers, 28 / m)
        if not innermost:  # the ward between this wall and the next: lawn, trees, a few more buildings
            ward = (edge > inset + width + depth + 6) & (edge < walls[ring + 1] - 6)
            points = scatter(ward, 13 / m, rng)
            trees.append(points[rng.random(len(points)) < 0.35])
    inside = edge > walls[-1] + wall_width
    courtyard = textures.paving(tone=0.02)
    image = image + (courtyard - image) * inside[..., None]
    walls_mask *= site.region
    image = cast_shadow(image, walls_mask, 10.0, textures, m)
    image = image + (wall_stone - image) * walls_mask[..., None]
    # the keep and the great hall where the inner courtyard is widest
    free = inside & _buildings_free(site.shape, buildings, 4 / m)
    for size, height, roof in ((12.0, 30.0, "pyramid"), (24.0, 16.0, "gable")):
        room = cv2.distanceTransform(free.astype(np.uint8), cv2.DIST_L2, 5) * m
        if room.max() < size * 0.6:
            continue
        y, x = np.unravel_index(int(np.argmax(room)), room.shape)
        length, width = (size, size) if roof == "pyramid" else (size, 12.0)
        keep = Building.box((float(x), float(y)), length / m, width / m, frame.angle, height, roof,
                            colour=_slate(textures) if roof == "pyramid" else None)
        buildings.append(keep)
        free &= _buildings_free(site.shape, [keep], 5 / m)
    trees = np.concatenate(trees) if trees else np.zeros((0, 2), np.float32)
    if len(trees):
        trees = trees[_buildings_free(site.shape, buildings, 4 / m)[trees[:, 1].astype(int), trees[:, 0].astype(int)]]
        image = plant_trees(image, trees, rng.uniform(3, 5, len(trees)), textures, rng, m)
    image, _ = build(image, buildings, textures, rng, m)
    return image + grain(rng, site.shape, 1.5), frame.fit


def _slate(textures: MapTextures) -> np.ndarray:
    """Dark slate for towers and spires: the map's darkest roof colour, darker and greyer."""
    colours = textures.roofs_lab
    darkest = colours[int(np.argmin(colours[:, 0]))]
    return np.float32([min(darkest[0], 38.0), darkest[1] * 0.3, darkest[2] * 0.3 - 2])


def _spaced(towers: list[Building], spacing_px: float) -> list[Building]:
    """Towers at least `spacing_px` apart (the first of any too close together is kept)."""
    kept = []
    for tower in towers:
        if all(math.dist(tower.centre, other.centre) >= spacing_px for other in kept):
            kept.append(tower)
    return kept


# --------------------------------------------------------------------------------
# Church and monastery
# --------------------------------------------------------------------------------


def paint_church(site: Site):
    """A church in its churchyard, the churchyard filling the painted area.

    The church (nave, choir, west tower) stands at its real size where the
    area is widest; around it lawn in the map's own grass colour, rows of
    graves (where the pixels show them), gravel paths, trees along the
    churchyard wall. A large area also gets the rectory, the parish hall and
    a car park.
    """
    rng, textures = site.rng, site.textures
    # a village church 30 m long; on a large area a town church or a cathedral, up to 100 m
    length = float(np.clip(0.4 * float(site.edge_px.max()) * site.mpp, 30.0, 100.0))
    frame = site.frame((length * 1.5, length))
    m = frame.mpp
    edge = site.edge_px * m
    image = textures.lawn().copy()
    stone = _stone(textures)
    buildings = _church(frame, textures, length=length)
    around = _buildings_free(site.shape, buildings, 5 / m)
    image = _churchyard(site, image, frame, edge, around)
    half = float(edge.max())
    if half > 55:  # the parish: rectory, hall and a car park on the free ground
        free = (edge > 8) & _buildings_free(site.shape, buildings, 12 / m)
        for length, depth, height, roof in ((14.0, 11.0, 9.0, "hip"), (26.0, 15.0, 7.0, "flat")):
            room = cv2.distanceTransform(free.astype(np.uint8), cv2.DIST_L2, 5) * m
            if room.max() < depth * 0.7:
                break
            y, x = np.unravel_index(int(np.argmax(room)), room.shape)
            house = Building.box((float(x), float(y)), length / m, depth / m, frame.angle, height, roof)
            buildings.append(house)
            free &= _buildings_free(site.shape, [house], 10 / m)
        room = cv2.distanceTransform(free.astype(np.uint8), cv2.DIST_L2, 5) * m
        if room.max() > 14:
            y, x = np.unravel_index(int(np.argmax(room)), room.shape)
            lot = frame.soft(np.hypot(frame.u - frame.u[y, x], frame.v - frame.v[y, x]) - 14) > 0.5
            lot &= free
            image = image + (textures.paving(tone=-0.08) - image) * lot[..., None]
            image = park_cars(image, lot, frame.angle, textures, rng, m, share=0.5)
    wall = np.clip(1 - np.abs(edge - 0.9) / 0.6, 0, 1) * site.region
    image = cast_shadow(image, wall, 2.0, textures, m)
    image = site.paint(image, stone, wall)
    image, _ = build(image, buildings, textures, rng, m)
    return image + grain(rng, site.shape, 1.5), frame.fit


def _church(frame: _Frame, textures: MapTextures, length: float, u0: float = 0.0, v0: float = 0.0):
    """Nave, choir and west tower of a church `length` m long, centred at (u0, v0) m; from 55 m on
    a cathedral: aisles, a transept and two west towers."""
    slate = _slate(textures)
    commonest = textures.roofs_lab[0]
    roof = commonest if commonest[1] > 10 else slate  # tiles where the map's roofs are mostly red, else slate
    width = float(np.clip(length * 0.4, 12.0, 16.0))
    height = 14.0 + 0.25 * length
    choir = max(10.0, 0.25 * length)
    parts = [
        frame.house(u0, v0, length, width, height, "gable", colour=roof),
        frame.house(u0 + length / 2 + choir / 2, v0, choir, width * 0.85, height * 0.9, "hip", colour=roof),
    ]
    tower = max(8.5, 0.16 * length)
    if length < 55:
        parts.append(frame.house(u0 - length / 2 - tower / 2, v0, tower, tower, 2.5 * height, "pyramid", colour=slate))
        return parts
    aisle = width * 0.6
    for side in (-1, 1):  # aisles along the nave, towers at the west front
        parts.append(frame.house(u0, v0 + side * (width + aisle) / 2, length, aisle, height * 0.6, "gable",
                                 colour=roof))
        parts.append(frame.house(u0 - length / 2 - tower / 2, v0 + side * (width / 2 + aisle - tower / 2),
                                 tower, tower, 3 * height, "pyramid", colour=slate))
    parts.append(frame.house(u0 + 0.2 * length, v0, width * 1.1, width + 2 * aisle + 2 * width, height, "gable",
                             across=True, colour=roof))  # the transept
    return parts


def _churchyard(site: Site, image, frame: _Frame, edge, around_church) -> np.ndarray:
    """Paths, graves and trees of a churchyard on the lawn `image`."""
    rng, textures, m = site.rng, site.textures, frame.mpp
    gravel = textures.paving(tone=0.05)
    paths = np.maximum(frame.line(frame.v, 3.0), frame.line(frame.u, 2.5)) * (edge > 1.5)
    paths = np.maximum(paths, frame.line(edge - 4.5, 2.0) * site.region)
    if float(edge.max()) > 50:  # a cemetery: fields of graves between paths every 20 x 26 m
        grid = np.maximum(frame.line(((frame.u + 10) % 20.0) - 10, 2.0), frame.line(((frame.v + 13) % 26.0) - 13, 2.0))
        paths = np.maximum(paths, grid * (edge > 6) * around_church * 0.6)  # gravel worn into the grass
    image = image + (gravel - image) * paths[..., None]
    yard = (edge > 6) & around_church & (paths < 0.2)
    if 1.0 / m < MIN_DETAIL_PX:  # graves too small to draw one by one: their stones as a fine speckle
        speckle = (smooth_noise(rng, site.shape, 1.0) > 1.0) & yard
        image = site.paint(image, _stone(textures, 10), speckle.astype(np.float32) * 0.35)
    else:  # graves: stones 0.6 x 1 m and their plots, in rows 3 m apart
        row = np.floor(frame.v / 3.0)
        slot = np.floor(frame.u / 1.8)
        plot = ((frame.v % 3.0) < 2.0) & ((frame.u % 1.8) < 1.1)
        used = (np.abs(np.sin(slot * 12.9898 + row * 78.233) * 43758.5453) % 1.0) < 0.75
        planted = plot & used & yard
        stones = ((frame.v % 3.0) < 0.6) & ((frame.u % 1.8) < 1.1) & used & yard
        soil = site.textures.grass_lab.copy()
        soil[0] -= 8
        image = site.paint(image, soil, planted.astype(np.float32) * 0.7)
        image = cast_shadow(image, stones.astype(np.float32), 1.0, textures, m)
        image = site.paint(image, _stone(textures, 14), stones.astype(np.float32))
    trees = _trees_along(site, 4.5 * frame.fit, 10.0, site.mpp)
    inner = scatter((edge > 10) & around_church & (paths < 0.2), 18 / m, rng)
    if float(edge.max()) > 50:  # avenues of trees along the cemetery's main paths
        avenue = (np.abs(((frame.v + 13) % 26.0) - 13) < 2.5) & (np.abs(((frame.v + 13) % 26.0) - 13) > 1.5)
        inner = np.concatenate([inner, scatter(avenue & (edge > 8) & around_church, 9 / m, rng, jitter=0.1)])
    trees = np.concatenate([trees, inner[rng.random(len(inner)) < 0.35]])
    return plant_trees(image, trees, rng.uniform(3.0, 5.5, len(trees)), textures, rng, m)


def paint_monastery(site: Site):
    """A monastery: its church, the cloister (four ranges around a green garth) beside it, the
    abbey's gardens in beds and its orchard in rows filling the rest, a wall along the outline."""
    rng, textures = site.rng, site.textures
    frame = site.frame((60, 60))
    m = frame.mpp
    edge = site.edge_px * m
    image = textures.lawn().copy()
    buildings = _church(frame, textures, length=44.0, v0=-20.0)
    side, depth = 34.0, 11.0  # the cloister's square and its ranges
    centre_v = -20 + 8.8 + side / 2
    for du, dv, along in ((0, -side / 2 + depth / 2, True), (0, side / 2 - depth / 2, True),
                          (-side / 2 + depth / 2, 0, False), (side / 2 - depth / 2, 0, False)):
        if along:
            buildings.append(frame.house(du, centre_v + dv, side, depth, 13.0, "gable"))
        else:
            buildings.append(frame.house(du, centre_v + dv, side - 2 * depth, depth, 13.0, "gable", across=True))
    garth = frame.box(0, centre_v, side - 2 * depth, side - 2 * depth)
    walk = np.maximum(frame.line(frame.u, 1.2), frame.line(frame.v - centre_v, 1.2)) * garth
    image = image + (textures.paving(tone=0.05) - image) * walk[..., None]
    free = (edge > 4) & _buildings_free(site.shape, buildings, 6 / m)
    # gardens: beds 1.5 m wide in plots; the orchard: trees in rows 8 m apart
    plots = np.floor(frame.u / 24.0) + 3 * np.floor(frame.v / 18.0)
    kind = (np.abs(np.sin(plots * 12.9898) * 43758.5453) % 1.0)
    beds = free & (kind < 0.45) & ((frame.u % 24.0) > 1.5) & ((frame.v % 18.0) > 1.5)
    if 1.5 / m >= 1.0:
        stripes = ((frame.v % 1.5) < 0.75).astype(np.float32)
        soil = textures.grass_lab.copy()
        soil += np.float32([-10, 6, 8])
        image = site.paint(image, soil, beds * (0.35 + 0.45 * stripes))
    orchard = free & (kind >= 0.55)
    rows = scatter(orchard, 8 / m, rng, jitter=0.08)
    image = plant_trees(image, rows, rng.uniform(2.5, 3.5, len(rows)), textures, rng, m)
    wall = np.clip(1 - np.abs(edge - 1.0) / 0.7, 0, 1) * site.region
    image = cast_shadow(image, wall, 3.0, textures, m)
    image = site.paint(image, _stone(textures), wall)
    image, _ = build(image, buildings, textures, rng, m)
    return image + grain(rng, site.shape, 1.5), frame.fit


# --------------------------------------------------------------------------------
# Stadium
# --------------------------------------------------------------------------------


def paint_stadium(site: Site):
    """A football stadium and its grounds.

    The pitch (105 x 68 m) in its bowl of stands under a roof, a paved
    forecourt around it; on the rest of the painted area training pitches,
    car parks (rows of cars, where the pixels show them) between lanes of
    trees, and lawn.
    """
    rng, textures = site.rng, site.textures
    frame = site.frame((170, 130))
    m = frame.mpp
    edge = site.edge_px * m
    outer = _rounded(frame, 85, 65, 24)
    inner = _rounded(frame, 62, 44, 12)
    away = np.maximum(np.abs(frame.u) - 85, np.abs(frame.v) - 65)  # metres from the stadium's outside
    grounds = away < GROUNDS_M
    # the town or the woods go on around the stadium; its forecourt is paved
    image = textures.surroundings().copy() if (~grounds & site.region).mean() > 0.02 else textures.lawn().copy()
    forecourt = np.clip((14 - _rounded_distance(frame, 85, 65, 24)) / 1.5, 0, 1) * (edge > 2)
    image = image + (textures.paving(tone=0.04) - image) * forecourt[..., None]
    free = (edge > 5) & (away > 18) & grounds
    trees = [np.zeros((0, 2), np.float32)]
    # training pitches where they fit, then car parks in blocks with lanes of trees between them
    pitches = []
    for u0, v0 in _grid_places(frame, free, (110, 74), (120, 84)):
        if len(pitches) >= 2:
            break
        pitches.append((u0, v0))
        free &= frame.box(u0, v0, 120, 84) < 0.5
    for u0, v0 in pitches:
        image = _pitch(image, frame, u0, v0, textures, scale=0.95)
    lots = np.zeros(site.shape, bool)
    for u0, v0 in _grid_places(frame, free, (48, 34), (56, 42)):
        lots |= frame.box(u0, v0, 48, 34) > 0.5
        trees.append(np.float32([frame.point(u0 + du, v0 + 19) for du in np.arange(-22, 23, 9.0)]))
    image = image + (textures.paving(tone=-0.08) - image) * lots[..., None]
    image = park_cars(image, lots, frame.angle, textures, rng, m, share=0.65)
    trees = np.concatenate(trees)
    keep = ~lots[np.clip(trees[:, 1].astype(int), 0, site.shape[0] - 1), np.clip(trees[:, 0].astype(int), 0, site.shape[1] - 1)]
    image = plant_trees(image, trees[keep], 3.5, textures, rng, m)
    # the bowl: seats between the pitch and the roof, the roof's shadow falls into it
    stands = np.clip(outer - inner, 0, 1)
    image = cast_shadow(image, outer, 22.0, textures, m, strength=1.0)
    depth = np.clip((np.maximum(np.abs(frame.u) - 62, np.abs(frame.v) - 44) + 0) / 23, 0, 1)
    seats = np.broadcast_to(lab_to_rgb(np.float32([40, 0, -4])), (*site.shape, 3))
    rows = (np.sin((np.maximum(np.abs(frame.u) - 62, np.abs(frame.v) - 44)) * 2 * math.pi / 0.8) > 0)
    seats = seats * (1 - 0.15 * rows * (0.8 / m > 1))[..., None]
    image = image + (seats - image) * stands[..., None]
    roof = np.clip(stands * (depth > 0.45), 0, 1)
    roof_colour = lab_to_rgb(np.float32([84, -1, 1]) + textures.light_shift)
    ribs = (np.floor(np.arctan2(frame.v, frame.u) * 40) % 2 == 0).astype(np.float32)
    image = image + (roof_colour * (1 - 0.05 * ribs)[..., None] - image) * roof[..., None]
    image = cast_shadow(image, roof, 6.0, textures, m)
    track = np.clip(inner - frame.box(0, 0, 105, 68), 0, 1)
    image = _over(image, lab_to_rgb(np.float32([55, -10, 12]) + textures.light_shift), track)  # grass verge
    image = _pitch(image, frame, 0.0, 0.0, textures)
    return image + grain(rng, site.shape, 1.5), frame.fit


GROUNDS_M = 45.0  # a stadium's grounds (forecourt, pitches, car parks) reach this far around it


def _pitch(image, frame: _Frame, u0: float, v0: float, textures: MapTextures, scale: float = 1.0):
    """A football pitch (105 x 68 m times `scale`) centred at (u0, v0) m: mown stripes and lines."""
    u, v = (frame.u - u0) / scale, (frame.v - v0) / scale
    pitch = frame.box(u0, v0, 105 * scale, 68 * scale)
    stripes = (np.floor(u / 5.25) % 2 == 0).astype(np.float32)
    grass = _mix((64, 118, 50), (84, 140, 62), stripes)
    image = image + (grass - image) * pitch[..., None]
    lines = np.zeros_like(pitch)
    lines = np.maximum(lines, frame.line(np.maximum(np.abs(u) - 52.5, np.abs(v) - 34), 0.12 * 4))
    lines = np.maximum(lines, frame.line(u, 0.5) * (np.abs(v) < 34))
    lines = np.maximum(lines, frame.line(np.hypot(u, v) - 9.15, 0.5))
    for end in (-1, 1):
        box = np.maximum(np.abs(u - end * (52.5 - 8.25)) - 8.25, np.abs(v) - 20.15)
        lines = np.maximum(lines, frame.line(box, 0.5))
    return _over(image, (236, 238, 236), lines * pitch)


def _grid_places(frame: _Frame, free: np.ndarray, size_m, step_m):
    """Centres (u, v) m on a grid `step_m` apart where a `size_m` rectangle lies wholly in `free`."""
    if not free.any():
        return []
    us, vs = frame.u[free], frame.v[free]
    places = []
    height, width = free.shape
    for u0 in np.arange(np.floor(us.min() / step_m[0]) * step_m[0], us.max() + 1, step_m[0]):
        for v0 in np.arange(np.floor(vs.min() / step_m[1]) * step_m[1], vs.max() + 1, step_m[1]):
            corners = [frame.point(u0 + su * size_m[0] / 2, v0 + sv * size_m[1] / 2)
                       for su in (-1, 0, 1) for sv in (-1, 0, 1)]
            if all(0 <= x < width and 0 <= y < height and free[int(y), int(x)] for x, y in corners):
                places.append((float(u0), float(v0)))
    return places


def _rounded_distance(frame: _Frame, half_u, half_v, radius) -> np.ndarray:
    """Metres outside a rounded rectangle (negative inside)."""
    du = np.maximum(np.abs(frame.u) - (half_u - radius), 0)
    dv = np.maximum(np.abs(frame.v) - (half_v - radius), 0)
    return np.hypot(du, dv) - radius


def _rounded(frame: _Frame, half_u, half_v, radius) -> np.ndarray:
    du = np.maximum(np.abs(frame.u) - (half_u - radius), 0)
    dv = np.maximum(np.abs(frame.v) - (half_v - radius), 0)
    return frame.soft(np.hypot(du, dv) - radius)


# --------------------------------------------------------------------------------
# Market square, school, factory, railway station
# --------------------------------------------------------------------------------


def paint_market(site: Site):
    """A market square in its town.

    The square (at most about 80 x 60 m, where the painted area is widest) is
    paved, with rows of market stalls, a fountain and a few trees, framed by
    town houses side by side; the rest of the painted area becomes the old
    town around it: blocks of houses along narrow lanes, with yards inside.
    """
    rng, textures = site.rng, site.textures
    frame = site.frame((0, 0))
    frame.fit, frame.mpp = 1.0, site.mpp
    m = site.mpp
    edge = site.edge_px * m
    image = textures.paving(tone=-0.04).copy()
    if 0.25 / m >= 1.0:  # cobbles, where the pixels show them
        cobbles = smooth_noise(rng, site.shape, max(1.0, 0.12 / m))
        image *= (1 + 0.05 * cobbles)[..., None]
    depth = 12.0
    # the square: a rounded rectangle around the widest place, inside the painted area
    half_u, half_v = 40.0, 30.0
    plaza = np.maximum(np.abs(frame.u) - half_u, np.abs(frame.v) - half_v)
    half = float(edge.max())
    # a small area is all square; from a half-width of SMALL_SQUARE_M on, houses frame it
    square = (plaza < 0) & ((edge > depth + 1) if half > SMALL_SQUARE_M else site.region)
    houses = []
    if (~square & site.region).mean() > 0.02:  # houses framing the square where there is room
        ring = _frame_stretches(square, depth / m, m)
        houses += [h for h in _ring_of_houses(ring, depth / m, rng, heights=(10, 16), widths_px=(7 / m, 14 / m),
                                              gables_across=0.5) if _inside(site, h, 1.0 / m)]
    town, yards = _town_blocks(site, frame, site.region & ~square & (plaza > depth + 8), rng)
    buildings = houses + town
    # lanes (the square's paving, a little darker) run between the blocks; where no block fits,
    # at the painted area's edge, gardens and yards in the ground's own colour
    blocks = ~_buildings_free(site.shape, buildings, LANE_M / m)
    leftover = site.region & ~square & ~blocks
    image = image * np.where(site.region & ~square, np.float32(0.93), np.float32(1.0))[..., None]
    image = image + (textures.lawn() - image) * (yards * 0.85)[..., None]
    if leftover.any():  # beyond the old town's blocks the map's own surroundings go on
        image = image + (textures.surroundings() - image) * leftover[..., None]
    if 1.8 / m >= MIN_DETAIL_PX:  # stalls 3 x 2 m with coloured awnings, in rows
        cell_u, cell_v = np.floor(frame.u / 4.0), np.floor(frame.v / 7.0)
        stall = (((frame.u % 4.0) < 3.0) & ((frame.v % 7.0) < 2.2) & (plaza < -8) & square
                 & (np.abs(np.sin(cell_u * 12.9898 + cell_v * 78.233) * 43758.5453) % 1.0 < 0.5))
        awnings = np.float32([[178, 96, 84], [226, 224, 216], [96, 124, 104], [200, 176, 120], [110, 124, 150]])
        colour = awnings[(np.abs(np.sin((cell_u + 7) * 12.9898 + cell_v * 78.233) * 43758.5453) % 1.0
                          * len(awnings)).astype(int) % len(awnings)]
        stalls = stall.astype(np.float32)
        image = cast_shadow(image, stalls, 2.5, textures, m)
        image = image + (colour * 0.92 - image) * stalls[..., None]
    room = cv2.distanceTransform(square.astype(np.uint8), cv2.DIST_L2, 5) * m
    y, x = np.unravel_index(int(np.argmax(room)), room.shape)
    if room.max() > 8:
        basin = np.hypot(frame.u - frame.u[y, x], frame.v - frame.v[y, x])
        rim = frame.soft(basin - 4.0) - frame.soft(basin - 3.2)
        image = cast_shadow(image, frame.soft(basin - 4.0), 0.8, textures, m)
        image = site.paint(image, _stone(textures, 10), rim)
        image = site.paint(image, np.float32([40, -6, -4]), frame.soft(basin - 3.2))
    trees = scatter(square & (plaza > -7) & (plaza < -3), 12 / m, rng)
    image = plant_trees(image, trees[rng.random(len(trees)) < 0.6], 3.0, textures, rng, m)
    image, _ = build(image, buildings, textures, rng, m)
    return image + grain(rng, site.shape, 1.5), 1.0


SMALL_SQUARE_M = 24.0


def _frame_stretches(square: np.ndarray, depth_px: float, m: float):
    """Straight stretches half a house's depth outside the square's edge (its frame of houses)."""
    outside = cv2.distanceTransform((~square).astype(np.uint8), cv2.DIST_L2, 5)
    grown = (outside <= depth_px / 2) | square
    return along_outline(grown, 0.5, 8 / m)


def _inside(site: Site, building: Building, margin_px: float) -> bool:
    """Whether the building stands inside the painted region (with a margin), not cut by its edge."""
    corners = building.outline()
    ys = np.clip(np.round(corners[:, 1]).astype(int), 0, site.shape[0] - 1)
    xs = np.clip(np.round(corners[:, 0]).astype(int), 0, site.shape[1] - 1)
    inside = (corners[:, 0] >= 0) & (corners[:, 0] < site.shape[1]) & (corners[:, 1] >= 0) & (corners[:, 1] < site.shape[0])
    return bool(inside.all() and (site.edge_px[ys, xs] >= margin_px).all())


BLOCK_M = (44.0, 32.0)  # a town block between lanes (m), and the lanes' width
LANE_M = 7.0


def _town_blocks(site: Site, frame: _Frame, area: np.ndarray, rng) -> tuple[list[Building], np.ndarray]:
    """An old town over `area` (bool): blocks of houses along its lanes, each block's houses side by
    side around its edge, a yard (garden or court) inside. Returns the houses and the yards (bool)."""
    m = frame.mpp
    buildings: list[Building] = []
    yards = np.zeros(site.shape, bool)
    if not area.any():
        return buildings, yards
    step_u, step_v = BLOCK_M[0] + LANE_M, BLOCK_M[1] + LANE_M
    us, vs = frame.u[area], frame.v[area]
    depth = 11.0
    for u0 in np.arange(np.floor(us.min() / step_u) * step_u, us.max() + step_u, step_u):
        for v0 in np.arange(np.floor(vs.min() / step_v) * step_v, vs.max() + step_v, step_v):
            cu, cv = u0 + step_u / 2, v0 + step_v / 2
            x, y = frame.point(cu, cv)
            if not (0 <= int(y) < site.shape[0] and 0 <= int(x) < site.shape[1]) or not area[int(y), int(x)]:
                continue
            half_u, half_v = BLOCK_M[0] / 2, BLOCK_M[1] / 2
            corners = [frame.point(cu + su * (half_u - depth / 2), cv + sv * (half_v - depth / 2))
                       for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            corners = [np.float32(c) for c in corners]
            sides = [(corners[i], corners[(i + 1) % 4]) for i in range(4)]
            block = _ring_of_houses(sides, depth / m, rng, heights=(8, 14), widths_px=(7 / m, 13 / m),
                                    gables_across=0.3)
            kept = [house for house in block if _inside(site, house, 1.0 / m) and _area_at(area, house)]
            buildings += kept
            if kept:
                inner = frame.box(cu, cv, BLOCK_M[0] - 2 * depth, BLOCK_M[1] - 2 * depth) > 0.5
                yards |= inner & area
    return buildings, yards


def _area_at(area: np.ndarray, building: Building) -> bool:
    x, y = building.outline().mean(axis=0)
    return 0 <= int(y) < area.shape[0] and 0 <= int(x) < area.shape[1] and bool(area[int(y), int(x)])


def paint_school(site: Site):
    """A school: its long main building and the gym (flat roofs), the paved schoolyard with trees,
    a sports ground with a running track and a pitch, lawns and trees along the outline."""
    rng, textures = site.rng, site.textures
    frame = site.frame((120, 80))
    m = frame.mpp
    edge = site.edge_px * m
    image = textures.lawn().copy()
    buildings = [frame.house(-10, -22, 70, 15, 12.0, "flat"), frame.house(28, 2, 36, 14, 11.0, "flat", across=True),
                 frame.house(-30, 12, 34, 24, 9.0, "flat")]
    yard = frame.box(-5, 12, 60, 30) > 0.5
    image = image + (textures.paving(tone=0.02) - image) * yard[..., None]
    free = (edge > 6) & _buildings_free(site.shape, buildings, 8 / m) & ~yard
    room = cv2.distanceTransform(free.astype(np.uint8), cv2.DIST_L2, 5) * m
    if room.max() > 22:
        y, x = np.unravel_index(int(np.argmax(room)), room.shape)
        u0, v0 = float(frame.u[y, x]), float(frame.v[y, x])
        size = min(room.max() - 3, 40.0)
        local_u, local_v = frame.u - u0, frame.v - v0
        oval = _stadium_oval(frame, local_u, local_v, size * 1.9, size)
        track_colour = lab_to_rgb(np.float32([48, 28, 26]))
        image = image + (track_colour - image) * oval[0][..., None]
        pitch_colour = lab_to_rgb(textures.grass_lab + np.float32([2, -6, 0]))
        image = image + (pitch_colour - image) * oval[1][..., None]
        lanes = frame.line(np.sin(oval[2] * 2 * math.pi / 1.22), 0.15) * oval[0] * (1.22 / m > 2)
        image = _over(image, (240, 240, 236), lanes * 0.6)
    trees = np.concatenate([_trees_along(site, 4 * frame.fit, 11.0, site.mpp),
                            scatter(yard & (frame.box(-5, 12, 50, 22) < 0.5), 12 / m, rng)])
    image = plant_trees(image, trees, rng.uniform(3, 5, len(trees)), textures, rng, m)
    image, _ = build(image, buildings, textures, rng, m)
    return image + grain(rng, site.shape, 1.5), frame.fit


def _stadium_oval(frame: _Frame, u, v, length, width):
    """A running track (mask), the field inside it (mask), and the distance across the lanes (m)."""
    radius = width / 2
    straight = max(0.0, length / 2 - radius)
    du = np.maximum(np.abs(u) - straight, 0)
    distance = np.hypot(du, v) - radius  # 0 on the track's outer edge
    track = frame.soft(distance) - frame.soft(distance + 7.3)
    field = frame.soft(distance + 7.3)
    return np.clip(track, 0, 1), field, -distance


def paint_factory(site: Site):
    """A factory: large halls (saw-tooth and flat roofs) on a paved yard with lanes between them,
    a chimney with its long shadow, lorries and a car park, trees along the fence."""
    rng, textures = site.rng, site.textures
    frame = site.frame((110, 70))
    m = frame.mpp
    edge = site.edge_px * m
    image = textures.paving(tone=-0.06).copy()
    half = float(edge.max())
    buildings = []
    grey_roof = np.float32([62, -1, 2]) + textures.light_shift
    reach = max(30.0, min(half * 1.8, 240.0))
    for u0 in np.arange(-reach, reach + 1, 58.0):
        for v0 in np.arange(-reach, reach + 1, 42.0):
            length, depth = float(rng.uniform(34, 50)), float(rng.uniform(22, 32))
            x, y = frame.point(u0, v0)
            if not (0 <= int(y) < site.shape[0] and 0 <= int(x) < site.shape[1]):
                continue
            if edge[int(y), int(x)] < max(length, depth) / 2 + 4:
                continue
            roof = "flat" if rng.random() < 0.4 else "saw"
            colour = grey_roof + np.float32([rng.uniform(-6, 8), 0, 0])
            if roof == "saw":  # saw-tooth roofs: narrow gables side by side, their glass facing away from the sun
                for k in np.arange(-length / 2 + 3, length / 2, 6.0):
                    buildings.append(frame.house(u0 + k, v0, 6.0, depth, 10.0, "gable", across=True, colour=colour))
            else:
                buildings.append(frame.house(u0, v0, length, depth, 11.0, "flat", colour=colour))
    free = (edge > 5) & _buildings_free(site.shape, buildings, 6 / m)
    room = cv2.distanceTransform(free.astype(np.uint8), cv2.DIST_L2, 5) * m
    if room.max() > 3:
        y, x = np.unravel_index(int(np.argmax(room)), room.shape)
        buildings.append(Building.tower((float(x), float(y)), 1.6 / m, 45.0, colour=np.float32([45, 14, 12])))
    lot = free & (edge > 8) & (room > 6)
    image = park_cars(image, lot, frame.angle, textures, rng, m, share=0.5)
    verge = (edge <= 4) & site.region
    image = image + (textures.lawn() - image) * verge[..., None]
    image = plant_trees(image, _trees_along(site, 2.5 * frame.fit, 9.0, site.mpp), 3.0, textures, rng, m)
    image, _ = build(image, buildings, textures, rng, m)
    return image + grain(rng, site.shape, 1.5), frame.fit


def paint_station(site: Site):
    """A railway station: tracks along the painted area's long axis with platforms between them
    under long roofs, the station building on the forecourt side, a forecourt with a car park."""
    rng, textures = site.rng, site.textures
    axis = long_axis(site.region)
    frame = _Frame.around(site.region, site.mpp, axis, (120, 50))
    m = frame.mpp
    edge = site.edge_px * m
    image = textures.lawn().copy()
    ballast = lab_to_rgb(np.float32([50, 2, 6]) + textures.light_shift)
    tracks = np.zeros(site.shape, np.float32)
    platforms = np.zeros(site.shape, np.float32)
    for index, v0 in enumerate(np.arange(-18, 19, 6.0)):
        if index % 3 == 1:
            platforms = np.maximum(platforms, frame.box(0, v0, 1e6, 5.0))
        else:
            tracks = np.maximum(tracks, frame.box(0, v0, 1e6, 4.0))
    bed = np.clip(frame.box(0, 0, 1e6, 40) * site.region, 0, 1)
    image = image + (ballast * (1 + 0.06 * smooth_noise(rng, site.shape, max(1.0, 0.8 / m)))[..., None]
                     - image) * bed[..., None]
    rails = np.zeros(site.shape, np.float32)
    for v0 in np.arange(-18, 19, 6.0):
        for rail in (-0.72, 0.72):
            rails = np.maximum(rails, frame.line(frame.v - v0 - rail, 0.15))
    image = _over(image, (72, 70, 70), np.clip(rails * 1.4 * tracks * bed, 0, 1))
    concrete = lab_to_rgb(np.float32([68, 0, 3]) + textures.light_shift)
    image = image + (concrete - image) * (platforms * bed)[..., None]
    canopies = [frame.house(0, v0, 110, 4.5, 5.0, "gable", colour=np.float32([58, -2, -2]))
                for index, v0 in enumerate(np.arange(-18, 19, 6.0)) if index % 3 == 1]
    forecourt = (frame.v > 22) & (edge > 3)
    image = image + (textures.paving() - image) * forecourt[..., None]
    hall = frame.house(0, 30, 46, 16, 14.0, "hip")
    lot = forecourt & (frame.v > 42) & (edge > 6)
    image = park_cars(image, lot, frame.angle, textures, rng, m, share=0.7)
    image, _ = build(image, canopies + [hall], textures, rng, m)
    return image + grain(rng, site.shape, 1.5), frame.fit


# --------------------------------------------------------------------------------
# Lines across the map: bridge, railway; wind farm
# --------------------------------------------------------------------------------


def _along_stroke(region, mpp) -> _Frame:
    """A frame along the stroke's long axis through its centre (no shrinking)."""
    height, width = region.shape
    rows, columns = np.nonzero(region)
    cy, cx = rows.mean(), columns.mean()
    axis = long_axis(region)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = (xx - cx) * mpp, (yy - cy) * mpp
    cos_a, sin_a = math.cos(axis), math.sin(axis)
    return _Frame(u=dx * cos_a + dy * sin_a, v=-dx * sin_a + dy * cos_a, mpp=mpp, fit=1.0,
                  centre=(float(cx), float(cy)), angle=axis)


def paint_bridge(site: Site):
    frame = _along_stroke(site.region, site.mpp)
    rng, m = site.rng, site.mpp
    image = site.base.copy()
    deck = frame.box(0, 0, 1e6, 11)
    image = cast_shadow(image, deck, 8.0, site.textures, m)
    asphalt = paint_at_scale(paint_road, rng, site.shape, zoom_for(m))
    image = image + (asphalt - image) * deck[..., None]
    railings = np.maximum(frame.line(frame.v - 5.2, 0.6), frame.line(frame.v + 5.2, 0.6))
    image = _over(image, (196, 194, 188), railings)
    dashes = frame.line(frame.v, 0.15 * 3) * ((frame.u % 12) < 6)
    image = _over(image, (226, 226, 220), dashes)
    return image + grain(rng, site.shape, 2), 1.0


def paint_railway(site: Site):
    frame = _along_stroke(site.region, site.mpp)
    rng, m = site.rng, site.mpp
    image = site.base.copy()
    bed = frame.box(0, 0, 1e6, 9)
    ballast = _mix((110, 102, 94), (146, 138, 126), np.clip(
        0.5 + 0.25 * smooth_noise(rng, site.shape, max(1.0, 1.5 / m)), 0, 1))
    image = image + (ballast - image) * bed[..., None]
    sleepers = frame.box(0, 0, 1e6, 6.4) * (0.35 if m > 0.3 else ((frame.u % 0.6) < 0.25))
    image = _over(image, (92, 76, 62), sleepers * 0.8)
    rails = np.zeros_like(bed)
    for track in (-2.25, 2.25):
        for rail in (-0.72, 0.72):
            rails = np.maximum(rails, frame.line(frame.v - track - rail, 0.2))
    image = _over(image, (70, 70, 74), np.clip(rails * 1.5, 0, 1))
    return image + grain(rng, site.shape, 2), 1.0


def paint_wind_farm(site: Site):
    """Wind turbines on the ground that is there: white three-bladed rotors (120 m across) with
    the long shadow of their 120 m towers in the map's sun, 300 m apart along the streets."""
    rng, m = site.rng, site.mpp
    frame = _Frame.around(site.region, m, site.angle, (0, 0))
    frame.fit = 1.0
    image = site.base.copy()
    spacing = 300.0
    cell_u, cell_v = np.round(frame.u / spacing), np.round(frame.v / spacing)
    du, dv = frame.u - cell_u * spacing, frame.v - cell_v * spacing  # metres from the nearest turbine
    turn = _hash(cell_u, cell_v) * (2 * math.pi / 3)  # each rotor stands at its own angle
    radius = np.hypot(du, dv)
    sector = (np.arctan2(dv, du) - turn + math.pi / 3) % (2 * math.pi / 3) - math.pi / 3
    along, across = radius * np.cos(sector), radius * np.sin(sector)
    blades = frame.line(across, 3.0) * (along < 60)
    hub = frame.soft(radius - 2.5)
    # back to picture directions (right, down), then along the map's shadows
    right = du * math.cos(site.angle) - dv * math.sin(site.angle)
    down = du * math.sin(site.angle) + dv * math.cos(site.angle)
    sx, sy = site.textures.sun.towards_shadow
    length = 120 * site.textures.sun.shadow_factor
    shadow_along, shadow_across = right * sx + down * sy, right * sy - down * sx
    shadow = frame.line(shadow_across, 4.0) * (shadow_along > 0) * (shadow_along < length)
    image *= (1 - (1 - site.textures.shadow_share) * shadow)[..., None]
    image = _over(image, (236, 238, 240), np.clip(np.maximum(blades, hub), 0, 1))
    return image + grain(rng, site.shape, 1.5), 1.0


def _hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per integer cell (a, b)."""
    return np.abs(np.sin(a * 12.9898 + b * 78.233) * 43758.5453) % 1.0


# --------------------------------------------------------------------------------
# Covers with their own geometry: vineyard, park; harbour works; winter
# --------------------------------------------------------------------------------


def paint_park(site: Site):
    """A park: the map's own lawn, clumps of trees with their shadows, winding gravel paths."""
    rng, m, shape, textures = site.rng, site.mpp, site.shape, site.textures
    image = textures.lawn().copy()
    paths = smooth_noise(rng, shape, max(4.0, 45 / m))
    path = np.clip(1 - np.abs(paths) / max(0.02, 1.6 * m / 45), 0, 1) * (site.edge_px * m > 3)
    image = image + (textures.paving(tone=0.08) - image) * path[..., None]
    groves = smooth_noise(rng, shape, max(3.0, 30 / m), octaves=2)
    points = scatter((groves > 0.3) & (path < 0.1) & site.region, 9 / m, rng)
    single = scatter((groves <= 0.3) & (path < 0.1) & site.region, 25 / m, rng)
    trees = np.concatenate([points, single[rng.random(len(single)) < 0.4]])
    image = plant_trees(image, trees, rng.uniform(2.5, 4.5, len(trees)), textures, rng, m)
    return image + grain(rng, shape, 1.5), 1.0


def add_harbour(site: Site, water_alpha: np.ndarray) -> np.ndarray:
    """A harbour on its basin (`site.base`: the water with its quay band; `water_alpha`: the water).

    The quays are paved, with a stone edge and its shadow on the water, and
    sheds and warehouses side by side along the painted outline; piers reach
    into the basin every 30 m with boats moored on both sides (hulls 8 x 2.6 m,
    pointed at the bow), all lit by the map's sun.
    """
    rng, textures, mpp = site.rng, site.textures, site.mpp
    frame = _Frame.around(water_alpha > 0.5, mpp, site.angle, (0, 0))
    frame.fit, frame.mpp = 1.0, mpp
    wet = water_alpha > 0.5
    image = site.base.copy()
    quay = site.region & ~wet
    edge = site.edge_px * mpp
    image = image + (textures.paving(tone=-0.03) - image) * (quay * np.clip(1 - water_alpha, 0, 1))[..., None]
    rim = (cv2.dilate(wet.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~wet & site.region
    image = site.paint(image, _stone(textures, 8), rim.astype(np.float32))
    image = cast_shadow(image, quay.astype(np.float32), 1.5, textures, mpp)
    metal = np.float32([66, -1, -1]) + textures.light_shift
    quay_m = float(np.median(edge[rim])) if rim.any() else 0.0
    depth = min(10.0, 0.45 * quay_m)  # sheds as deep as the quay allows, a road left along the water
    sheds = []
    if depth >= 4.0:
        sheds = _ring_of_houses(along_outline(site.region, (depth / 2 + 1) / mpp, 10 / mpp), depth / mpp, rng,
                                heights=(6, 10), widths_px=(12 / mpp, 26 / mpp), share=0.8, gap_px=8 / mpp,
                                colour=metal)
    sheds = [shed for shed in sheds if _inside(site, shed, 0.5 / mpp)
             and not wet[np.clip(shed.outline()[:, 1].astype(int), 0, site.shape[0] - 1),
                         np.clip(shed.outline()[:, 0].astype(int), 0, site.shape[1] - 1)].any()]
    inland = cv2.distanceTransform(wet.astype(np.uint8), cv2.DIST_L2, 5) * mpp
    pier_every = 30.0
    pier_lane = ((frame.u + 1e3) % pier_every) - pier_every / 2
    near_shore = (inland < 45) & wet
    piers = frame.line(pier_lane, 2.5) * near_shore
    berth = np.floor((frame.u + 1e3) / pier_every)
    slot = np.floor((frame.v + 1e3) / 9)
    side = np.sign(pier_lane)
    across = np.abs(pier_lane) - 3.4  # boats 2.6 m wide moored on both sides of a pier
    along = ((frame.v + 1e3) % 9) - 4.5  # 8 m long, 9 m apart
    moored = (_hash(slot, berth + 3 * side) < 0.5) & near_shore & (inland > 3)
    half_width = 1.3 * np.clip(1 - np.clip(along - 1.5, 0, None) / 2.6, 0, 1)  # pointed at the bow
    hull = (np.abs(across) < half_width) & (np.abs(along) < 4.0) & moored
    boats = hull.astype(np.float32)
    deck = (np.abs(across) < half_width * 0.55) & (np.abs(along + 0.8) < 2.2) & moored
    image = cast_shadow(image, np.maximum(boats, piers), 1.2, textures, mpp)
    image = _over(image, lab_to_rgb(_stone(textures, 4) + np.float32([0, 2, 6])), piers)
    hulls = _mix((238, 238, 234), (206, 212, 220), (_hash(slot + 11, berth) > 0.6).astype(np.float32))
    image = image + (hulls - image) * boats[..., None]
    image = _over(image, (176, 160, 138), deck.astype(np.float32) * 0.8 * (1.0 / mpp > 2))
    image, _ = build(image, sheds, textures, rng, mpp)
    return image


def snow_over(site: Site):
    """Winter over the painted area: the ground keeps its shapes, under snow.

    Open ground, roofs and roads turn snow-white in the map's light, with the
    ground's own fine structure (tracks, furrows, kerbs) showing through;
    shadows stay, blue-grey on the snow; tree crowns stay dark with snow on
    their sunlit tops. Towards the painted outline the snow thins out in
    patches over a few metres, so there is no hard edge.
    """
    base, m, textures, rng = site.base, site.mpp, site.textures, site.rng
    lab = measures.lab(base)
    lightness = lab[..., 0]
    texture = measures.fine_texture(base)
    around = cv2.GaussianBlur(lightness, (0, 0), max(3.0, 6.0 / m))
    trees = (texture > 7) & (lab[..., 1] < -3) & (lightness < 50)  # crowns: rough, green and dark
    trees = cv2.morphologyEx(trees.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(np.float32)
    trees = cv2.GaussianBlur(trees, (0, 0), 0.8)
    shade = np.clip((around * 0.8 - lightness) / np.maximum(around * 0.35, 1), 0, 1)  # cast shadows
    lit = textures.snow_lab if textures.snowy else np.float32([91, -1, -2]) + textures.light_shift * np.float32([0.5, 0, 0])
    shaded = lit - np.float32([26, 0, 9])
    snow = lit + (shaded - lit) * shade[..., None]
    detail = lightness - cv2.GaussianBlur(lightness, (0, 0), 2.0)
    snow[..., 0] += detail * 0.5 + (cv2.GaussianBlur(lightness, (0, 0), 2.0) - around) * 0.08
    snow[..., 0] += smooth_noise(rng, site.shape, max(2.0, 8.0 / m), octaves=2) * 1.2  # drifts
    crowns = lab.copy()
    crowns[..., 0] *= 0.85
    crowns[..., 1:] *= 0.55  # winter crowns: dark, dull conifers and bare grey-brown branches
    tops = np.clip((lightness - cv2.GaussianBlur(lightness, (0, 0), 2.0)) / 8, 0, 1)  # snow on the sunlit tops
    crowns = crowns + (lit - crowns) * (tops * 0.6)[..., None]
    winter = snow + (crowns - snow) * trees[..., None]
    picture = measures_to_rgb(winter)
    edge = site.edge_px * m
    patches = smooth_noise(rng, site.shape, max(1.5, 3.0 / m), octaves=2)
    cover = np.clip((edge - 1.0 + patches * 2.5) / 6.0, 0, 1)
    return base + (picture - base) * cover[..., None], 1.0


def measures_to_rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(lab, np.float32), cv2.COLOR_Lab2RGB) * 255


STRUCTURES: dict[str, Callable] = {
    "market square": paint_market,
    "castle": paint_castle,
    "church": paint_church,
    "monastery": paint_monastery,
    "stadium": paint_stadium,
    "school": paint_school,
    "factory": paint_factory,
    "railway station": paint_station,
    "bridge": paint_bridge,
    "railway": paint_railway,
    "wind farm": paint_wind_farm,
    "vineyard": paint_vineyard,  # farmland
    "park": paint_park,
    "snow": snow_over,
}
