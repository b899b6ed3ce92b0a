"""inpainting_core.compositing: the crop an engine sees, the composite back (only the painted
region changes), and results encoded anew. Pure picture operations on real encoded files."""

import io

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from inpainting_core import compositing, masks
from tests.pictures import TARGETS, antialiased_blob, long_side_768, noise_map, same_size, square_1024


# --- plan_crop --------------------------------------------------------------------


def painted_square(map_size, x0, y0, side=20) -> np.ndarray:
    mask = np.zeros((map_size[1], map_size[0]), np.float32)
    mask[y0 : y0 + side, x0 : x0 + side] = 1
    return mask


def assert_valid_plan(plan, mask, map_size, target_size, padding):
    x0, y0, x1, y1 = plan.box
    assert 0 <= x0 < x1 <= map_size[0] and 0 <= y0 < y1 <= map_size[1]
    bx0, by0, bx1, by1 = masks.mask_bbox(mask)
    assert x0 <= max(0, bx0 - padding) and y0 <= max(0, by0 - padding)
    assert x1 >= min(map_size[0], bx1 + padding) and y1 >= min(map_size[1], by1 + padding)
    assert plan.size == tuple(target_size(x1 - x0, y1 - y0))


def test_square_target_gets_a_square_box():
    mask = painted_square((1000, 600), 400, 250, side=60)
    plan = compositing.plan_crop(mask, (1000, 600), square_1024, padding=48)
    assert_valid_plan(plan, mask, (1000, 600), square_1024, 48)
    x0, y0, x1, y1 = plan.box
    assert x1 - x0 == y1 - y0 and plan.size == (1024, 1024)


def test_long_side_target_gets_a_box_of_its_aspect():
    mask = np.zeros((1000, 1500), np.float32)
    mask[400:500, 600:900] = 1  # 300 x 100
    plan = compositing.plan_crop(mask, (1500, 1000), long_side_768, padding=48)
    assert_valid_plan(plan, mask, (1500, 1000), long_side_768, 48)
    x0, y0, x1, y1 = plan.box
    assert max(plan.size) == 768 and plan.size[0] % 8 == 0 and plan.size[1] % 8 == 0
    assert (x1 - x0) / (y1 - y0) == pytest.approx(plan.size[0] / plan.size[1], rel=0.015)


def test_default_padding_comes_from_settings(settings):
    settings.OLPE_CROP_PADDING = 10
    mask = painted_square((1000, 1000), 400, 400, side=200)
    plan = compositing.plan_crop(mask, (1000, 1000), same_size)
    assert plan.box == (390, 390, 610, 610)


POSITIONS = {
    "top-left corner": (0, 0),
    "top edge": (300, 0),
    "top-right corner": (620, 0),
    "right edge": (620, 230),
    "bottom-right corner": (620, 460),
    "bottom edge": (300, 460),
    "bottom-left corner": (0, 460),
    "left edge": (0, 230),
}


@pytest.mark.parametrize("target_size", TARGETS)
@pytest.mark.parametrize("position", POSITIONS)
def test_masks_at_edges_and_corners_get_a_clamped_valid_box(position, target_size):
    map_size = (640, 480)
    x, y = POSITIONS[position]
    mask = painted_square(map_size, x, y)
    plan = compositing.plan_crop(mask, map_size, target_size, padding=48)
    assert_valid_plan(plan, mask, map_size, target_size, 48)
    x0, y0, x1, y1 = plan.box
    if x == 0:
        assert x0 == 0
    if y == 0:
        assert y0 == 0
    if x + 20 == map_size[0]:
        assert x1 == map_size[0]
    if y + 20 == map_size[1]:
        assert y1 == map_size[1]
    if target_size is square_1024:
        assert x1 - x0 == y1 - y0


@pytest.mark.parametrize("padding", [0, 48])
def test_a_tiny_mask_still_gets_context(padding):
    mask = np.zeros((600, 800), np.float32)
    mask[300, 400] = 1
    plan = compositing.plan_crop(mask, (800, 600), same_size, padding=padding)
    x0, y0, x1, y1 = plan.box
    assert x1 - x0 >= compositing.MIN_CROP_SIDE and y1 - y0 >= compositing.MIN_CROP_SIDE
    assert x0 <= 400 < x1 and y0 <= 300 < y1


def test_a_tiny_mask_in_a_corner_gets_context_inside_the_map():
    mask = np.zeros((600, 800), np.float32)
    mask[599, 799] = 1
    plan = compositing.plan_crop(mask, (800, 600), square_1024, padding=0)
    assert plan.box == (800 - compositing.MIN_CROP_SIDE, 600 - compositing.MIN_CROP_SIDE, 800, 600)


def test_a_map_smaller_than_the_minimum_crop_is_taken_whole():
    mask = np.zeros((40, 50), np.float32)
    mask[20, 20] = 1
    assert compositing.plan_crop(mask, (50, 40), square_1024, padding=4).box == (0, 0, 50, 40)


def test_a_thin_sliver_gets_a_box_no_thinner_than_the_aspect_limit():
    mask = np.zeros((1000, 1000), np.float32)
    mask[500, 100:900] = 1
    x0, y0, x1, y1 = compositing.plan_crop(mask, (1000, 1000), same_size, padding=0).box
    assert (x1 - x0) / (y1 - y0) <= compositing.MAX_CROP_ASPECT


def test_plan_crop_needs_a_mask_of_the_map_size():
    with pytest.raises(ValueError):
        compositing.plan_crop(np.ones((10, 10), np.float32), (20, 10), same_size)


def test_plan_crop_refuses_an_empty_mask():
    with pytest.raises(masks.EmptyMask):
        compositing.plan_crop(np.zeros((10, 10), np.float32), (10, 10), same_size)


# --- crop_for_engine ----------------------------------------------------------------


def test_crop_for_engine_at_the_box_size_is_the_exact_region():
    picture = noise_map((400, 300))
    mask = np.zeros((300, 400), np.float32)
    mask[100:160, 150:230] = 1
    mask[99, 150:230] = 0.25  # a soft edge
    plan = compositing.plan_crop(mask, (400, 300), same_size, padding=20)
    crop, crop_mask = compositing.crop_for_engine(picture, mask, plan)
    assert crop.mode == "RGB" and crop_mask.mode == "L" and crop.size == crop_mask.size == plan.size
    x0, y0, x1, y1 = plan.box
    np.testing.assert_array_equal(np.asarray(crop), np.asarray(picture)[y0:y1, x0:x1])
    np.testing.assert_array_equal(np.asarray(crop_mask), np.rint(mask[y0:y1, x0:x1] * 255))
    assert 0 < np.asarray(crop_mask)[99 - y0, 160 - x0] < 255


@pytest.mark.parametrize("target_size", [square_1024, long_side_768])
def test_crop_for_engine_resizes_to_the_engine_size(target_size):
    picture = noise_map((400, 300))
    mask = np.zeros((300, 400), np.float32)
    mask[100:160, 150:230] = 1
    plan = compositing.plan_crop(mask, (400, 300), target_size, padding=20)
    crop, crop_mask = compositing.crop_for_engine(picture, mask, plan)
    assert crop.size == crop_mask.size == plan.size
    scaled = np.asarray(crop_mask)
    assert scaled.max() == 255 and scaled.min() == 0
    assert scaled[0, 0] == 0 and scaled[plan.size[1] // 2, plan.size[0] // 2] == 255


# --- composite ------------------------------------------------------------------------


def band_around(mask: np.ndarray, feather: int) -> np.ndarray:
    """Every pixel within `feather` (Chebyshev, a superset of Euclidean) of any paint."""
    kernel = np.ones((2 * feather + 1, 2 * feather + 1), np.uint8)
    return cv2.dilate((mask > 0).astype(np.uint8), kernel) > 0


MAGENTA = (255, 0, 255)


def composite_with_magenta(mask, target_size=long_side_768, feather=8, size=(400, 300)):
    # The map is dark noise, the engine's picture bright magenta: they differ at every pixel.
    original = noise_map(size, 0, 128)
    plan = compositing.plan_crop(mask, size, target_size, padding=48)
    generated = Image.new("RGB", plan.size, MAGENTA)
    return original, plan, compositing.composite(original, generated, mask, plan, feather=feather)


def soft_blob_mask(size=(400, 300)) -> np.ndarray:
    return antialiased_blob(size, (200, 140), 50) / np.float32(255)


@pytest.mark.parametrize("target_size", TARGETS)
def test_composite_leaves_everything_outside_the_feather_band_byte_identical(target_size):
    mask = soft_blob_mask()
    original, plan, result = composite_with_magenta(mask, target_size)
    before, after = np.asarray(original), np.asarray(result)
    outside = ~band_around(mask, 8)
    np.testing.assert_array_equal(after[outside], before[outside])
    assert np.all(after[mask >= masks.PAINTED] == MAGENTA), "the painted region is the engine's"
    assert result.size == original.size and result.mode == "RGB"


def test_composite_does_not_paste_the_whole_crop_back():
    # Known prototype defect: the whole crop was pasted back, shifting colours around the region.
    mask = soft_blob_mask()
    original, plan, result = composite_with_magenta(mask, square_1024)
    x0, y0, x1, y1 = plan.box
    in_box_outside_band = np.zeros(mask.shape, bool)
    in_box_outside_band[y0:y1, x0:x1] = True
    in_box_outside_band &= ~band_around(mask, 8)
    assert np.count_nonzero(in_box_outside_band) > 10_000
    np.testing.assert_array_equal(
        np.asarray(result)[in_box_outside_band], np.asarray(original)[in_box_outside_band]
    )


def test_composite_feathers_over_exactly_the_feather_width():
    mask = np.zeros((300, 400), np.float32)
    mask[100:200, 100:200] = 1  # columns up to 199
    original = Image.new("RGB", (400, 300), (60, 60, 60))
    plan = compositing.plan_crop(mask, (400, 300), same_size, padding=48)
    result = compositing.composite(
        original, Image.new("RGB", plan.size, MAGENTA), mask, plan, feather=20
    )
    red = np.asarray(result)[150, :, 0].astype(int)  # the row through the middle
    assert np.all(red[100:200] == 255)
    assert np.all(red[200:220] > 60), "blended up to 20 px out"
    assert np.all(np.diff(red[199:221]) < 0), "less the farther out"
    assert np.all(red[220:] == 60), "untouched from 21 px on"


def test_composite_default_feather_comes_from_settings(settings):
    settings.OLPE_FEATHER_PX = 0
    mask = np.zeros((300, 400), np.float32)
    mask[100:200, 100:200] = 1
    original = noise_map((400, 300), 0, 128)
    plan = compositing.plan_crop(mask, (400, 300), same_size)
    result = compositing.composite(original, Image.new("RGB", plan.size, MAGENTA), mask, plan)
    changed = np.any(np.asarray(result) != np.asarray(original), axis=2)
    np.testing.assert_array_equal(changed, mask > 0)


def test_composite_keeps_a_soft_edge_soft():
    mask = np.zeros((300, 400), np.float32)
    mask[100:200, 100:200] = 1
    mask[100:200, 60:100] = np.linspace(0.0, 0.45, 40, dtype=np.float32)  # a long soft tail
    original, _plan, result = composite_with_magenta(mask, same_size, feather=4)
    red = np.asarray(result)[150, 60:100, 0].astype(int) - np.asarray(original)[150, 60:100, 0]
    assert red[0] == 0 and red[20] > 0, "the tail blends in by its own strength"


def test_composite_does_not_modify_the_original_and_accepts_any_mode():
    mask = soft_blob_mask()
    original = noise_map((400, 300))
    kept = np.asarray(original).copy()
    plan = compositing.plan_crop(mask, (400, 300), long_side_768)
    generated = Image.new("RGBA", plan.size, (0, 255, 0, 255))
    result = compositing.composite(original, generated, mask, plan)
    np.testing.assert_array_equal(np.asarray(original), kept)
    assert np.asarray(result)[140, 200].tolist() == [0, 255, 0]


# --- Property tests -------------------------------------------------------------------


@st.composite
def painted_masks(draw):
    width, height = draw(st.integers(4, 120)), draw(st.integers(4, 120))
    mask = np.zeros((height, width), np.float32)
    for _stroke in range(draw(st.integers(1, 4))):
        x0, y0 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
        x1, y1 = draw(st.integers(x0 + 1, width)), draw(st.integers(y0 + 1, height))
        strength = draw(st.sampled_from([1.0, 0.8, 0.5, 0.3, 0.05]))
        mask[y0:y1, x0:x1] = np.maximum(mask[y0:y1, x0:x1], strength)
    if draw(st.booleans()):
        mask = cv2.GaussianBlur(mask, (0, 0), draw(st.floats(0.5, 4.0)))
    mask[draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))] = 1.0  # never empty
    return mask


PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=150,
    deadline=None,
    # The autouse media fixture only sets settings; it needs no reset between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY_SETTINGS
@given(mask=painted_masks(), target=st.sampled_from(TARGETS), padding=st.integers(0, 60))
def test_plan_box_is_inside_the_map_and_holds_the_painted_region(mask, target, padding):
    map_size = (mask.shape[1], mask.shape[0])
    plan = compositing.plan_crop(mask, map_size, target, padding=padding)
    assert_valid_plan(plan, mask, map_size, target, padding)


@PROPERTY_SETTINGS
@given(
    mask=painted_masks(),
    target=st.sampled_from(TARGETS),
    feather=st.integers(0, 12),
    padding=st.integers(0, 60),
    seed=st.integers(0, 2**16),
)
def test_composite_never_changes_pixels_outside_the_band(mask, target, feather, padding, seed):
    map_size = (mask.shape[1], mask.shape[0])
    original = noise_map(map_size, seed=seed)
    plan = compositing.plan_crop(mask, map_size, target, padding=padding)
    generated = noise_map(plan.size, seed=seed + 1)
    result = compositing.composite(original, generated, mask, plan, feather=feather)
    outside = ~band_around(mask, feather)
    np.testing.assert_array_equal(np.asarray(result)[outside], np.asarray(original)[outside])


# --- Encoding results ------------------------------------------------------------------


def test_to_png_bytes_round_trips_without_upload_metadata():
    picture = noise_map((32, 24))
    picture.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = compositing.to_png_bytes(picture)
    assert data.startswith(b"\x89PNG") and b"iCCP" not in data and b"eXIf" not in data
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(picture))

