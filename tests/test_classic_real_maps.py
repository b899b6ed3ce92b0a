"""The classic engine on real maps: scale, exemplars first, natural outlines, subjects, drawn maps.

Fast unit-level checks on the demo map (and, where ../shared is present, the
real orthophoto of Olpe); the contact sheet (benchmarks/picture_sheet.py) is
where the pictures are judged by eye.
"""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from inpainting_core import compositing, landcover
from inpainting_core.engines.base import EngineRequest
from inpainting_core.engines.classic import ClassicEngine, painters, scale, shapes, style, subjects
from inpainting_core.engines.classic.structures import STRUCTURES
from inpainting_core.prompts import prepare_prompt
from tooling.demo import make_demo_map

OLPE = Path(__file__).resolve().parent.parent.parent / "shared" / "maps" / "olpe-aerial.png"


@pytest.fixture(scope="module")
def demo():
    return make_demo_map()


@pytest.fixture(scope="module")
def engine():
    return ClassicEngine()


def rgb(image):
    return np.asarray(image.convert("RGB"))


def zigzag(size=(320, 320), width=34):
    mask = np.zeros(size, np.uint8)
    points = np.int32([[30 + i * 43, 110 if i % 2 else 210] for i in range(7)])
    cv2.polylines(mask, [points], False, 255, width, cv2.LINE_AA)
    return mask


def request_on(engine, image, mask, wish, seed=3, **kwargs):
    plan = compositing.plan_crop(mask, image.size, engine.target_size, padding=32)
    crop, crop_mask = compositing.crop_for_engine(image, mask, plan)
    prompt = prepare_prompt(wish)
    return EngineRequest(
        image=crop, mask=crop_mask, prompt=prompt.final, land_covers=prompt.land_covers,
        subject=prompt.subject, wish=prompt.original, seed=seed, context=image,
        crop_box=plan.box, **kwargs,
    )


def blob(size, centre, radius):
    mask = np.zeros((size[1], size[0]), np.uint8)
    cv2.circle(mask, centre, radius, 255, -1, cv2.LINE_AA)
    return mask


# --- Scale -------------------------------------------------------------------------------


def test_the_scale_estimate_follows_the_demo_map_when_it_is_resampled(demo):
    """The roof estimate is calibrated on real town maps (tests/test_classic_reading.py);
    on the synthetic demo map it must at least scale with the map."""
    picture = rgb(demo)
    estimate = scale.estimate_metres_per_pixel(picture)
    for factor in (0.5, 1.5):
        resized = cv2.resize(picture, None, fx=factor, fy=factor,
                             interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
        assert estimate / factor / 1.5 < scale.estimate_metres_per_pixel(resized) < estimate / factor * 1.5


def test_a_map_without_roofs_has_no_estimate_and_the_engine_says_what_it_assumed(engine):
    meadow = np.clip(painters.paint_meadow(np.random.default_rng(1), (300, 300)), 0, 255).astype(np.uint8)
    assert scale.estimate_metres_per_pixel(meadow) is None
    image = Image.fromarray(meadow)
    result = engine.inpaint(request_on(engine, image, blob(image.size, (150, 150), 60), "Ein See"))
    assert any("0.8" in str(note) for note in result.notes)


def test_a_known_scale_is_used_as_is_and_sizes_what_is_painted(engine, demo):
    """A stadium is 150 m long: on a map with twice the metres per pixel it is half as long."""
    mask = blob(demo.size, (820, 560), 200)

    def pitch_pixels(mpp):
        result = engine.inpaint(request_on(engine, demo, mask, "Ein Fußballstadion", metres_per_pixel=mpp))
        assert not any("estimated" in str(note) for note in result.notes)
        painted = rgb(result.image).astype(np.int16)
        striped_green = (painted[..., 1] > painted[..., 0] + 40) & (painted[..., 1] > 110)
        return striped_green.sum()

    fine, coarse = pitch_pixels(0.8), pitch_pixels(1.6)
    assert 105 * 68 / 0.8**2 * 0.6 < fine < 105 * 68 / 0.8**2 * 1.4  # the pitch's real size
    assert 2.8 < fine / coarse < 5.5  # area goes with the square of the scale


def test_painters_follow_the_scale():
    """Painting at zoom 0.5 (a map with twice the metres per pixel) halves the size of blobs."""
    def blob_size(picture):
        grey = picture.mean(axis=2)
        grey = grey - grey.mean()
        spectrum = np.abs(np.fft.rfft2(grey)) ** 2
        ac = np.fft.irfft2(spectrum, s=grey.shape)
        ac /= ac[0, 0]
        return int(np.argmax(ac[0, :64] < 0.5))

    def painter(rng, shape):
        return np.repeat(painters.smooth_noise(rng, shape, 16)[..., None], 3, axis=2)

    rng = np.random.default_rng
    normal = blob_size(scale.paint_at_scale(painter, rng(1), (256, 256), 1.0))
    small = blob_size(scale.paint_at_scale(painter, rng(1), (256, 256), 0.5))
    assert 1.5 < normal / small < 2.6


# --- Exemplars first ---------------------------------------------------------------------


def test_a_cover_the_map_shows_is_quilted_from_it_and_only_a_missing_one_is_painted(
    engine, demo, monkeypatch
):
    calls = []

    def spy(cover):
        original = painters.PAINTERS[cover]
        return lambda rng, shape: calls.append(cover) or original(rng, shape)

    for cover in (landcover.FOREST, landcover.LAVA):
        monkeypatch.setitem(painters.PAINTERS, cover, spy(cover))
    mask = blob(demo.size, (820, 560), 90)
    engine.inpaint(request_on(engine, demo, mask, "Ein dichter Wald"))
    assert landcover.FOREST not in calls  # the demo map has woods to quilt from
    engine.inpaint(request_on(engine, demo, mask, "Ein Vulkan"))
    assert landcover.LAVA in calls  # it has no lava


def test_a_painted_cover_takes_on_the_maps_light_in_lab():
    """Lab transfer: a dark, warm photo makes painted snow darker and warmer than on the demo map."""
    from inpainting_core.engines.classic.quilting import _tint_like_map
    from inpainting_core.engines.classic.reading import survey_map

    snow = painters.paint_snow(np.random.default_rng(2), (64, 64))
    dusk = np.full((128, 128, 3), (80, 55, 30), np.uint8)
    dusk = np.clip(dusk + np.random.default_rng(3).normal(0, 8, dusk.shape), 0, 255).astype(np.uint8)
    survey = survey_map(dusk, np.zeros((128, 128), bool), None, None)
    tinted = _tint_like_map(snow, landcover.SNOW, survey)
    assert tinted.mean() < snow.mean() - 5
    assert tinted[..., 0].mean() - tinted[..., 2].mean() > snow[..., 0].mean() - snow[..., 2].mean() + 3


# --- Shapes ------------------------------------------------------------------------------


def test_a_lake_on_a_zigzag_stroke_gets_a_smoother_outline_inside_the_stroke():
    stroke = zigzag() > 127
    smoothed = shapes.natural_outline(stroke, np.random.default_rng(1), irregularity=0)
    assert not (smoothed[~stroke] > 0).any()  # inside the stroke
    assert (smoothed >= 0.5).sum() > 0.5 * stroke.sum()  # still a lake of about the stroke's size
    # the brush's sharp inner corners are rounded off
    assert _sharpest_turn(smoothed >= 0.5) < 0.7 * _sharpest_turn(stroke)
    assert _perimeter(smoothed >= 0.5) < _perimeter(stroke)
    for seed in (1, 2, 3):
        natural = shapes.natural_outline(stroke, np.random.default_rng(seed))
        assert not (natural[~stroke] > 0).any()
        lake = natural >= 0.5
        assert lake.sum() > 0.35 * stroke.sum()
        # irregular: its distance from the stroke's edge varies along the shore, like bays
        depth = cv2.distanceTransform(stroke.astype(np.uint8), cv2.DIST_L2, 5)
        shore = lake & ~(cv2.erode(lake.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
        assert depth[shore].std() > 1.0


def _perimeter(mask):
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return sum(cv2.arcLength(c, True) for c in contours)


def _sharpest_turn(mask, step=6):
    contour = max(cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0],
                  key=len)[:, 0].astype(np.float32)
    ahead, behind = np.roll(contour, -step, 0) - contour, contour - np.roll(contour, step, 0)
    turn = np.arctan2(ahead[:, 1], ahead[:, 0]) - np.arctan2(behind[:, 1], behind[:, 0])
    return float(np.abs((turn + math.pi) % (2 * math.pi) - math.pi).max())


def test_the_engine_paints_a_lake_with_a_shore_and_leaves_outside_the_stroke_alone(engine, demo):
    mask = np.zeros((demo.height, demo.width), np.uint8)
    mask[400:720, 660:980] = zigzag()
    request = request_on(engine, demo, mask, "Ein See")
    result = rgb(engine.inpaint(request).image)
    before = rgb(request.image)
    untouched = np.asarray(request.mask) == 0
    assert np.array_equal(result[untouched], before[untouched])
    water = (result[..., 2].astype(int) > result[..., 0] + 5) & (result.mean(axis=2) < 90)
    stroke = np.asarray(request.mask) > 127
    lake = cv2.morphologyEx((water & stroke).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    assert lake.sum() > 0.3 * stroke.sum()
    # between the lake and the stroke's edge lies a bank taken from the land around (here the
    # demo's dark forest, so not necessarily lighter): greener than the water, nearer the land
    bank = stroke & ~lake & (cv2.dilate(lake.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    assert result[bank][:, 1].mean() > result[bank][:, 2].mean()
    around = measures.ring_around(stroke, 12)
    land = result[around].astype(float).mean(axis=0)
    assert np.linalg.norm(result[bank].astype(float).mean(axis=0) - land) < np.linalg.norm(
        result[lake].astype(float).mean(axis=0) - land)


def test_built_things_are_turned_like_the_streets():
    canvas = np.full((200, 200, 3), 120, np.uint8)
    for offset in range(-300, 300, 24):
        start = (100 + offset, 0)
        end = (int(100 + offset + 200 / math.tan(math.radians(60))), 200)
        cv2.line(canvas, start, end, (40, 40, 40), 3)
    region = np.zeros((200, 200), bool)
    region[70:130, 70:130] = True
    angle = math.degrees(shapes.street_angle(canvas, region))
    assert min(abs(angle - 60), abs(angle - 60 + 90), abs(angle - 150)) < 5


# --- Subjects ----------------------------------------------------------------------------


def test_twenty_subjects_each_with_a_strategy_that_exists():
    assert len(subjects.SUBJECTS) == 25
    names = {subject.name for subject in subjects.SUBJECTS}
    for expected in ("lake", "forest", "castle", "stadium", "church", "bridge", "harbour", "vineyard",
                     "park", "river", "railway", "snow"):
        assert expected in names
    for subject in subjects.SUBJECTS:
        assert subject.cover in landcover.ALL
        if subject.strategy == subjects.EXEMPLAR:
            assert subject.cover in painters.PAINTERS
        else:
            assert subject.name in STRUCTURES or subject.name == "harbour"
        for keyword in subject.keywords[:1]:
            assert subjects.subject_for(f"a {keyword}")[0] == subject


@pytest.mark.parametrize("wish, name", [
    ("Was wäre, wenn hier ein See wäre?", "lake"), ("Ein dichter Wald", "forest"),
    ("Eine Burg auf dem Hügel", "castle"), ("Ein Fußballstadion", "stadium"),
    ("Ein Hafen mit Booten", "harbour"), ("Eine Eisenbahnlinie", "railway"), ("Ein Weinberg", "vineyard"),
    ("Ein Windpark", "wind farm"), ("Ein Windrad", "wind farm"),
])
def test_the_kiosks_suggestions_and_common_wishes_find_their_subject(wish, name):
    assert subjects.subject_for(prepare_prompt(wish).subject)[0].name == name


def test_every_subject_paints_its_region_and_nothing_else(engine, demo):
    mask = blob(demo.size, (820, 560), 70)
    for subject in subjects.SUBJECTS:
        request = request_on(engine, demo, mask, f"a {subject.keywords[0]}")
        result = engine.inpaint(request)
        painted, before = rgb(result.image), rgb(request.image)
        untouched = np.asarray(request.mask) == 0
        assert np.array_equal(painted[untouched], before[untouched]), subject.name
        assert np.abs(painted.astype(int) - before).mean() > 1, subject.name
        assert not any("cannot" in str(note) for note in result.notes), subject.name


def test_a_wish_the_engine_cannot_paint_is_said_not_painted_as_something_else(engine, demo):
    mask = blob(demo.size, (820, 560), 70)
    result = engine.inpaint(request_on(engine, demo, mask, "Ein Dinosaurier"))
    # The note names the wish in the visitor's own words, not in its translation.
    assert any("Ein Dinosaurier" in str(note) and "cannot" in str(note) for note in result.notes)


def test_a_stadium_is_the_same_for_the_same_seed(engine, demo):
    mask = blob(demo.size, (820, 560), 120)
    first = engine.inpaint(request_on(engine, demo, mask, "Ein Fußballstadion", seed=9))
    again = engine.inpaint(request_on(engine, demo, mask, "Ein Fußballstadion", seed=9))
    assert np.array_equal(rgb(first.image), rgb(again.image))


# --- Drawn and historic maps -------------------------------------------------------------


def drawn(demo):
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb(demo), cv2.COLOR_RGB2GRAY), (0, 0), 2.0)
    image = np.full((*grey.shape, 3), (236, 226, 200), np.uint8)
    image[cv2.Canny(grey, 30, 70) > 0] = (60, 48, 40)
    return Image.fromarray(image)


def test_drawn_maps_are_recognised_and_photos_are_not(demo):
    assert style.is_drawn(rgb(drawn(demo)))
    assert not style.is_drawn(rgb(demo))
    if OLPE.exists():
        assert not style.is_drawn(rgb(Image.open(OLPE)))


def test_on_a_drawn_map_a_lake_is_drawn_in_the_maps_ink_and_paper(engine, demo):
    plan_map = drawn(demo)
    mask = blob(plan_map.size, (820, 560), 80)
    request = request_on(engine, plan_map, mask, "Ein See")
    painted = rgb(engine.inpaint(request).image)[np.asarray(request.mask) == 255].astype(np.int16)
    paper, ink = np.int16([236, 226, 200]), np.int16([60, 48, 40])
    near_paper = np.abs(painted - paper).max(axis=1) < 25
    inked = painted.mean(axis=1) < paper.mean() - 50
    assert near_paper.mean() > 0.5 and inked.mean() > 0.03  # hatching on the map's own paper
    saturation = cv2.cvtColor(painted.astype(np.uint8)[None], cv2.COLOR_RGB2HSV)[0, :, 1]
    assert saturation.mean() < 70  # no photo-blue water on a drawn map


# --- Through the worker --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("metres_per_pixel", [None, 0.5])
def test_the_worker_passes_the_worlds_scale_and_an_unknown_one_is_stated_in_the_notice(
    metres_per_pixel, settings, monkeypatch
):
    import io

    from django.core.files.base import ContentFile
    from django_q.conf import Conf

    from inpainting import jobs, tasks
    from inpainting.models import InpaintJob
    from inpainting_core.generation import GenerationSettings
    from museum.models import World

    monkeypatch.setattr(Conf, "SYNC", False)
    settings.LANGUAGE_CODE = "en"
    picture = make_demo_map(width=384, height=256, seed=4)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    world = World.objects.create(name="Olpe", slug="olpe", metres_per_pixel=metres_per_pixel)
    world.image.save("olpe.png", ContentFile(buffer.getvalue()))
    paint = np.zeros((256, 384, 4), np.uint8)
    paint[80:180, 120:260] = (255, 0, 0, 255)
    mask = io.BytesIO()
    Image.fromarray(paint, "RGBA").save(mask, format="PNG")
    seen = []
    original = ClassicEngine.inpaint
    monkeypatch.setattr(ClassicEngine, "inpaint",
                        lambda self, request, **kw: seen.append(request.metres_per_pixel) or original(self, request, **kw))
    job = jobs.submit_job(image=buffer.getvalue(), mask=mask.getvalue(), wish="Ein See", world=world,
                          generation=GenerationSettings(engine="classic", seed=3))
    assert tasks.run_job(str(job.pk)) == InpaintJob.Status.SUCCEEDED
    job.refresh_from_db()
    assert seen == [metres_per_pixel]
    assert ("m per pixel" in job.notice) == (metres_per_pixel is None)


@pytest.mark.skipif(not OLPE.exists(), reason="../shared/maps/olpe-aerial.png is not present here")
def test_an_unpaintable_wish_on_a_town_photo_is_healed_with_the_town_around_it(engine):
    """The town's fine mix of roofs, streets and gardens is quilted from the ring around the
    region, not replaced by one land cover the colour rules guess for it."""
    olpe = Image.open(OLPE).convert("RGB")
    mask = blob(olpe.size, (610, 560), 70)
    request = request_on(engine, olpe, mask, "Ein Dinosaurier", metres_per_pixel=1.5)
    painted = rgb(engine.inpaint(request).image).astype(np.float32)
    core = np.asarray(request.mask) == 255
    ring = (cv2.dilate(core.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0) & ~core
    assert np.linalg.norm(painted[core].mean(axis=0) - painted[ring].mean(axis=0)) < 25  # a meadow: ~90
    assert abs(painted[core].mean(axis=1).std() - painted[ring].mean(axis=1).std()) < 0.35 * painted[ring].mean(axis=1).std()


# --- Pictures that hold on any real map (issue 25): the figures of benchmarks/picture_quality.py --------

from inpainting_core.engines.classic import healing, measures  # noqa: E402

MAPS = OLPE.parent
POINTS = Path(__file__).resolve().parent / "data" / "landcover_points.json"


def shared_map(name, box=None):
    path = MAPS / name
    if not path.exists():
        pytest.skip(f"../shared/maps/{name} is not present here")
    image = Image.open(path).convert("RGB")
    return image.crop(box) if box else image


def inner(mask, share=0.3):
    depth = cv2.distanceTransform(np.pad((mask > 127).astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    return depth > share * depth.max()


def test_periodicity_tells_a_tiling_from_a_natural_texture():
    rng = np.random.default_rng(1)
    tile = rng.normal(128, 20, (40, 40, 3))
    assert measures.periodicity(np.tile(tile, (4, 4, 1))[:128, :128]) > 0.9
    assert measures.periodicity(rng.normal(128, 20, (128, 128, 3))) < 0.2


def test_healing_continues_stripes_through_the_hole():
    yy, xx = np.mgrid[0:160, 0:160]
    stripes = np.repeat((128 + 60 * np.sign(np.sin((xx + 0.5 * yy) / 5.0)))[..., None], 3, axis=2).astype(np.float32)
    hole = np.zeros((160, 160), bool)
    cv2.circle(hole.view(np.uint8), (80, 80), 40, 1, -1)
    healed = healing.heal(stripes, hole, np.random.default_rng(2))
    error = np.abs(healed[hole] - stripes[hole]).mean()
    assert error < 10  # in phase (0.2-0.8 over seeds); a flat fill would be ~60 off everywhere
    assert healed[hole].mean(axis=1).std() > 35  # stripes, not a flat disc


@pytest.mark.parametrize("name, box, mpp", [
    ("zurich-suburb-0.5m.png", (300, 150, 620, 470), 0.5),  # blocks, lawns, trees, cars
    ("forest-0.85m.jpg", (450, 450, 770, 770), 0.85),  # a clearing in conifers
    ("conifer-forest-road-0.1m.png", (450, 300, 770, 620), 0.1),  # crowns with long shadows
])
def test_a_lake_is_open_water_without_a_pattern_on_any_map(engine, name, box, mpp):
    picture = shared_map(name, box)
    mask = blob(picture.size, (160, 160), 110)
    request = request_on(engine, picture, mask, "Was wäre, wenn hier ein See wäre?", metres_per_pixel=mpp)
    painted = rgb(engine.inpaint(request).image)
    middle = inner(np.asarray(request.mask))
    assert measures.open_water(painted)[middle].mean() > 0.85
    top, left, side = measures.inscribed_square(middle)
    assert measures.periodicity(painted[top : top + side, left : left + side]) < 0.35


@pytest.mark.parametrize("wish", ["Eine Burg auf dem Hügel", "Eine Kirche", "Ein Fußballstadion", "Ein Marktplatz"])
def test_a_structure_fills_what_was_painted(engine, wish):
    picture = shared_map("zurich-suburb-0.5m.png", (300, 150, 620, 470))
    mask = blob(picture.size, (160, 160), 120)
    request = request_on(engine, picture, mask, wish, metres_per_pixel=0.5)
    painted = rgb(engine.inpaint(request).image).astype(np.float32)
    before = rgb(request.image).astype(np.float32)
    core = np.asarray(request.mask) == 255
    diff = np.abs(cv2.GaussianBlur(painted, (0, 0), 1.0) - cv2.GaussianBlur(before, (0, 0), 1.0)).max(axis=2)
    assert (diff[core] > 18).mean() > 0.6


@pytest.mark.parametrize("name, box", [
    ("zurich-suburb-0.5m.png", (300, 150, 620, 470)),
    ("village-lake-0.5m.jpg", (1300, 1700, 1620, 2020)),
    ("harz-snow-0.6m.jpg", (450, 250, 770, 570)),
])
def test_a_healed_area_has_the_colour_and_texture_of_its_ring_and_no_outline(engine, name, box):
    picture = shared_map(name, box)
    mask = blob(picture.size, (160, 160), 80)
    request = request_on(engine, picture, mask, "Ein Dinosaurier")
    painted = rgb(engine.inpaint(request).image)
    region = np.asarray(request.mask) > 127
    ring = measures.ring_around(region, 40)
    lab = measures.lab(painted)
    assert np.linalg.norm(lab[region].mean(axis=0) - lab[ring].mean(axis=0)) < 12
    texture = measures.fine_texture(painted)
    assert 0.4 < texture[region].mean() / texture[ring].mean() < 1.6
    assert measures.edge_contrast(painted, region) < 1.6  # no visible circle


def test_a_shadow_is_no_lake_to_quilt_from():
    zurich = rgb(shared_map("zurich-suburb-0.5m.png"))
    assert measures.open_water(zurich).mean() > 0.03  # its shadows are dark and smooth...
    assert measures.open_water_bodies(zurich, 0.5).mean() < 0.005  # ...but no body of water
    olpe = rgb(shared_map("olpe-aerial.png"))
    assert measures.open_water_bodies(olpe, 1.5)[20:200, 60:170].mean() > 0.3  # the Biggesee arm


def test_the_labelled_land_cover_points_cover_every_shared_map():
    import json

    from inpainting_core.engines.classic import cover_model

    points = json.loads(POINTS.read_text())["points"]
    by_map = {}
    for point in points:
        assert point["label"] in cover_model.CLASSES
        by_map.setdefault(point["map"], []).append(point)
    assert len(by_map) == 6
    assert all(len(chosen) >= 50 for chosen in by_map.values())
