"""What built places are made of, in the map's own materials and light.

`structures` lays out a castle, a church or a stadium over the whole painted
area; this module gives it the means:

* `MapTextures`: the map's own lawn, trees, paving and roof grain, quilted
  from where the map shows them (`quilting.gather_where`), in the map's
  colours (a churchyard on a dry map is dry); painted and tinted in the
  map's light only where the map has none.
* `Building` and `build`: footprints in metres with gabled, hipped, flat,
  conical or pyramid roofs, each roof plane lit by the map's own sun
  (`sun.estimate_sun`), roofs in the map's roof colours with the map's roof
  grain, and shadows cast as far and as dark as the map's own.
* `plant_trees`, `park_cars`: crowns with their shadows, cars in rows
  (4.5 x 1.8 m, only where the pixels are small enough to show them).

Everything is sized in metres and drawn at the map's metres per pixel, so a
tower is a tower on a 0.1 m map and a dot on a 1.5 m one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover
from inpainting_core.engines.classic import measures
from inpainting_core.engines.classic.painters import (
    grain,
    paint_forest,
    paint_meadow,
    smooth_noise,
    stretched_noise,
)
from inpainting_core.engines.classic.reading import COVER_INDEX, Survey
from inpainting_core.engines.classic.scale import paint_at_scale, roof_mask, zoom_for
from inpainting_core.engines.classic.sun import DEFAULT_SUN, Sun, estimate_sun, shadow_mask

# Roofs where the map shows none (Lab): terracotta, brown tiles, slate, grey concrete.
ROOF_COLOURS = 4
MAX_ROOF_CHROMA = 26.0  # old tiles from the air (Olpe's and Zurich's: 15-25)
DEFAULT_ROOFS_LAB = np.float32([[45, 28, 24], [40, 18, 16], [36, 2, -3], [55, 0, 3], [48, 12, 14]])
SHADOW_SHARE = 0.5  # a shadow's brightness against the sunlit ground, where the map shows none
MIN_DETAIL_PX = 1.5  # details (graves, cars, seats) smaller than this many pixels are not drawn


# --------------------------------------------------------------------------------
# The map's materials
# --------------------------------------------------------------------------------


class MapTextures:
    """The map's own materials, cut to a box's size; each made once, on first use."""

    def __init__(self, survey: Optional[Survey], rng: np.random.Generator, mpp: float,
                 crop: np.ndarray, region: np.ndarray, box, drawn: bool = False, context=None, crop_box=None):
        self.survey, self.rng, self.mpp = survey, rng, mpp
        self.crop, self.full_region, self.box = crop, region, box
        self.context, self.crop_box = context, crop_box
        self.shape = region[box].shape
        self.drawn = drawn
        self._made: dict = {}

    def _once(self, key, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    # --- light and colour -----------------------------------------------------------------

    @property
    def sun(self) -> Sun:
        def make():
            if self.survey is None or self.drawn:
                return DEFAULT_SUN
            return estimate_sun(self.survey.small, self.mpp / self.survey.factor)
        return self._once("sun", make)

    @property
    def shadow_share(self) -> float:
        """How dark the map's own shadows are against the ground around them."""
        def make():
            if self.survey is None or self.drawn:
                return SHADOW_SHARE
            shadows, grey = shadow_mask(self.survey.small, self.mpp / self.survey.factor)
            if shadows.mean() < 0.005:
                return SHADOW_SHARE
            lit = (~shadows).astype(np.float32)
            around = cv2.GaussianBlur(grey * lit, (0, 0), 6.0) / np.maximum(cv2.GaussianBlur(lit, (0, 0), 6.0), 1e-3)
            return float(np.clip(np.median(grey[shadows] / np.maximum(around[shadows], 1)), 0.3, 0.75))
        return self._once("shadow_share", make)

    @property
    def ring_lab(self) -> np.ndarray:
        """The map's colours just around the painted area (Lab, N x 3)."""
        def make():
            ring = measures.ring_around(self.full_region, int(np.clip(8.0 / self.mpp, 4, 40)))
            pixels = self.crop[ring] if ring.sum() > 20 else self.crop.reshape(-1, 3)
            return measures.lab(pixels.reshape(-1, 1, 3).astype(np.float32)).reshape(-1, 3)
        return self._once("ring", make)

    def _map_pixels(self, covers) -> np.ndarray:
        if self.survey is None:
            return np.zeros((0, 3), np.float32)
        present = np.isin(self.survey.labels, [COVER_INDEX[c] for c in covers]) & ~self.survey.blocked
        return self.survey.small[present].astype(np.float32)

    @property
    def snowy(self) -> bool:
        """A winter map: much of the ground around the painted area is snow, or the map is a
        winter landscape (`measures.winter_landscape`)."""
        def make():
            lab = self.ring_lab
            snow = (lab[:, 0] > 75) & (np.hypot(lab[:, 1], lab[:, 2]) < 12)
            if snow.mean() > 0.3:
                return True
            if self.survey is None or self.drawn:
                return False
            return measures.winter_landscape(self.survey.small[~self.survey.blocked])
        return self._once("snowy", make)

    @property
    def snow_lab(self) -> np.ndarray:
        """The colour of the map's own snow in the sun."""
        def make():
            lab = self.ring_lab
            snow = lab[(lab[:, 0] > 75) & (np.hypot(lab[:, 1], lab[:, 2]) < 12)]
            if len(snow) < 200 and self.survey is not None:
                whole = measures.lab(self.survey.small.reshape(-1, 1, 3)).reshape(-1, 3)
                bright = whole[(whole[:, 0] > 65) & (np.hypot(whole[:, 1], whole[:, 2]) < 10)]
                snow = bright[bright[:, 0] >= np.percentile(bright[:, 0], 50)] if len(bright) > 40 else snow
            return np.median(snow, axis=0) if len(snow) > 20 else np.float32([92, -1, -3])
        return self._once("snow_lab", make)

    @property
    def grass_lab(self) -> np.ndarray:
        """The open ground around the painted area: its lawns, or its dry grass and soil on a dry map.

        The ring's pixels that are vegetation or soil (yellow to green, not red
        roofs, not grey stone, neither shadow nor glare); where the ring has too
        few, the map's meadows and fields.
        """
        def make():
            lab = self.ring_lab
            ground = open_ground(lab)
            if len(ground) >= 50:
                return np.median(ground, axis=0)
            pixels = self._map_pixels((landcover.MEADOW, landcover.FIELD))
            if len(pixels) < 200:
                return np.median(self.ring_lab, axis=0)
            return np.median(measures.lab(pixels.reshape(-1, 1, 3)).reshape(-1, 3), axis=0)
        return self._once("grass_lab", make)

    @property
    def paving_lab(self) -> np.ndarray:
        """A light paving colour: the map's own grey paths, yards and squares; on a map whose
        ground is bare and dry with little grey around (a village of beaten earth), that earth."""
        def make():
            lab = self.ring_lab
            grey = lab[(np.hypot(lab[:, 1], lab[:, 2]) < 10) & (lab[:, 0] > 45)]
            ground = self.grass_lab
            if ground[1] > -3 and ground[2] > 10:  # a dry map: squares and yards of beaten earth
                return np.float32([min(ground[0] + 10, 80.0), ground[1] * 0.7, ground[2] * 0.75])
            if len(grey) < 30:
                pixels = self._map_pixels((landcover.ROAD,))
                if len(pixels) >= 50:
                    grey = measures.lab(pixels.reshape(-1, 1, 3)).reshape(-1, 3)
            if len(grey) < 30:
                return np.float32([62, 0, 4]) + self.light_shift
            colour = np.median(grey, axis=0)
            colour[0] = max(colour[0], 52.0)
            return colour
        return self._once("paving_lab", make)

    @property
    def light_shift(self) -> np.ndarray:
        """How the map's light differs from a neutral one (Lab), for painted materials."""
        def make():
            if self.survey is None:
                return np.zeros(3, np.float32)
            lab = measures.lab(self.survey.small.reshape(-1, 1, 3).astype(np.float32)).reshape(-1, 3)
            mean = lab.mean(axis=0)
            return np.float32([np.clip(0.3 * (mean[0] - 50), -8, 8), np.clip(0.2 * mean[1], -3, 3),
                               np.clip(0.2 * mean[2], -4, 4)])
        return self._once("light_shift", make)

    @property
    def roofs_lab(self) -> np.ndarray:
        """The map's roof colours (Lab, up to ROOF_COLOURS of them, the commonest first).

        Its buildings' pixels (and its red roofs) grouped by colour (k-means),
        neither shadow nor glare: a village of pale metal roofs gets pale roofs,
        a Swiss suburb brown tiles. Painted colours in the map's light where the
        map shows no buildings.
        """
        def make():
            if self.survey is None or self.drawn:
                return DEFAULT_ROOFS_LAB + self.light_shift
            pixels = self._map_pixels((landcover.BUILDINGS,))
            red = roof_mask(self.survey.small) & ~self.survey.blocked
            if red.sum() >= 100:
                pixels = np.concatenate([pixels, self.survey.small[red].astype(np.float32)])
            if len(pixels) < 200:
                return DEFAULT_ROOFS_LAB + self.light_shift
            lab = measures.lab(pixels.reshape(-1, 1, 3)).reshape(-1, 3)
            lab = lab[(lab[:, 0] > 28) & (lab[:, 0] < 85)]  # no shadows, no glare
            if len(lab) < 100:
                return DEFAULT_ROOFS_LAB + self.light_shift
            sample = lab[self.rng.choice(len(lab), min(len(lab), 4000), replace=False)].astype(np.float32)
            criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
            cv2.setRNGSeed(int(self.rng.integers(1 << 30)))
            _, labels, centres = cv2.kmeans(sample, ROOF_COLOURS, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
            order = np.argsort(-np.bincount(labels.ravel(), minlength=ROOF_COLOURS))
            return centres[order].astype(np.float32)
        return self._once("roofs_lab", make)

    def roof_colour(self, rng: np.random.Generator) -> np.ndarray:
        """One of the map's roof colours, the commoner ones more often."""
        colours = self.roofs_lab
        weights = np.linspace(1.0, 0.4, len(colours))
        return colours[int(rng.choice(len(colours), p=weights / weights.sum()))]

    # --- textures (float RGB, the box's size) -------------------------------------------

    def lawn(self) -> np.ndarray:
        """Grass from the map's own smooth grass, else painted in the map's grass colour."""
        def make():
            from inpainting_core.engines.classic.quilting import gather_exemplars, quilt

            if self.snowy:
                return self.snow()
            picture = None
            if self.survey is not None and not self.drawn:
                exemplars = gather_exemplars(self.survey, landcover.MEADOW, self.rng, self.mpp)
                if exemplars is not None:  # the map's own grass, in the colour of the ground around
                    picture = _recolour(quilt(exemplars, self.shape, self.rng), self.grass_lab, keep_texture=1.0)
            if picture is None:
                painted = paint_at_scale(paint_meadow, self.rng, self.shape, zoom_for(self.mpp))
                picture = _recolour(painted, self.grass_lab, keep_texture=0.8)
            # worn and lush patches of a few and of tens of metres: no lawn is one colour
            patches = (smooth_noise(self.rng, self.shape, max(2.0, 4.0 / self.mpp), octaves=2) * 3.0
                       + smooth_noise(self.rng, self.shape, max(4.0, 15.0 / self.mpp)) * 3.0)
            picture = picture * (1 + patches / 100.0)[..., None] + grain(self.rng, self.shape, 2.0)
            if self.mpp < 0.35:  # blades and tufts where the pixels are a few centimetres
                picture *= (1 + 0.04 * smooth_noise(self.rng, self.shape, max(1.0, 0.08 / self.mpp), octaves=2))[..., None]
            return picture
        return self._once("lawn", make)

    def surroundings(self) -> np.ndarray:
        """The painted area rebuilt from the map around it (`healing`): what lies beyond a place's
        own grounds (the town or the woods go on around a stadium)."""
        def make():
            from inpainting_core.engines.classic.healing import heal_crop

            healed = heal_crop(self.crop.astype(np.float32), self.full_region, self.rng, self.context, self.crop_box)
            return healed[self.box]
        return self._once("surroundings", make)

    def snow(self) -> np.ndarray:
        """Snow-covered ground: the map's own snow, else painted in its snow's colour."""
        def make():
            from inpainting_core.engines.classic.painters import paint_snow
            from inpainting_core.engines.classic.quilting import gather_exemplars, quilt

            if self.survey is not None and not self.drawn:
                exemplars = gather_exemplars(self.survey, landcover.SNOW, self.rng, self.mpp)
                if exemplars is not None:
                    return quilt(exemplars, self.shape, self.rng)
            painted = paint_at_scale(paint_snow, self.rng, self.shape, zoom_for(self.mpp))
            return _recolour(painted, self.snow_lab, keep_texture=0.8)
        return self._once("snow", make)

    def trees(self) -> np.ndarray:
        """Tree crowns from the map's own woods, else painted in the map's greens."""
        def make():
            from inpainting_core.engines.classic.quilting import gather_exemplars, quilt

            if self.survey is not None and not self.drawn:
                exemplars = gather_exemplars(self.survey, landcover.FOREST, self.rng, self.mpp)
                if exemplars is not None:
                    return quilt(exemplars, self.shape, self.rng)
            painted = paint_at_scale(paint_forest, self.rng, self.shape, zoom_for(self.mpp))
            lab = measures.lab(painted)
            target = np.median(lab.reshape(-1, 3), axis=0) + self.light_shift
            greens = self.ring_lab[self.ring_lab[:, 1] < -5]
            if len(greens) > 30:
                target = np.median(greens, axis=0) - np.float32([6, 0, 0])
            return _recolour(painted, target, keep_texture=1.0)
        return self._once("trees", make)

    def paving(self, tone: float = 0.0) -> np.ndarray:
        """Paving or gravel: the map's paving colour, worn in patches of a few metres, with grain."""
        def make():
            size = self.shape
            if self.snowy:  # trodden snow: a little greyer, with tracks
                tracks = stretched_noise(self.rng, size, max(1.0, 0.6 / self.mpp), 6.0, float(self.rng.uniform(0, 3.2)))
                return self.snow() * np.float32(0.94) - (np.clip(tracks, 0, None) * 4.0)[..., None]
            wear = smooth_noise(self.rng, size, max(1.5, 6.0 / self.mpp), octaves=3)
            patches = smooth_noise(self.rng, size, max(1.0, 1.5 / self.mpp), octaves=2)
            lab = np.broadcast_to(self.paving_lab, (*size, 3)).astype(np.float32).copy()
            lab[..., 0] += wear * 3.5 + patches * 2.5
            lab[..., 2] += wear * 1.5
            return _rgb(lab) + grain(self.rng, size, 3.5)
        picture = self._once("paving", make)
        return picture * np.float32(1 + tone) if tone else picture

    def roof_grain(self) -> np.ndarray:
        """Fine detail (zero mean, HxWx3) of the map's own roofs: tiles, metal sheets, moss, vents.

        Quilted once on a GRAIN_TILE square from small windows of the map's roofs
        (its buildings), high-passed, then laid over the box in mirrored tiles:
        detail this fine shows no repeat. Painted grain where the map has no roofs.
        """
        def make():
            from inpainting_core.engines.classic.quilting import gather_where, quilt

            size = self.shape
            if self.survey is not None and not self.drawn:
                roofs = self.survey.labels == COVER_INDEX[landcover.BUILDINGS]
                roofs &= cv2.erode(roofs.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
                exemplars = gather_where(self.survey, roofs, self.rng, sizes=(16, 12))
                if exemplars is not None:
                    tile = quilt(exemplars, (GRAIN_TILE, GRAIN_TILE), self.rng)
                    tile = np.clip(tile - cv2.GaussianBlur(tile, (0, 0), 3.0), -18, 18)
                    grey = tile.mean(axis=2, keepdims=True)  # mostly light and shade, a little colour
                    tile = grey + (tile - grey) * np.float32(0.3)
                    reps = (size[0] // (2 * GRAIN_TILE) + 1, size[1] // (2 * GRAIN_TILE) + 1, 1)
                    mirrored = np.concatenate([np.concatenate([tile, tile[:, ::-1]], axis=1),
                                               np.concatenate([tile[::-1], tile[::-1, ::-1]], axis=1)], axis=0)
                    return np.tile(mirrored, reps)[: size[0], : size[1]].astype(np.float32)
            noise = grain(self.rng, size, 3.0)[..., 0] + smooth_noise(self.rng, size, max(1.0, 1.5 / self.mpp)) * 2.5
            return np.repeat(noise[..., None], 3, axis=2)
        return self._once("roof_grain", make)


GRAIN_TILE = 96


def open_ground(lab: np.ndarray) -> np.ndarray:
    """The pixels (Lab, N x 3) that are vegetation or soil: yellow to green, neither red roofs,
    grey stone, shadow nor glare; only the green ones where a quarter of them is green (a
    summer map's lawns, not its pale paths and dry verges)."""
    ground = lab[(lab[:, 2] > 4) & (lab[:, 1] < 0.6 * lab[:, 2]) & (lab[:, 0] > 25) & (lab[:, 0] < 82)]
    green = ground[ground[:, 1] < -4]
    return green if len(green) >= 0.25 * max(len(ground), 1) and len(green) >= 30 else ground


def _recolour(picture: np.ndarray, target_lab: np.ndarray, keep_texture: float = 1.0) -> np.ndarray:
    """`picture` moved to the mean colour `target_lab`, its texture kept (times keep_texture)."""
    lab = measures.lab(picture)
    mean = lab.reshape(-1, 3).mean(axis=0)
    lab = (lab - mean) * np.float32(keep_texture) + np.asarray(target_lab, np.float32)
    return _rgb(lab)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(lab, np.float32), cv2.COLOR_Lab2RGB) * 255


def lab_to_rgb(colour) -> np.ndarray:
    """One Lab colour as float RGB (0-255)."""
    return _rgb(np.float32(colour).reshape(1, 1, 3)).reshape(3)


# --------------------------------------------------------------------------------
# Buildings: footprints, roofs lit by the map's sun, shadows
# --------------------------------------------------------------------------------


@dataclass
class Building:
    """A building in pixel coordinates of the box.

    `corners` is its footprint (N x 2, x y) for flat, gabled and hipped roofs
    (a gable's ridge runs along `ridge`, radians); a round tower is `centre`
    and `radius` (px) with a conical roof.
    """

    height_m: float
    roof: str  # "gable", "hip", "flat", "cone", "pyramid"
    corners: Optional[np.ndarray] = None
    ridge: float = 0.0
    centre: Optional[tuple[float, float]] = None
    radius: float = 0.0
    colour: Optional[np.ndarray] = None  # Lab; None: one of the map's roof colours
    parts: list = field(default_factory=list)  # filled by `build`: masks per roof plane

    @classmethod
    def box(cls, centre, length_px, depth_px, angle, height_m, roof="gable", colour=None):
        """A rectangle `length_px` along `angle` and `depth_px` across it, ridge along its length."""
        cx, cy = centre
        along = np.float32([math.cos(angle), math.sin(angle)]) * length_px / 2
        across = np.float32([-math.sin(angle), math.cos(angle)]) * depth_px / 2
        corners = np.float32([[cx, cy] - along - across, [cx, cy] + along - across,
                              [cx, cy] + along + across, [cx, cy] - along + across])
        return cls(height_m=height_m, roof=roof, corners=corners, ridge=angle, colour=colour)

    @classmethod
    def tower(cls, centre, radius_px, height_m, colour=None):
        return cls(height_m=height_m, roof="cone", centre=centre, radius=radius_px, colour=colour)

    def moved(self, dx: float, dy: float) -> "Building":
        """The same building, its coordinates shifted by (dx, dy) px."""
        shift = np.float32([dx, dy])
        return Building(self.height_m, self.roof, None if self.corners is None else self.corners + shift,
                        self.ridge, None if self.centre is None else (self.centre[0] + dx, self.centre[1] + dy),
                        self.radius, self.colour)

    def outline(self) -> np.ndarray:
        if self.corners is not None:
            return self.corners
        cx, cy = self.centre
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        return np.stack([cx + self.radius * np.cos(t), cy + self.radius * np.sin(t)], axis=1).astype(np.float32)


def build(image: np.ndarray, buildings: list[Building], textures: MapTextures, rng: np.random.Generator,
          mpp: float, ground_shadow: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Draw `buildings` over `image` (float RGB of the box): shadows first, then the roofs.

    Returns the picture and a mask of the roofs (for what is drawn over or around them).
    """
    shape = image.shape[:2]
    sun = textures.sun
    toward_sun = np.float32([math.cos(sun.azimuth), math.sin(sun.azimuth)])
    if ground_shadow:
        shadow = np.zeros(shape, np.uint8)
        for building in sorted(buildings, key=lambda b: b.height_m):
            outline = building.outline()
            dx, dy = sun.offset(building.height_m, mpp)
            hull = cv2.convexHull(np.concatenate([outline, outline + np.float32([dx, dy])]).astype(np.float32))
            cv2.fillPoly(shadow, [np.round(hull).astype(np.int32)], 1, cv2.LINE_AA)
        soft = cv2.GaussianBlur(shadow.astype(np.float32), (0, 0), 0.6)
        image = image * (1 - (1 - textures.shadow_share) * soft)[..., None]
    image = np.array(image, np.float32)
    roofs = np.zeros(shape, np.float32)
    detail = textures.roof_grain()
    weather = smooth_noise(rng, shape, max(1.5, 3.0 / mpp))[..., None] * np.float32(4.0)
    snowy = textures.snowy
    if snowy:
        detail = detail * np.float32(0.3)
    for building in buildings:
        colour = building.colour if building.colour is not None else textures.roof_colour(rng)
        if snowy:  # snow lies on the roofs; the planes away from the sun turn blue-grey
            colour = textures.snow_lab - np.float32([9, 0, 3])
        colour = np.float32(colour) + np.float32([rng.uniform(-4, 4), rng.uniform(-1.5, 1.5), rng.uniform(-2, 2)])
        chroma = float(np.hypot(colour[1], colour[2]))
        if chroma > MAX_ROOF_CHROMA:  # weathered tiles are never poster red
            colour[1:] *= MAX_ROOF_CHROMA / chroma
        colour[0] = min(colour[0], 62.0 if not snowy else 95.0)
        rgb = lab_to_rgb(colour)
        corners = building.outline()
        x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
        if x0 >= x1 or y0 >= y1:
            continue
        window = (slice(y0, y1), slice(x0, x1))
        local = building.moved(-x0, -y0)
        size = (y1 - y0, x1 - x0)
        part = image[window]
        for mask, light in _planes(local, size, toward_sun):
            if snowy:
                light = 1 + (np.asarray(light, np.float32) - 1) * 1.6
            plane = rgb * np.asarray(light, np.float32)[..., None] if np.ndim(light) else rgb * np.float32(light)
            part = part + (plane + detail[window] + weather[window] - part) * mask[..., None]
        # the eaves: a darker line along the footprint's edge
        outline = _poly(local.outline(), size)
        eaves = np.clip(outline - cv2.erode(outline, np.ones((3, 3), np.uint8)), 0, 1) * (0.5 if 0.4 / mpp < 1 else 0.8)
        image[window] = part * (1 - 0.18 * eaves)[..., None]
        roofs[window] = np.maximum(roofs[window], outline)
    return image, roofs


def _planes(building: Building, shape, toward_sun) -> list[tuple[np.ndarray, object]]:
    """The roof's planes (soft masks) and how much light each gets from the sun (a number, or
    per pixel for a cone)."""
    planes = []
    if building.roof == "cone":
        cx, cy = building.centre
        mask = _poly(building.outline(), shape)
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
        facing = ((xx - cx) * toward_sun[0] + (yy - cy) * toward_sun[1]) / max(building.radius, 1.0)
        planes.append((mask, np.clip(1.0 + 0.22 * facing, 0.75, 1.22)))
        return planes
    corners = building.corners
    if building.roof == "flat":
        mask = _poly(corners, shape)
        inner = cv2.erode((mask > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
        planes.append((mask, 0.9))  # the parapet, a little darker
        planes.append((inner, 1.0))
        return planes
    centre = corners.mean(axis=0)
    along = np.float32([math.cos(building.ridge), math.sin(building.ridge)])
    across = np.float32([-along[1], along[0]])
    half_depth = float(np.abs((corners - centre) @ across).max())
    half_length = float(np.abs((corners - centre) @ along).max())
    if building.roof in ("gable", "hip"):
        inset = min(half_depth, half_length * 0.45) if building.roof == "hip" else 0.0
        ridge_a, ridge_b = centre - along * (half_length - inset), centre + along * (half_length - inset)
        sides = [(np.float32([corners[0], corners[1], ridge_b, ridge_a]), -across),
                 (np.float32([ridge_a, ridge_b, corners[2], corners[3]]), across)]
        if building.roof == "hip":
            sides.append((np.float32([corners[1], corners[2], ridge_b]), along))
            sides.append((np.float32([corners[3], corners[0], ridge_a]), -along))
        for polygon, normal in sides:
            planes.append((_poly(polygon, shape), 1.0 + 0.16 * float(normal @ toward_sun)))
        return planes
    # pyramid: four triangles to the centre
    for index in range(len(corners)):
        a, b = corners[index], corners[(index + 1) % len(corners)]
        middle = (a + b) / 2 - centre
        normal = middle / (np.linalg.norm(middle) + 1e-6)
        planes.append((_poly(np.float32([a, b, centre]), shape), 1.0 + 0.2 * float(normal @ toward_sun)))
    return planes


def _poly(polygon: np.ndarray, shape) -> np.ndarray:
    """A polygon rasterised with antialiased edges (float 0..1)."""
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(np.asarray(polygon) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    return canvas.astype(np.float32) / 255.0


def cast_shadow(image: np.ndarray, mask: np.ndarray, height_m: float, textures: MapTextures, mpp: float,
                strength: float = 1.0) -> np.ndarray:
    """The shadow of `mask` (soft, HxW) raised `height_m`, cast in the map's sun on `image`."""
    dx, dy = textures.sun.offset(height_m, mpp)
    steps = max(1, int(math.ceil(math.hypot(dx, dy))))
    shadow = np.zeros_like(mask)
    for step in range(1, steps + 1):
        matrix = np.float32([[1, 0, dx * step / steps], [0, 1, dy * step / steps]])
        shadow = np.maximum(shadow, cv2.warpAffine(mask, matrix, mask.shape[::-1]))
    shadow = np.clip(shadow - mask, 0, 1) * strength
    return image * (1 - (1 - textures.shadow_share) * shadow)[..., None]


# --------------------------------------------------------------------------------
# Trees and cars
# --------------------------------------------------------------------------------


def plant_trees(image: np.ndarray, centres: np.ndarray, radii_m, textures: MapTextures,
                rng: np.random.Generator, mpp: float) -> np.ndarray:
    """Tree crowns (the map's own woods' texture) at `centres` (px, N x 2), lit and with shadows."""
    if len(centres) == 0:
        return image
    shape = image.shape[:2]
    radii = np.broadcast_to(np.asarray(radii_m, np.float32), (len(centres),)) / mpp
    crowns = np.zeros(shape, np.float32)
    light = np.zeros(shape, np.float32)
    toward_sun = np.float32([math.cos(textures.sun.azimuth), math.sin(textures.sun.azimuth)])
    # leaves and twigs make a crown's edge ragged where the pixels show them (0.3 m)
    leaves = smooth_noise(rng, shape, max(1.0, 0.6 / mpp), octaves=2) * np.float32(min(3.0, 0.25 / mpp))
    for (cx, cy), radius in zip(centres, radii):
        radius = max(float(radius), 0.8)
        reach = int(math.ceil(radius * 1.3)) + 1
        x0, x1 = max(0, int(cx) - reach), min(shape[1], int(cx) + reach + 1)
        y0, y1 = max(0, int(cy) - reach), min(shape[0], int(cy) + reach + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = (xx - cx) / radius, (yy - cy) / radius
        wobble = 1 + 0.12 * np.sin(np.arctan2(dy, dx) * 5 + rng.uniform(0, 6.3))
        crown = np.clip((1 - np.hypot(dx, dy) / wobble) * radius + leaves[y0:y1, x0:x1], 0, 1)
        crowns[y0:y1, x0:x1] = np.maximum(crowns[y0:y1, x0:x1], crown)
        light[y0:y1, x0:x1] = np.where(crown > 0, dx * toward_sun[0] + dy * toward_sun[1], light[y0:y1, x0:x1])
    image = cast_shadow(image, crowns, 2.2 * float(np.median(radii)) * mpp, textures, mpp)
    canopy = textures.trees() * np.clip(1 + 0.22 * light, 0.7, 1.3)[..., None]
    return image + (canopy - image) * crowns[..., None]


CAR_COLOURS = np.float32([[235, 235, 232], [40, 42, 46], [150, 152, 156], [120, 30, 30], [40, 60, 110],
                          [200, 200, 205], [90, 90, 95]])


def park_cars(image: np.ndarray, lot: np.ndarray, angle: float, textures: MapTextures,
              rng: np.random.Generator, mpp: float, share: float = 0.7) -> np.ndarray:
    """Parked cars on `lot` (bool): two rows of 5 m bays, 2.5 m wide, either side of a 6 m lane,
    every 16 m, turned by `angle`; cars 4.5 x 1.8 m in `share` of the bays, bays lined in white."""
    if 1.8 / mpp < MIN_DETAIL_PX or not lot.any():
        return image
    shape = lot.shape
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    u = (xx * math.cos(angle) + yy * math.sin(angle)) * mpp  # along the rows (m)
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) * mpp  # across them
    across = v % 16.0
    first, second = across < 5.0, across >= 11.0
    bay = np.floor(u / 2.5)
    row = np.floor(v / 16.0) * 2 + second
    in_bay = np.abs((u % 2.5) - 1.25) < 0.9
    in_depth = np.where(first, np.abs(across - 2.5), np.abs(across - 13.5)) < 2.25
    taken = (_hash(bay, row) < share) & (first | second) & lot
    cars = (taken & in_bay & in_depth).astype(np.float32)
    colour = CAR_COLOURS[(_hash(bay + 3, row) * len(CAR_COLOURS)).astype(int) % len(CAR_COLOURS)]
    image = cast_shadow(image, cars, 1.5, textures, mpp)
    image = image + (colour - image) * cars[..., None]
    lines = ((u % 2.5) < max(0.12, 0.5 * mpp)) & (first | second) & lot & (cars == 0)
    return image + (np.float32([225, 225, 220]) - image) * (lines[..., None] * 0.5)


def _hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per integer cell (a, b)."""
    return np.abs(np.sin(a * 12.9898 + b * 78.233) * 43758.5453) % 1.0


def scatter(region: np.ndarray, spacing_px: float, rng: np.random.Generator, jitter: float = 0.35) -> np.ndarray:
    """Points (x, y) about `spacing_px` apart inside `region`: a jittered grid."""
    spacing = max(1.0, spacing_px)
    height, width = region.shape
    ys, xs = np.mgrid[spacing / 2 : height : spacing, spacing / 2 : width : spacing]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    points += rng.uniform(-jitter, jitter, points.shape).astype(np.float32) * spacing
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    points = points[inside]
    keep = region[points[:, 1].astype(int), points[:, 0].astype(int)]
    return points[keep]


def along_outline(region: np.ndarray, inset_px: float, spacing_px: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Straight stretches of the outline `inset_px` inside `region`: (start, end) pairs (x, y).

    The inset outline is simplified to straight stretches (a few metres of
    tolerance), so buildings and walls can follow it.
    """
    inland = cv2.distanceTransform(np.pad(region.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    inner = (inland >= inset_px).astype(np.uint8)
    contours, _ = cv2.findContours(inner, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    stretches = []
    for contour in contours:
        if len(contour) < 8:
            continue
        simple = cv2.approxPolyDP(contour, max(1.5, 0.15 * spacing_px), True)[:, 0].astype(np.float32)
        for index in range(len(simple)):
            a, b = simple[index], simple[(index + 1) % len(simple)]
            if np.linalg.norm(b - a) >= 0.5 * spacing_px:
                stretches.append((a, b))
    return stretches
