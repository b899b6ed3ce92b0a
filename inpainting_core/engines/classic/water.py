"""Water for the classic engine: a lake, a river or a harbour basin with its shore.

What a visitor paints is where the water should be, so the water fills the
stroke up to a shore band at the map's scale (`water_shape`): a few metres of
reeds, grass, sand, gravel, a quay or snow, as the map around the stroke
suggests (`shore_kind`), never wider than a fifth of the stroke's half-width,
so a narrow river stroke stays open water. The shoreline is irregular at
several scales (bays, points) and the band's width varies along it.

The water itself (`paint_water_body`) is the map's own open water where the
map has a real body of it (quilted by `quilting`), else synthesised in the
colours measured on real water in aerial photos (`measures`), in the map's
light. Either way it gets depth: darker towards the middle (deep water),
lighter and a little greener or browner within a few metres of the shore
(shallows, where the bottom shows), a faint low-frequency sky reflection,
and wind ripples only where the map's resolution shows them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover
from inpainting_core.engines.classic import measures
from inpainting_core.engines.classic.painters import grain, smooth_noise, stretched_noise
from inpainting_core.engines.classic.reading import COVER_INDEX, Survey
from inpainting_core.engines.classic.shapes import long_axis

# The shore band's width (m) by kind: reeds grow in a belt, a beach is a strip, a quay a wall.
SHORE_WIDTH_M = {"reeds": 4.0, "sand": 3.0, "gravel": 2.5, "quay": 1.5, "snow": 3.0}
MAX_SHORE_SHARE = 0.2
HARBOUR_QUAY_M = 22.0  # a harbour's quays: sheds along the outline, a road along the water  # of the stroke's half-width: a river stroke stays water
# Synthesised water in Lab (float, L 0..100), from the water of the shared maps (see `measures`):
# deep water dark blue-green, shallows lighter and greener, where the bottom shows through.
DEEP_LAB = np.float32([27.0, -4.0, -3.0])
SHALLOW_LAB = np.float32([34.0, -6.0, 4.0])
SHALLOWS_M = 6.0  # the shallows reach this far from the shore (m) ...
DEPTH_M = 60.0  # ... and the water darkens out to its middle, at most this far out
REFERENCE_LIGHTNESS = 50.0  # a map of this mean lightness keeps the water's measured colours


@dataclass
class WaterShape:
    """Where the water is (`water`, soft 0..1), its shore band (`shore`), and distances (px)."""

    water: np.ndarray
    shore: np.ndarray
    inland: np.ndarray  # px from the shoreline, inside the water
    half_width: float  # the stroke's half-width (px)
    band: float  # the shore band's typical width (px)

    @property
    def from_waterline(self) -> np.ndarray:
        """Pixels from the water's edge, outside the water (how far up the shore)."""
        return cv2.distanceTransform((self.water < 0.5).astype(np.uint8), cv2.DIST_L2, 5)


def water_shape(region: np.ndarray, rng: np.random.Generator, mpp: float, kind: str,
                bays: bool = True, shore_m: Optional[float] = None, max_share: float = MAX_SHORE_SHARE) -> WaterShape:
    """The water inside a stroke (bool HxW): an irregular shore a band's width inside its edge.

    The brush's corners are rounded (closing and opening with a disc of a third
    of the stroke's half-width), the water's edge lies a shore band inside the
    stroke's edge, and noise at two scales pushes it further in here and there
    (bays, more on a large lake than on a river; none for a harbour's quay).
    The shore band along the water varies in width; beyond it, in the bays,
    the map stays as it was. The picture's edge is no shore: the stroke
    continues beyond it.
    """
    pad = 16
    area = cv2.copyMakeBorder(region.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if not area.any() or area.all():
        solid = region.astype(np.float32)
        return WaterShape(solid, np.zeros_like(solid), np.full(region.shape, 1e3, np.float32), 1e3, 1.0)
    inland = cv2.distanceTransform(area, cv2.DIST_L2, 5)
    half_width = max(1.0, float(np.percentile(inland[area > 0], 95)))
    radius = int(np.clip(half_width / 3, 1, 12))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    rounded = cv2.morphologyEx(cv2.morphologyEx(area, cv2.MORPH_CLOSE, disc), cv2.MORPH_OPEN, disc) & area
    if not rounded.any():
        rounded = area
    depth = cv2.distanceTransform(rounded, cv2.DIST_L2, 5)  # px from the (rounded) stroke's edge
    band = float(np.clip((shore_m or SHORE_WIDTH_M.get(kind, 3.0)) / mpp, 1.5, max_share * half_width))
    # the band's width varies along a natural shore (0.5-1.5 x), not along a quay; bays reach further in
    width_noise = np.clip(smooth_noise(rng, depth.shape, max(6.0, 12.0 / mpp)) * 0.35 + 1.0, 0.5, 1.5)
    if kind == "quay":
        width_noise = np.ones_like(width_noise)
    large = 1.0 - math.exp(-half_width * mpp / 25.0) if bays else 0.0  # 0 for a brook, towards 1 for a lake
    inlets = np.clip(smooth_noise(rng, depth.shape, max(20.0, 1.2 * half_width), octaves=3) * 0.6 + 0.4, 0, 1.6)
    width = band * width_noise
    field = depth - width - 0.22 * large * half_width * inlets
    water = np.clip(field / 1.2 + 0.5, 0, 1)
    # the band: as wide as `width` from the waterline, fading out over a metre, never beyond the stroke
    from_water = cv2.distanceTransform((water < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    fade = max(1.0, 1.0 / mpp)
    shore = np.clip(1 - (from_water - width) / fade, 0, 1) * np.clip(depth / fade, 0, 1) * (1 - water)
    water = water[pad:-pad, pad:-pad] * region
    shore = shore[pad:-pad, pad:-pad] * region
    inside = cv2.distanceTransform((water >= 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    return WaterShape(water.astype(np.float32), shore.astype(np.float32), inside.astype(np.float32), half_width,
                      band)


def shore_kind(crop: np.ndarray, region: np.ndarray, survey: Survey, mpp: float) -> str:
    """What the shore is made of, as the map around the stroke suggests.

    Snow where the surroundings are snow-white; a quay where they are mostly
    roofs and streets; reeds and grass where they are green; else a beach of
    sand or gravel (dry, bare or grey ground).
    """
    reach = int(np.clip(8.0 / mpp, 4, 40))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    ring = (cv2.dilate(region.astype(np.uint8), kernel) > 0) & ~region
    if ring.sum() < 20:
        ring = ~region
    if ring.sum() < 20:
        return "reeds"
    lab = measures.lab(crop[ring].reshape(-1, 1, 3)).reshape(-1, 3)
    b = float(np.median(lab[:, 2]))
    if np.mean((lab[:, 0] > 78) & (np.hypot(lab[:, 1], lab[:, 2]) < 12)) > 0.45 or measures.winter_landscape(survey.small):
        return "snow"
    survey_ring = (cv2.dilate(survey.blocked.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & ~survey.blocked
    built = 0.0
    if survey_ring.any():
        labels = survey.labels[survey_ring]
        built = float(np.isin(labels, [COVER_INDEX[landcover.BUILDINGS], COVER_INDEX[landcover.ROAD]]).mean())
    green = np.mean(lab[:, 1] < -6)
    if built > 0.5 and green < 0.5:
        return "quay"
    if green >= 0.35:
        return "reeds"
    return "sand" if b > 10 else "gravel"


def map_light(survey: Survey) -> tuple[float, np.ndarray]:
    """The map's mean lightness and colour cast (a*, b*) in Lab, away from the painted region."""
    pixels = survey.small[~survey.blocked] if (~survey.blocked).sum() > 50 else survey.small.reshape(-1, 3)
    lab = measures.lab(pixels.reshape(-1, 1, 3)).reshape(-1, 3)
    return float(lab[:, 0].mean()), lab[:, 1:].mean(axis=0)


def paint_water_body(
    rng: np.random.Generator,
    shape: WaterShape,
    mpp: float,
    survey: Survey,
    river: bool = False,
) -> np.ndarray:
    """The water's picture (float RGB) for the shape's box: deep, shallow, reflections, ripples.

    Its colours are those of the map's own open water where the map has a real
    body of it (`measures.open_water_bodies`: the village's green lake stays
    green), else the colours measured on the shared maps' water, in the map's
    light. Quilting calm water adds nothing but seams, so the water is always
    synthesised: a colour that darkens with depth, a faint sky reflection and,
    where the pixels are small enough to show them, wind ripples.
    """
    size = shape.water.shape
    metres = shape.inland * np.float32(mpp)
    deepest = min(DEPTH_M, 0.7 * shape.half_width * mpp)
    deep = np.clip(metres / max(deepest, 1.0), 0, 1) ** 0.7
    shallows = np.clip(1 - metres / SHALLOWS_M, 0, 1) ** 1.5
    deep_lab, shallow_lab = water_colours(survey, mpp)
    mix = np.clip(1 - deep, 0, 1) * 0.35 + shallows * 0.4
    lab = deep_lab + (shallow_lab - deep_lab) * np.clip(mix, 0, 1)[..., None]
    # a faint reflection of the sky: lightness that varies over tens of metres
    sky = smooth_noise(rng, size, max(8.0, 60.0 / mpp), octaves=2)
    lab[..., 0] += sky * 1.6
    # wind ripples (a metre or two), only where the map's pixels are small enough to show them
    if mpp < 1.2:
        wind = float(rng.uniform(0, math.pi))
        cell = max(1.0, 0.9 / mpp)
        ripples = stretched_noise(rng, size, cell, 2.2, wind)
        gusts = np.clip(smooth_noise(rng, size, max(6.0, 25.0 / mpp)) * 0.5 + 0.6, 0, 1)
        lab[..., 0] += ripples * gusts * float(np.clip(0.9 / mpp, 0.6, 1.6))
    if river:  # a river's current draws faint streaks along it
        lab[..., 0] += stretched_noise(rng, size, max(2.0, 4.0 / mpp), 5.0, long_axis(shape.water)) * 0.8
    # sensor grain, a little of it in each colour apart (a photo's water is never one colour)
    colour_grain = rng.standard_normal((*size, 3), dtype=np.float32) * np.float32(0.7)
    return _to_rgb(lab) + grain(rng, size, 1.4) + colour_grain


def water_colours(survey: Survey, mpp: float) -> tuple[np.ndarray, np.ndarray]:
    """Deep and shallow water in Lab: the map's own lake's, else measured ones in the map's light."""
    bodies = measures.open_water_bodies(survey.small, mpp / survey.factor) & ~survey.blocked
    if bodies.sum() >= 200:
        own = np.median(measures.lab(survey.small[bodies].reshape(-1, 1, 3)).reshape(-1, 3), axis=0)
        deep = np.float32(own) - np.float32([3.0, 0.0, 0.0])
        shallow = deep + (SHALLOW_LAB - DEEP_LAB)
        return deep, shallow
    lightness, cast = map_light(survey)
    exposure = float(np.clip(0.3 * (lightness - REFERENCE_LIGHTNESS), -6, 6))
    colours = []
    for colour in (DEEP_LAB.copy(), SHALLOW_LAB.copy()):
        colour[0] += exposure
        colour[1] = min(colour[1] + float(np.clip(0.1 * cast[0], -2, 2)), -2.0)  # water is never reddish
        colour[2] += float(np.clip(0.1 * cast[1], -2, 2))
        colours.append(colour)
    return colours[0], colours[1]


def paint_shore(
    rng: np.random.Generator,
    kind: str,
    shape: WaterShape,
    land: np.ndarray,
    mpp: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The land with its shore strip along the waterline, and reeds in the shallows (alpha, picture).

    `land` is the painted area healed from the map around it (`healing`), so the
    land reaches the water with the map's own texture at the map's scale; the
    strip along the water changes it: reeds (its vegetation, yellower, in
    tufts), a beach of sand or gravel (lighter, plainer), a quay's stone, or
    snow, each wet and darker right at the waterline.
    """
    size = shape.water.shape
    lab = measures.lab(land)
    up_shore = shape.from_waterline * np.float32(mpp)  # metres from the waterline
    widths = SHORE_WIDTH_M.get(kind, 3.0) * np.clip(smooth_noise(rng, size, max(6.0, 12.0 / mpp)) * 0.35 + 1.0,
                                                    0.5, 1.5)
    widths = np.minimum(widths, shape.band * mpp * 1.5)  # a narrow stroke keeps a narrow shore
    fade = max(0.5, 1.5 * mpp)
    strip = np.clip(1 - (up_shore - widths) / fade, 0, 1) * (shape.water < 0.5)
    wet = np.clip(1 - up_shore / 0.8, 0, 1)
    fine = smooth_noise(rng, size, max(1.0, 0.3 / mpp))
    shore = lab.copy()
    reeds_alpha = np.zeros(size, np.float32)
    if kind == "reeds":
        clumps = smooth_noise(rng, size, max(2.0, 2.5 / mpp), octaves=2)
        tufts = np.clip((clumps + 1.6 * (1 - up_shore / np.maximum(widths, 0.1)) - 0.4) * 3, 0, 1) * strip
        reed = _reeds(lab, reed_texture(rng, size, mpp))
        shore = lab + (reed - lab) * tufts[..., None]
        shore[..., 0] -= 6 * wet * (1 - tufts)
        # reed beds reach a metre or three into the shallows, in clumps with a clear edge
        out_m = shape.inland * np.float32(mpp)
        reach = min(3.0, 0.12 * shape.half_width * mpp)  # a narrow river keeps open water
        reeds_alpha = (np.clip((clumps - (out_m - 0.3 * reach) / (0.4 * reach + 1e-3)) * 3, 0, 1)
                       * (out_m < reach) * (shape.water > 0))
        reeds = _to_rgb(reed)
    else:
        if kind == "snow":
            target = np.float32([88.0, -1.0, -3.0])
            grain_amount, mix = 1.5, 0.7
        elif kind == "quay":
            target = np.float32([np.clip(np.median(lab[..., 0]) + 10, 55.0, 78.0), 0.0, 4.0])
            grain_amount, mix = 2.0, 1.0
            strip = (up_shore < np.minimum(widths, 1.5)).astype(np.float32) * (shape.water < 0.5)
        else:  # a beach: lighter and plainer than the land around, sand yellower than gravel
            ground = np.median(lab.reshape(-1, 3), axis=0)
            target = np.float32([min(ground[0] + 14, 82.0), ground[1] * 0.4,
                                 ground[2] * 0.6 + (7 if kind == "sand" else 1)])
            grain_amount, mix = (1.5 if kind == "sand" else 3.5), 0.75
        beach = lab + (target - lab) * np.float32(mix)
        beach[..., 0] += fine * grain_amount - 12 * wet
        shore = lab + (beach - lab) * strip[..., None]
        reeds = _to_rgb(shore)
    picture = _to_rgb(shore) + grain(rng, size, 1.0)
    return picture, reeds_alpha.astype(np.float32), reeds


def _reeds(lab: np.ndarray, stalks: np.ndarray) -> np.ndarray:
    """The land's vegetation as a reed bed: a little lighter, yellower, with stalks."""
    reed = lab.copy()
    reed[..., 0] = reed[..., 0] * 0.85 + 0.15 * 48 + 2 + stalks * 4.0
    reed[..., 1] = np.minimum(reed[..., 1] * 0.7, -2)
    reed[..., 2] = np.clip(reed[..., 2] + 7, 8, 40)
    return reed


def reed_texture(rng: np.random.Generator, size, mpp: float) -> np.ndarray:
    """Reeds from above: fine stalks leaning every way, in tufts (zero mean, about unit std)."""
    cell = max(1.0, 0.25 / mpp)
    texture = sum(stretched_noise(rng, size, cell, 3.0, float(rng.uniform(0, math.pi))) for _ in range(2))
    tufts = smooth_noise(rng, size, max(1.5, 0.8 / mpp))
    return (0.6 * texture + 0.5 * tufts).astype(np.float32)


def _to_rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255


def paint_water(
    rng: np.random.Generator,
    crop: np.ndarray,
    region: np.ndarray,
    box,
    survey: Survey,
    mpp: float,
    river: bool = False,
    harbour: bool = False,
    context=None,
    crop_box=None,
) -> tuple[np.ndarray, np.ndarray, WaterShape]:
    """Water with its shore in the stroke `region` (bool, the crop's size; painted in `box`).

    The whole stroke is repainted: its land (bays, the shore) healed from the
    map around it (`healing.heal_crop`, with the map `context` around the crop
    at `crop_box`), the shore strip along the water, the water. Returns the
    picture for the box, where it shows, and the water's shape. A harbour's
    shore is a quay.
    """
    from inpainting_core.engines.classic.healing import heal_crop

    inside = region[box]
    kind = "quay" if harbour else shore_kind(crop, region, survey, mpp)
    if harbour:  # a harbour basin: quays wide enough for its sheds and its roads
        shape = water_shape(inside, rng, mpp, kind, bays=False, shore_m=HARBOUR_QUAY_M, max_share=0.25)
    else:
        shape = water_shape(inside, rng, mpp, kind)
    # only the land is healed: the stroke less the water's inside (what lies under the water
    # stays hidden, and a ring of land is quick to heal)
    open_water_inside = cv2.erode((shape.water >= 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    hole = region.copy()
    hole[box] &= ~open_water_inside
    land = heal_crop(crop, hole, rng, context, crop_box)[box] if hole.any() else crop[box].astype(np.float32)
    body = paint_water_body(rng, shape, mpp, survey, river=river)
    shore, reeds_alpha, reeds = paint_shore(rng, kind, shape, land, mpp)
    fill = shore + (body - shore) * shape.water[..., None]
    fill = fill + (reeds - fill) * reeds_alpha[..., None]
    return fill, inside.astype(np.float32), shape
