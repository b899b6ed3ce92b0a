"""The classic engine's pictures on real maps (issue 25): sun, water, built places, covers, healing.

Each test guards one property the contact sheets of benchmarks/picture_quality.py
show by eye, on small crops of the shared maps (skipped where ../shared is
missing) or on drawn scenes whose truth is known.
"""

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from inpainting_core.engines.base import EngineRequest
from inpainting_core.engines.classic import ClassicEngine, farmland, healing, measures, sites, water
from inpainting_core.engines.classic.reading import survey_map
from inpainting_core.engines.classic.sun import Sun, estimate_sun
from inpainting_core.prompts import prepare_prompt
from tests.test_classic_real_maps import shared_map as shared  # skips where ../shared is missing


@pytest.fixture(scope="module")
def engine():
    return ClassicEngine()


def paint(engine, image, mask, wish, mpp, seed=3):
    """The engine's picture for `wish` painted where `mask` (uint8) is, on the whole `image`."""
    prompt = prepare_prompt(wish)
    request = EngineRequest(image=image, mask=Image.fromarray(mask), prompt=prompt.final,
                            land_covers=prompt.land_covers, subject=prompt.subject, wish=prompt.original,
                            seed=seed, context=image, crop_box=(0, 0, image.width, image.height),
                            metres_per_pixel=mpp)
    return np.asarray(engine.inpaint(request).image.convert("RGB"))


def blob(size, centre, radius):
    mask = np.zeros((size[1], size[0]), np.uint8)
    cv2.circle(mask, centre, radius, 255, -1, cv2.LINE_AA)
    return mask


def angle_between(a, b):
    return abs((math.degrees(a - b) + 180) % 360 - 180)


# --- The sun, read from the map's own shadows ------------------------------------------------


def shadowed_scene(sun_degrees, seed=0):
    """Crowns darker than the ground, each with a shadow cast away from the sun."""
    rng = np.random.default_rng(seed)
    image = np.full((300, 300, 3), 160, np.float32) + rng.normal(0, 4, (300, 300, 1))
    dx, dy = -math.cos(math.radians(sun_degrees)), -math.sin(math.radians(sun_degrees))
    for _ in range(30):
        x, y = rng.integers(30, 270, 2)
        radius = int(rng.integers(5, 11))
        for step in range(1, 13):
            cv2.circle(image, (int(x + dx * step), int(y + dy * step)), radius, (45, 45, 50), -1)
        cv2.circle(image, (int(x), int(y)), radius, (95, 110, 80), -1)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sun_degrees", [0, 60, 135, -100])
def test_the_sun_is_read_from_drawn_shadows(sun_degrees):
    sun = estimate_sun(shadowed_scene(sun_degrees), 0.5)
    assert angle_between(sun.azimuth, math.radians(sun_degrees)) < 15
    assert sun.confidence > 0.1


@pytest.mark.parametrize("name, mpp, sun_degrees", [
    # by eye: Zurich's buildings and trees cast their shadows to the upper right, Olpe's houses
    # to the upper left, the Harz spruces long to the upper left, the 0.1 m crowns to the left
    ("zurich-suburb-0.5m.png", 0.5, 165), ("olpe-aerial.png", 1.5, 45),
    ("harz-snow-0.6m.jpg", 0.6, 70), ("conifer-forest-road-0.1m.png", 0.1, 10),
])
def test_the_sun_is_read_from_the_shadows_on_the_shared_maps(name, mpp, sun_degrees):
    picture = np.asarray(shared(name))
    factor = 768 / max(picture.shape[:2])
    small = cv2.resize(picture, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    sun = estimate_sun(small, mpp / factor)
    assert angle_between(sun.azimuth, math.radians(sun_degrees)) < 35
    turned = estimate_sun(np.ascontiguousarray(np.rot90(small)), mpp / factor)  # turns with the map
    assert angle_between(turned.azimuth, sun.azimuth - math.pi / 2) < 5


class _Light:
    """Materials with a given sun, for drawing buildings on a plain picture."""

    def __init__(self, sun):
        self.sun, self.shadow_share, self.snowy = sun, 0.5, False
        self.roofs_lab = np.float32([[45, 20, 20]])
        self.snow_lab = np.float32([92, 0, 0])

    def roof_grain(self):
        return np.zeros((200, 200, 3), np.float32)

    def roof_colour(self, rng):
        return self.roofs_lab[0]


@pytest.mark.parametrize("sun_degrees", [0, 90, -135])
def test_painted_buildings_cast_their_shadows_away_from_the_maps_sun(sun_degrees):
    ground = np.full((200, 200, 3), 150, np.float32)
    house = sites.Building.box((100.0, 100.0), 30, 20, 0.3, 12.0, "gable")
    light = _Light(Sun(math.radians(sun_degrees), 1.0, 1.0))
    picture, roofs = sites.build(ground, [house], light, np.random.default_rng(1), 0.5)
    shadow = (picture.mean(axis=2) < 120) & (roofs < 0.5)
    ys, xs = np.nonzero(shadow)
    direction = math.atan2(ys.mean() - 100, xs.mean() - 100)
    assert angle_between(direction, math.radians(sun_degrees) + math.pi) < 20
    # the roof plane that faces the sun is the lighter one
    lit = picture[roofs > 0.9].mean(axis=1)
    assert lit.max() - lit.min() > 10


# --- Water -----------------------------------------------------------------------------------


def test_open_water_bodies_are_calm_lakes_not_dark_fields_clearings_or_shadows_on_snow():
    for name, mpp in (("forest-0.85m.jpg", 0.85), ("harz-snow-0.6m.jpg", 0.6)):
        picture = np.asarray(shared(name))
        factor = 768 / max(picture.shape[:2])
        small = cv2.resize(picture, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        assert measures.open_water_bodies(small, mpp / factor).mean() < 0.002, name
    village = np.asarray(shared("village-lake-0.5m.jpg"))
    small = cv2.resize(village, (768, 768), interpolation=cv2.INTER_AREA)
    bodies = measures.open_water_bodies(small, 0.5 * village.shape[1] / 768)
    assert bodies[:, :60].mean() > 0.5  # the lake on the left
    assert bodies[:, 200:].mean() < 0.002  # its dark, smooth fields are no lake


@pytest.mark.parametrize("stroke", ["zigzag", "river"])
def test_a_narrow_stroke_is_open_water(engine, stroke):
    """A zig-zag lake and a river across Zurich's blocks: open water in their middle, not a bank."""
    image = shared("zurich-suburb-0.5m.png", (250, 120, 650, 520))
    mask = np.zeros((400, 400), np.uint8)
    if stroke == "zigzag":
        points = np.int32([[60 + i * 47, 160 if i % 2 else 240] for i in range(7)])
        cv2.polylines(mask, [points], False, 255, 40, cv2.LINE_AA)
    else:
        t = np.linspace(-1, 1, 40)
        points = np.int32(np.stack([200 + t * 160, 200 + 50 * np.sin(t * 2.2) - t * 40], 1))
        cv2.polylines(mask, [points], False, 255, 30, cv2.LINE_AA)
    painted = paint(engine, image, mask, "Ein See" if stroke == "zigzag" else "Ein Fluss", 0.5)
    depth = cv2.distanceTransform(np.pad((mask > 127).astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    middle = depth > max(0.3 * depth.max(), min(0.5 * depth.max(), 8.0))  # as picture_quality measures it
    assert measures.open_water(painted)[middle].mean() > 0.85


def test_a_lake_is_deeper_and_darker_in_its_middle_and_its_shore_comes_from_the_map(engine):
    image = shared("forest-0.85m.jpg", (400, 400, 760, 760))
    mask = blob(image.size, (180, 180), 140)
    painted = paint(engine, image, mask, "Ein See", 0.85)
    lightness = measures.lab(painted)[..., 0]
    depth = cv2.distanceTransform(np.pad((mask > 127).astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    deep = depth > 0.8 * depth.max()
    shallow = (depth > 0.25 * depth.max()) & (depth < 0.4 * depth.max())
    assert lightness[deep].mean() < lightness[shallow].mean() - 1.5
    # the shore: reeds on a green map, snow on a winter one, a beach on a dry one
    for name, box, kind in (("forest-0.85m.jpg", (400, 400, 760, 760), {"reeds"}),
                            ("harz-snow-0.6m.jpg", (480, 250, 840, 550), {"snow"}),
                            ("village-lake-0.5m.jpg", (1400, 1600, 1760, 1960), {"sand", "gravel"})):
        crop = np.asarray(shared(name, box))
        region = blob((crop.shape[1], crop.shape[0]), (crop.shape[1] // 2, crop.shape[0] // 2), 100) > 127
        survey = survey_map(crop, region, None, None)
        assert water.shore_kind(crop, region, survey, 0.6) in kind, name


# --- Built places ----------------------------------------------------------------------------


def test_winter_maps_are_told_from_summer_ones():
    def snowy(name):
        crop = np.asarray(shared(name))[:600, :600]  # the Harz: its forest and a little open snow
        region = np.zeros(crop.shape[:2], bool)
        region[150:250, 150:250] = True
        survey = survey_map(crop, region, None, None)
        textures = sites.MapTextures(survey, np.random.default_rng(1), 0.5, crop, region,
                                     (slice(140, 260), slice(140, 260)))
        return textures.snowy

    assert snowy("harz-snow-0.6m.jpg")
    for name in ("olpe-aerial.png", "zurich-suburb-0.5m.png", "village-lake-0.5m.jpg"):
        assert not snowy(name), name


@pytest.mark.parametrize("wish", ["Eine Burg", "Eine Kirche", "Ein Fußballstadion", "Ein Marktplatz",
                                  "Ein Kloster", "Eine Schule", "Eine Fabrik", "Ein Bahnhof"])
def test_a_built_place_fills_the_painted_area_without_a_flat_disc(engine, wish):
    """On the dry village, a large stroke: most of it changes, and nowhere is it a flat fill."""
    image = shared("village-lake-0.5m.jpg", (1200, 1500, 1700, 2000))
    mask = blob(image.size, (250, 250), 200)
    painted = paint(engine, image, mask, wish, 0.5).astype(np.float32)
    before = np.asarray(image, np.float32)
    core = mask == 255
    diff = np.abs(cv2.GaussianBlur(painted, (0, 0), 1.0) - cv2.GaussianBlur(before, (0, 0), 1.0)).max(axis=2)
    assert (diff[core] > 18).mean() > 0.6
    texture = measures.fine_texture(painted)
    # a flat disc would show as large windows without texture
    flat = cv2.blur((texture < 1.0).astype(np.float32), (25, 25)) > 0.9
    assert flat[core].mean() < 0.05


def test_a_churchyard_on_a_dry_map_is_dry(engine):
    image = shared("village-lake-0.5m.jpg", (1200, 1500, 1600, 1900))
    mask = blob(image.size, (200, 200), 150)
    painted = paint(engine, image, mask, "Eine Kirche", 0.5)
    lab = measures.lab(painted)[(mask == 255)]
    ground = lab[(lab[:, 0] > 30)]
    assert np.median(ground[:, 1]) > -6  # not a bright green lawn (a* of a watered lawn: -15 and less)


# --- Covers ----------------------------------------------------------------------------------


def test_fields_are_parcels_of_their_own_crops():
    picture = farmland.paint_farmland(np.random.default_rng(2), (400, 400), 0.5, 0.4, None)
    layout = farmland.parcels((400, 400), 0.5, 0.4, np.random.default_rng(2))
    lightness = measures.lab(picture)[..., 0]
    means = [lightness[layout.ids == index].mean() for index in np.unique(layout.ids)]
    assert len(means) >= 3
    assert np.std(means) > 4  # each parcel its own crop and shade, not one colour


def test_snow_keeps_the_grounds_structure_and_ends_softly(engine):
    image = shared("zurich-suburb-0.5m.png", (300, 150, 620, 470))
    mask = blob(image.size, (160, 160), 110)
    painted = paint(engine, image, mask, "Schnee", 0.5).astype(np.float32)
    before = np.asarray(image, np.float32)
    core = cv2.erode(mask, np.ones((41, 41), np.uint8)) == 255
    assert painted[core].mean() > before[core].mean() + 40  # white
    detail = lambda picture: picture.mean(axis=2) - cv2.GaussianBlur(picture.mean(axis=2), (0, 0), 2.0)  # noqa: E731
    assert np.corrcoef(detail(painted)[core], detail(before)[core])[0, 1] > 0.3  # kerbs, crowns still show
    assert measures.edge_contrast(painted, mask > 127) < 2.5  # no hard white edge


# --- Healing ---------------------------------------------------------------------------------


def test_healing_continues_a_road_that_runs_into_the_hole():
    picture = np.asarray(shared("conifer-forest-road-0.1m.png", (150, 200, 550, 600)), np.float32)
    lab = measures.lab(picture)
    road = (lab[..., 0] > 78) & (np.hypot(lab[..., 1], lab[..., 2]) < 12)
    hole = blob((400, 400), (200, 200), 90) > 127
    ys, xs = np.nonzero(road & ~hole)
    vx, vy, x0, y0 = cv2.fitLine(np.stack([xs, ys], 1).astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    yy, xx = np.mgrid[0:400, 0:400]
    off_line = np.abs((xx - x0) * vy - (yy - y0) * vx)
    half = float(np.median(off_line[road & ~hole])) * 1.6  # about the road's half-width
    healed = healing.heal(picture, hole, np.random.default_rng(3))
    healed_lab = measures.lab(healed)
    healed_road = (healed_lab[..., 0] > 72) & (np.hypot(healed_lab[..., 1], healed_lab[..., 2]) < 14)
    on_road = hole & (off_line < 0.6 * half)
    beside = hole & (off_line > 1.6 * half)
    assert healed_road[on_road].mean() > 0.8
    assert healed_road[beside].mean() < 0.15
