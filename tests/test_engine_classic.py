"""The classic engine on the demo map: it must paint the wished land cover, plausibly.

Requests are cut like the pipeline cuts them (compositing.plan_crop and
crop_for_engine), so the engine sees what it sees in production.
"""

import cv2
import numpy as np
import pytest
from PIL import Image

from inpainting_core import compositing, landcover
from inpainting_core.engines.base import Cancelled, EngineRequest
from inpainting_core.engines.classic import ClassicEngine, painters, reading
from inpainting_core.engines.classic import engine as classic_engine
from inpainting_core.engines.classic.scale import REFERENCE_METRES_PER_PIXEL
from tooling.demo import LABELS, make_demo_map

INDEX = {name: index for index, name in enumerate(LABELS)}
RADIUS = 70


@pytest.fixture(scope="module")
def demo():
    image, labels = make_demo_map(return_labels=True)
    return image, labels


@pytest.fixture(scope="module")
def engine():
    return ClassicEngine()


def place_showing(labels, covers, radius=RADIUS):
    """Centre (x, y) of the square of side 2*radius that shows most of `covers`."""
    shown = np.isin(labels, [INDEX[c] for c in covers]).astype(np.float32)
    share = cv2.boxFilter(shown, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_CONSTANT)
    margin = radius + 8
    share[:margin], share[-margin:], share[:, :margin], share[:, -margin:] = 0, 0, 0, 0
    y, x = np.unravel_index(int(np.argmax(share)), share.shape)
    return int(x), int(y)


def blob_mask(size, centre, radius=RADIUS):
    """A soft-edged round-ish blob, as a brush would paint it: float mask in [0, 1]."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = np.arctan2(yy - centre[1], xx - centre[0])
    reach = radius * (1 + 0.15 * np.sin(3 * angle))
    hard = (np.hypot(xx - centre[0], yy - centre[1]) < reach).astype(np.float32)
    return cv2.GaussianBlur(hard, (0, 0), 1.5)


def make_request(engine, image, mask, covers, seed=1, prompt=None):
    plan = compositing.plan_crop(mask, image.size, engine.target_size, padding=48)
    crop, crop_mask = compositing.crop_for_engine(image, mask, plan)
    return EngineRequest(
        image=crop,
        mask=crop_mask,
        prompt=prompt if prompt is not None else " ".join(covers),
        land_covers=tuple(covers),
        seed=seed,
        context=image,
        crop_box=plan.box,
    )


def painted_core(request):
    return np.asarray(request.mask) == 255


def inner_core(mask, inset=0.3):
    """The middle of a painted blob: a lake or a wood takes a natural outline inside the
    stroke, with a shore or an edge between them, so its own colours show here."""
    core = (np.asarray(mask) >= 250).astype(np.uint8)
    depth = cv2.distanceTransform(core, cv2.DIST_L2, 5)
    return depth > inset * depth.max()


def mean_colour_of(image, labels, cover):
    return np.asarray(image, np.float32)[labels == INDEX[cover]].mean(axis=0)


def detail(pixels):
    """Brightness minus its blur: texture without shading or depth."""
    brightness = pixels.astype(np.float32).mean(axis=-1)
    return brightness - cv2.GaussianBlur(brightness, (0, 0), 3)


def repaint(engine, demo, covers, on, seed=1, **kwargs):
    image, labels = demo
    centre = place_showing(labels, on)
    request = make_request(engine, image, blob_mask(image.size, centre), covers, seed=seed, **kwargs)
    result = np.asarray(engine.inpaint(request).image)
    return request, result


# --- Interface ----------------------------------------------------------------------


def test_engine_is_always_usable_and_registered(reset_engines):
    from inpainting_core.engines import get_engine

    engine = get_engine("classic")
    assert isinstance(engine, ClassicEngine)
    status = engine.status()
    assert status.usable and status.name == "classic" and status.reason == ""
    assert status.label == "Classic (offline)"


def test_target_size_keeps_small_crops_and_caps_large_ones(engine, settings):
    assert engine.target_size(300, 200) == (300, 200)
    assert engine.target_size(2048, 1024) == (1024, 512)
    assert engine.target_size(1000, 3000) == (341, 1024)
    settings.OLPE_CLASSIC_MAX_SIDE = 512
    assert engine.target_size(2048, 1024) == (512, 256)


# --- Reading the map ---------------------------------------------------------------------


def test_the_classifier_recognises_the_demo_maps_land_covers(demo):
    image, labels = demo
    small = cv2.resize(np.asarray(image), (768, 512), interpolation=cv2.INTER_AREA)
    truth = cv2.resize(labels, (768, 512), interpolation=cv2.INTER_NEAREST)
    found = reading.classify_land_cover(small)
    for cover, least_recall in ((landcover.WATER, 0.85), (landcover.FOREST, 0.9), (landcover.BUILDINGS, 0.7)):
        index = INDEX[cover]
        assert np.mean(found[truth == index] == index) > least_recall, cover
        assert np.mean(truth[found == index] == index) > 0.8, cover
    farmland = np.isin(truth, [INDEX[landcover.FIELD], INDEX[landcover.MEADOW]])
    assert np.mean(np.isin(found[farmland], [INDEX[landcover.FIELD], INDEX[landcover.MEADOW]])) > 0.9


@pytest.mark.parametrize("cover", [landcover.SNOW, landcover.SAND, landcover.WATER, landcover.FOREST, landcover.ROAD])
def test_the_classifier_recognises_the_procedural_painters(cover):
    painted = painters.PAINTERS[cover](np.random.default_rng(3), (256, 256))
    found = reading.classify_land_cover(np.clip(painted, 0, 255).astype(np.uint8))
    assert np.mean(found == INDEX[cover]) > 0.8


# --- Painting the wish --------------------------------------------------------------------


def test_a_lake_wish_paints_water_like_the_maps_own_lake(engine, demo):
    image, labels = demo
    request, result = repaint(engine, demo, [landcover.WATER], on=[landcover.FIELD, landcover.MEADOW])
    core = inner_core(request.mask)
    before = np.asarray(request.image, np.float32)[core].mean(axis=0)
    after = result[core].astype(np.float32)
    lake = mean_colour_of(image, labels, landcover.WATER)
    assert np.linalg.norm(after.mean(axis=0) - lake) < 0.5 * np.linalg.norm(before - lake)
    assert after[:, 2].mean() > after[:, 0].mean()  # bluish
    assert after.mean() < before.mean() - 30  # water is darker than farmland
    assert detail(result)[core].std() > 0.8  # ripples and grain, not a flat colour
    assert len(np.unique(result[core].reshape(-1, 3), axis=0)) > 200


def test_a_forest_wish_paints_rough_dark_woodland(engine, demo):
    image, labels = demo
    request, result = repaint(engine, demo, [landcover.FOREST], on=[landcover.FIELD, landcover.MEADOW])
    core = painted_core(request)
    before = np.asarray(request.image, np.float32)[core].mean(axis=0)
    after = result[core].astype(np.float32)
    forest = mean_colour_of(image, labels, landcover.FOREST)
    assert np.linalg.norm(after.mean(axis=0) - forest) < 0.5 * np.linalg.norm(before - forest)
    assert after[:, 1].mean() > after[:, 0].mean() and after[:, 1].mean() > after[:, 2].mean()
    assert detail(result)[core].std() > 6  # tree crowns


def test_a_field_wish_paints_rows_in_the_maps_field_colours(engine, demo):
    image, labels = demo
    request, result = repaint(engine, demo, [landcover.FIELD], on=[landcover.FOREST])
    core = painted_core(request)
    after = result[core].astype(np.float32)
    field = mean_colour_of(image, labels, landcover.FIELD)
    assert np.linalg.norm(after.mean(axis=0) - field) < 45
    # rows: the parcels (quilted from the map's own fields, `farmland`) run in one direction each,
    # unlike the forest that was there (orientation coherence 0.66 against 0.50 measured)
    grey = lambda picture: cv2.cvtColor(np.asarray(picture.convert("RGB") if hasattr(picture, "convert") else picture),  # noqa: E731
                                        cv2.COLOR_RGB2GRAY).astype(np.float32)
    rows = reading._orientation_coherence(grey(result))[core].mean()
    assert rows > 0.58 and rows > reading._orientation_coherence(grey(request.image))[core].mean() + 0.08


def test_a_town_wish_paints_roofs(engine, demo):
    request, result = repaint(engine, demo, [landcover.BUILDINGS], on=[landcover.MEADOW, landcover.FIELD])
    core = painted_core(request)
    pixels = result[core].astype(np.int16)
    red_roofs = (pixels[:, 0] > pixels[:, 1] + 40) & (pixels[:, 0] > 110)
    greyish = np.ptp(pixels, axis=1) < 16
    assert red_roofs.mean() > 0.02 and greyish.mean() > 0.1


def test_snow_is_painted_although_the_map_has_none(engine, demo):
    request, result = repaint(engine, demo, [landcover.SNOW], on=[landcover.FOREST])
    core = painted_core(request)
    hsv = cv2.cvtColor(result, cv2.COLOR_RGB2HSV)[core]
    before = cv2.cvtColor(np.asarray(request.image.convert("RGB")), cv2.COLOR_RGB2HSV)[core]
    # a forest under snow: much brighter and nearly without colour, its crowns still showing
    assert hsv[:, 2].mean() > before[:, 2].mean() + 60 and hsv[:, 1].mean() < 60
    assert hsv[:, 2].std() > 25
    pixels = result[core].astype(np.float32)
    assert pixels[:, 2].mean() >= pixels[:, 0].mean()  # shadows on snow are bluish
    assert detail(result)[core].std() > 0.5 and pixels.mean(axis=1).std() > 3


def test_lava_is_painted_with_glowing_cracks_in_a_dark_crust(engine, demo):
    request, result = repaint(engine, demo, [landcover.LAVA], on=[landcover.MEADOW, landcover.FIELD])
    pixels = result[painted_core(request)].astype(np.int16)
    glowing = (pixels[:, 0] > 200) & (pixels[:, 0] > pixels[:, 2] + 100)
    crust = pixels.max(axis=1) < 90
    assert glowing.mean() > 0.02 and crust.mean() > 0.2
    assert pixels[:, 0].mean() > pixels[:, 1].mean() > pixels[:, 2].mean()


def test_a_wish_without_a_land_cover_heals_the_region_with_its_surroundings(engine, demo):
    image, labels = demo
    request, result = repaint(engine, demo, [], on=[landcover.FOREST], prompt="make it go away")
    core = painted_core(request)
    forest = mean_colour_of(image, labels, landcover.FOREST)
    assert np.linalg.norm(result[core].astype(np.float32).mean(axis=0) - forest) < 25
    assert detail(result)[core].std() > 6


def test_a_second_land_cover_appears_inside_the_first(engine, demo):
    request, lake_only = repaint(engine, demo, [landcover.WATER], on=[landcover.FIELD, landcover.MEADOW], seed=4)
    _request, with_trees = repaint(
        engine, demo, [landcover.WATER, landcover.FOREST], on=[landcover.FIELD, landcover.MEADOW], seed=4
    )
    core = inner_core(request.mask)
    rough = np.abs(detail(with_trees)) > 8
    assert rough[core].mean() > 2 * (np.abs(detail(lake_only)) > 8)[core].mean()
    water = INDEX[landcover.WATER]
    assert np.mean(reading.classify_land_cover(with_trees)[core] == water) > 0.3


# --- Contract ---------------------------------------------------------------------------------


def test_nothing_changes_where_the_mask_is_empty(engine, demo):
    request, result = repaint(engine, demo, [landcover.WATER], on=[landcover.FIELD])
    untouched = np.asarray(request.mask) == 0
    assert result.shape == np.asarray(request.image).shape
    assert np.array_equal(result[untouched], np.asarray(request.image)[untouched])
    assert not np.array_equal(result, np.asarray(request.image))


def test_the_same_seed_paints_the_same_and_another_seed_differently(engine, demo):
    _request, first = repaint(engine, demo, [landcover.FOREST], on=[landcover.MEADOW], seed=11)
    _request, again = repaint(engine, demo, [landcover.FOREST], on=[landcover.MEADOW], seed=11)
    _request, other = repaint(engine, demo, [landcover.FOREST], on=[landcover.MEADOW], seed=12)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_without_a_seed_the_same_wish_paints_the_same(engine, demo):
    image, labels = demo
    mask = blob_mask(image.size, place_showing(labels, [landcover.MEADOW]))
    request = make_request(engine, image, mask, [landcover.SAND], seed=None, prompt="a beach")
    assert classic_engine.seed_for(request) == classic_engine.seed_for(request)
    assert np.array_equal(np.asarray(engine.inpaint(request).image), np.asarray(engine.inpaint(request).image))
    other_wish = make_request(engine, image, mask, [landcover.SAND], seed=None, prompt="sand dunes")
    assert classic_engine.seed_for(other_wish) != classic_engine.seed_for(request)


def test_progress_reports_four_phases_with_previews_once_there_is_a_picture(engine, demo):
    image, labels = demo
    mask = blob_mask(image.size, place_showing(labels, [landcover.MEADOW]))
    request = make_request(engine, image, mask, [landcover.WATER])
    calls = []
    engine.inpaint(request, progress=lambda step, total, preview: calls.append((step, total, preview))).image
    assert [(step, total) for step, total, _preview in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert calls[0][2] is None and calls[1][2] is None
    for _step, _total, preview in calls[2:]:
        assert isinstance(preview, Image.Image) and max(preview.size) <= 256


@pytest.mark.parametrize("cancel_at", [1, 2, 3, 4])
def test_cancelling_stops_between_phases(engine, demo, cancel_at):
    image, labels = demo
    mask = blob_mask(image.size, place_showing(labels, [landcover.MEADOW]))
    request = make_request(engine, image, mask, [landcover.FOREST])
    checks, steps = [], []

    def should_cancel():
        checks.append(True)
        return len(checks) >= cancel_at

    with pytest.raises(Cancelled):
        engine.inpaint(request, progress=lambda step, total, preview: steps.append(step), should_cancel=should_cancel).image
    assert steps == list(range(1, cancel_at))


def test_a_mask_touching_the_crops_edges_is_blended(engine, demo):
    """seamlessClone refuses masks whose box touches the picture's edge; the engine must not."""
    image, _labels = demo
    crop = image.crop((0, 0, 200, 160))
    mask = np.zeros((160, 200), np.uint8)
    mask[:90, :120] = 255  # the map's corner: touches the crop's top and left edges
    mask[120:, 150:] = 255  # and its bottom and right edges
    request = EngineRequest(
        image=crop, mask=Image.fromarray(mask), prompt="lake", land_covers=(landcover.WATER,),
        seed=2, context=image, crop_box=(0, 0, 200, 160), metres_per_pixel=REFERENCE_METRES_PER_PIXEL,
    )  # the demo World's own scale (seed_demo): the roof estimate is calibrated on real maps
    result = np.asarray(engine.inpaint(request).image)
    assert np.array_equal(result[mask == 0], np.asarray(crop)[mask == 0])
    painted = result[mask == 255].astype(np.float32)
    assert painted[:, 2].mean() > painted[:, 0].mean() and painted.mean() < 110


def test_a_fully_painted_crop_without_context_is_filled(engine, demo):
    image, labels = demo
    x, y = place_showing(labels, [landcover.FIELD], radius=40)
    crop = image.crop((x - 40, y - 40, x + 40, y + 40))
    request = EngineRequest(
        image=crop, mask=Image.new("L", crop.size, 255), prompt="forest", land_covers=(landcover.FOREST,), seed=3
    )
    result = np.asarray(engine.inpaint(request).image)
    assert result.shape == (80, 80, 3)
    assert result[..., 1].mean() > result[..., 0].mean() and detail(result).std() > 5


def test_an_empty_mask_returns_the_crop(engine, demo):
    image, _labels = demo
    crop = image.crop((0, 0, 64, 64))
    request = EngineRequest(image=crop, mask=Image.new("L", crop.size, 0), prompt="lake", land_covers=("water",))
    assert np.array_equal(np.asarray(engine.inpaint(request).image), np.asarray(crop))


def test_a_scaled_down_crop_borrows_texture_at_its_own_scale(engine, demo, settings):
    """A region larger than the engine's working size is painted smaller, texture included."""
    settings.OLPE_CLASSIC_MAX_SIDE = 160
    image, labels = demo
    mask = blob_mask(image.size, place_showing(labels, [landcover.MEADOW, landcover.FIELD]), radius=110)
    request = make_request(engine, image, mask, [landcover.WATER])
    assert max(request.image.size) == 160
    result = np.asarray(engine.inpaint(request).image)
    core = painted_core(request)
    lake = mean_colour_of(image, labels, landcover.WATER)
    assert np.linalg.norm(result[core].astype(np.float32).mean(axis=0) - lake) < 30


# --- Through the pipeline ------------------------------------------------------------------------


def test_through_the_pipeline_only_the_mask_and_its_feather_band_change(demo, reset_engines, settings):
    from inpainting_core.generation import GenerationSettings
    from inpainting_core.pipeline import generate

    image, labels = demo
    mask = blob_mask(image.size, place_showing(labels, [landcover.FIELD, landcover.MEADOW]))
    feather = 6
    result = generate(image, mask, "a lake", GenerationSettings(engine="classic", seed=5), feather=feather)
    before, after = np.asarray(image), np.asarray(result.image)
    assert after.shape == before.shape
    near = cv2.dilate((mask > 0).astype(np.uint8), np.ones((2 * feather + 3, 2 * feather + 3), np.uint8)) > 0
    assert np.array_equal(after[~near], before[~near])
    core = inner_core(mask * 255)
    assert np.abs(after[core].astype(int) - before[core]).mean() > 30
    assert after[core][:, 2].mean() > after[core][:, 0].mean()  # the wish was read as water
