"""inpainting_core.imaging: untrusted uploads, every mask form, cropping and compositing.

No database: these are pure picture operations, checked on real encoded files.
"""

import io
import struct
import zipfile
import zlib

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from inpainting_core import imaging
from inpainting_core.engines.base import fit_to_multiple

MAP_SIZE = (120, 80)  # (width, height)


def square_1024(width, height):
    """What the OpenAI engine asks for."""
    return 1024, 1024


def long_side_768(width, height):
    """What the own diffusion model asks for."""
    return fit_to_multiple(width, height, 768)


def same_size(width, height):
    return width, height


TARGETS = [square_1024, long_side_768, same_size]


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def antialiased_blob(size=MAP_SIZE, centre=(60, 40), radius=22) -> np.ndarray:
    """uint8 paint strength: 255 inside, antialiased rim, 0 outside."""
    paint = np.zeros((size[1], size[0]), np.uint8)
    # Drawn at 16x with sub-pixel precision for a properly soft rim.
    cv2.circle(paint, (centre[0] * 16, centre[1] * 16), radius * 16, 255, -1, cv2.LINE_AA, shift=4)
    return paint


def strokes_on_canvas(paint: np.ndarray, stroke, canvas) -> np.ndarray:
    """An opaque RGB canvas with `stroke` coloured paint blended in by strength."""
    strength = paint[..., np.newaxis].astype(np.float32) / 255
    blended = (
        np.array(canvas, np.float32) * (1 - strength) + np.array(stroke, np.float32) * strength
    )
    return np.rint(blended).astype(np.uint8)


def rgba(colour: np.ndarray, alpha: np.ndarray) -> Image.Image:
    return Image.fromarray(np.dstack([colour, alpha]))


def solid(colour, size=MAP_SIZE) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (size[1], size[0], 3)).copy()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crafted_png(width, height, pixel_data=b"", bit_depth=8, extra_chunks=b"") -> bytes:
    """A greyscale PNG written by hand, so its header can claim any size."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra_chunks
        + png_chunk(b"IDAT", zlib.compress(pixel_data, 9))
        + png_chunk(b"IEND", b"")
    )


def assert_reads_as(result: np.ndarray, paint: np.ndarray) -> None:
    """`result` is the paint: full inside, none outside, soft and ordered on the rim."""
    assert result.dtype == np.float32 and result.shape == paint.shape
    assert np.all(result[paint == 255] == 1)
    assert np.all(result[paint == 0] == 0)
    rim = (paint > 64) & (paint < 192)
    assert rim.any()
    assert np.all((result[rim] > 0) & (result[rim] < 1)), "antialiased edges stay soft"
    order = np.argsort(paint.ravel(), kind="stable")
    assert np.all(np.diff(result.ravel()[order]) >= 0), "more paint never reads as less"


# --- Mask forms -------------------------------------------------------------------

PAINT = antialiased_blob()
WHITE, BLACK, RED, BLUE = (255, 255, 255), (0, 0, 0), (220, 20, 30), (30, 40, 200)
NOISE = np.random.default_rng(7).integers(0, 256, (MAP_SIZE[1], MAP_SIZE[0], 3), dtype=np.uint8)

MASK_FORMS = {
    # The old kiosk: canvas strokes on a transparent canvas.
    "red strokes on transparency": rgba(solid(RED), PAINT),
    "black strokes on transparency": rgba(solid(BLACK), PAINT),
    "any colour hidden under transparency": rgba(NOISE, PAINT),
    "white on black, L": Image.fromarray(PAINT),
    "white on black, RGB": Image.fromarray(strokes_on_canvas(PAINT, WHITE, BLACK)),
    "white on black, opaque RGBA": rgba(
        strokes_on_canvas(PAINT, WHITE, BLACK), np.full_like(PAINT, 255)
    ),
    "grey with alpha, LA": Image.fromarray(np.dstack([np.full_like(PAINT, 200), PAINT])),
    "red strokes on white": Image.fromarray(strokes_on_canvas(PAINT, RED, WHITE)),
    "red strokes on black": Image.fromarray(strokes_on_canvas(PAINT, RED, BLACK)),
    "black strokes on white": Image.fromarray(strokes_on_canvas(PAINT, BLACK, WHITE)),
    "blue strokes on white, opaque RGBA": rgba(
        strokes_on_canvas(PAINT, BLUE, WHITE), np.full_like(PAINT, 255)
    ),
    # Half-transparent red paint flattened onto white comes out pink.
    "pink strokes on white": Image.fromarray(strokes_on_canvas(PAINT, (255, 128, 128), WHITE)),
}


@pytest.mark.parametrize("form", MASK_FORMS)
def test_every_mask_form_reads_as_the_painted_region(form):
    assert_reads_as(imaging.normalise_mask(MASK_FORMS[form]), PAINT)


@pytest.mark.parametrize("form", MASK_FORMS)
def test_every_mask_form_survives_png_encoding(form):
    decoded = imaging.open_mask(encode(MASK_FORMS[form]))
    assert decoded.mode == MASK_FORMS[form].mode
    assert_reads_as(imaging.normalise_mask(decoded), PAINT)


def test_paint_on_transparency_is_the_alpha_exactly():
    result = imaging.normalise_mask(MASK_FORMS["red strokes on transparency"])
    np.testing.assert_array_equal(result, PAINT.astype(np.float32) / 255)


def test_opaque_white_on_black_is_not_read_as_repaint_everything():
    # The prototype read the alpha channel of every mask, so an opaque mask meant "everything".
    result = imaging.normalise_mask(MASK_FORMS["white on black, opaque RGBA"])
    painted = np.count_nonzero(result >= imaging.PAINTED)
    assert painted == np.count_nonzero(PAINT >= 128)
    assert painted < 0.2 * result.size


def test_paint_touching_the_border_does_not_flip_the_background():
    paint = antialiased_blob(centre=(10, 40), radius=30)  # covers part of the left edge
    result = imaging.normalise_mask(Image.fromarray(strokes_on_canvas(paint, BLACK, WHITE)))
    assert_reads_as(result, paint)


def test_hard_edged_modes_palette_and_bilevel():
    hard = np.where(PAINT >= 128, 255, 0).astype(np.uint8)
    palette = Image.fromarray(strokes_on_canvas(hard, RED, WHITE)).convert(
        "P", palette=Image.Palette.ADAPTIVE
    )
    bilevel = Image.fromarray(hard).convert("1")
    for mask in (palette, bilevel):
        decoded = imaging.open_mask(encode(mask))
        assert decoded.mode == mask.mode
        np.testing.assert_array_equal(imaging.normalise_mask(decoded), hard / 255)


def test_palette_with_transparency_reads_the_transparency():
    mask = Image.fromarray((PAINT >= 128).astype(np.uint8), "P")  # index 1 where painted
    mask.putpalette([0, 0, 0, *RED])
    mask.info["transparency"] = 0  # PNG stores it in a tRNS chunk
    decoded = imaging.open_mask(encode(mask))
    assert decoded.mode == "P" and "transparency" in decoded.info
    np.testing.assert_array_equal(
        imaging.normalise_mask(decoded), (PAINT >= 128).astype(np.float32)
    )


def test_sixteen_bit_grey_mask_is_scaled_not_clipped():
    ok, encoded = cv2.imencode(".png", PAINT.astype(np.uint16) * 257)
    decoded = imaging.open_mask(encoded.tobytes())
    assert decoded.mode.startswith("I")
    np.testing.assert_allclose(
        imaging.normalise_mask(decoded), imaging.normalise_mask(Image.fromarray(PAINT)), atol=1e-6
    )


def test_jpeg_noise_around_a_white_on_black_mask_is_not_paint():
    mask = Image.fromarray(strokes_on_canvas(PAINT, WHITE, BLACK))
    result = imaging.normalise_mask(imaging.open_mask(encode(mask, "JPEG", quality=60)))
    far = cv2.dilate(PAINT, np.ones((17, 17), np.uint8)) == 0  # beyond the 8x8 blocks it touches
    assert np.all(result[far] == 0), "compression noise must not mark the rest of the map"
    assert np.all(result[cv2.erode(PAINT, np.ones((5, 5), np.uint8)) == 255] >= imaging.PAINTED)


EMPTY_MASKS = {
    "all black, L": Image.new("L", MAP_SIZE, 0),
    "all black, RGB": Image.new("RGB", MAP_SIZE, BLACK),
    "blank white canvas, RGB": Image.new("RGB", MAP_SIZE, WHITE),
    "blank white canvas, opaque RGBA": Image.new("RGBA", MAP_SIZE, (255, 255, 255, 255)),
    "fully transparent": rgba(NOISE, np.zeros_like(PAINT)),
    "transparent with faint alpha noise": rgba(solid(RED), (PAINT // 255) * 9),
    "paint too faint to count": Image.fromarray((PAINT // 255) * 100),
}


@pytest.mark.parametrize("form", EMPTY_MASKS)
def test_empty_masks_are_refused(form):
    mask = imaging.normalise_mask(EMPTY_MASKS[form])
    with pytest.raises(imaging.EmptyMask) as raised:
        imaging.mask_bbox(mask)
    assert isinstance(raised.value, imaging.ImageProblem)
    assert (raised.value.code, raised.value.field) == ("empty_mask", "mask")
    assert str(raised.value)


def test_blank_white_jpeg_canvas_is_empty():
    mask = imaging.open_mask(encode(Image.new("RGB", MAP_SIZE, WHITE), "JPEG", quality=50))
    with pytest.raises(imaging.EmptyMask):
        imaging.mask_bbox(imaging.normalise_mask(mask))


@pytest.mark.parametrize(
    "mask",
    [
        Image.new("L", MAP_SIZE, 255),
        Image.new("RGB", MAP_SIZE, RED),
        Image.new("RGBA", MAP_SIZE, RED + (255,)),
    ],
    ids=["white L", "red RGB", "red opaque RGBA"],
)
def test_a_mask_covering_the_whole_map_is_a_valid_wish(mask):
    assert imaging.mask_bbox(imaging.normalise_mask(mask)) == (0, 0, *MAP_SIZE)


# --- fit_mask and mask_bbox -----------------------------------------------------------


def test_fit_mask_leaves_a_mask_of_the_map_size_alone():
    mask = PAINT / np.float32(255)
    assert imaging.fit_mask(mask, MAP_SIZE) is mask


@pytest.mark.parametrize("scale", [0.5, 2.0], ids=["smaller canvas", "larger canvas"])
def test_fit_mask_scales_a_mask_of_the_same_aspect(scale):
    size = (round(MAP_SIZE[0] * scale), round(MAP_SIZE[1] * scale))
    blob = antialiased_blob(size, (round(60 * scale), round(40 * scale)), round(22 * scale))
    fitted = imaging.fit_mask(blob / np.float32(255), MAP_SIZE)
    assert fitted.shape == (MAP_SIZE[1], MAP_SIZE[0]) and fitted.dtype == np.float32
    assert fitted.min() >= 0 and fitted.max() <= 1
    x0, y0, x1, y1 = imaging.mask_bbox(fitted)
    assert abs(x0 - 38) <= 2 and abs(x1 - 82) <= 2 and abs(y0 - 18) <= 2 and abs(y1 - 62) <= 2


def test_fit_mask_tolerates_rounding_of_the_aspect():
    assert imaging.fit_mask(np.ones((80, 121), np.float32), MAP_SIZE).shape == (80, 120)


@pytest.mark.parametrize("mask_size", [(160, 80), (120, 120)], ids=["wider", "taller"])
def test_fit_mask_refuses_a_mask_of_another_aspect_naming_both_sizes(mask_size):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.fit_mask(np.ones((mask_size[1], mask_size[0]), np.float32), MAP_SIZE)
    assert (raised.value.code, raised.value.field) == ("size_mismatch", "mask")
    assert f"{mask_size[0]} × {mask_size[1]}" in str(raised.value)
    assert "120 × 80" in str(raised.value)


def test_mask_bbox_is_exclusive_and_ignores_faint_values():
    mask = np.zeros((20, 30), np.float32)
    mask[7, 5] = 1.0
    mask[12, 25] = 0.5
    mask[0, 0] = 0.49
    assert imaging.mask_bbox(mask) == (5, 7, 26, 13)


# --- plan_crop --------------------------------------------------------------------


def painted_square(map_size, x0, y0, side=20) -> np.ndarray:
    mask = np.zeros((map_size[1], map_size[0]), np.float32)
    mask[y0 : y0 + side, x0 : x0 + side] = 1
    return mask


def assert_valid_plan(plan, mask, map_size, target_size, padding):
    x0, y0, x1, y1 = plan.box
    assert 0 <= x0 < x1 <= map_size[0] and 0 <= y0 < y1 <= map_size[1]
    bx0, by0, bx1, by1 = imaging.mask_bbox(mask)
    assert x0 <= max(0, bx0 - padding) and y0 <= max(0, by0 - padding)
    assert x1 >= min(map_size[0], bx1 + padding) and y1 >= min(map_size[1], by1 + padding)
    assert plan.size == tuple(target_size(x1 - x0, y1 - y0))


def test_square_target_gets_a_square_box():
    mask = painted_square((1000, 600), 400, 250, side=60)
    plan = imaging.plan_crop(mask, (1000, 600), square_1024, padding=48)
    assert_valid_plan(plan, mask, (1000, 600), square_1024, 48)
    x0, y0, x1, y1 = plan.box
    assert x1 - x0 == y1 - y0 and plan.size == (1024, 1024)


def test_long_side_target_gets_a_box_of_its_aspect():
    mask = np.zeros((1000, 1500), np.float32)
    mask[400:500, 600:900] = 1  # 300 x 100
    plan = imaging.plan_crop(mask, (1500, 1000), long_side_768, padding=48)
    assert_valid_plan(plan, mask, (1500, 1000), long_side_768, 48)
    x0, y0, x1, y1 = plan.box
    assert max(plan.size) == 768 and plan.size[0] % 8 == 0 and plan.size[1] % 8 == 0
    assert (x1 - x0) / (y1 - y0) == pytest.approx(plan.size[0] / plan.size[1], rel=0.015)


def test_default_padding_comes_from_settings(settings):
    settings.OLPE_CROP_PADDING = 10
    mask = painted_square((1000, 1000), 400, 400, side=200)
    plan = imaging.plan_crop(mask, (1000, 1000), same_size)
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
    plan = imaging.plan_crop(mask, map_size, target_size, padding=48)
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
    plan = imaging.plan_crop(mask, (800, 600), same_size, padding=padding)
    x0, y0, x1, y1 = plan.box
    assert x1 - x0 >= imaging.MIN_CROP_SIDE and y1 - y0 >= imaging.MIN_CROP_SIDE
    assert x0 <= 400 < x1 and y0 <= 300 < y1


def test_a_tiny_mask_in_a_corner_gets_context_inside_the_map():
    mask = np.zeros((600, 800), np.float32)
    mask[599, 799] = 1
    plan = imaging.plan_crop(mask, (800, 600), square_1024, padding=0)
    assert plan.box == (800 - imaging.MIN_CROP_SIDE, 600 - imaging.MIN_CROP_SIDE, 800, 600)


def test_a_map_smaller_than_the_minimum_crop_is_taken_whole():
    mask = np.zeros((40, 50), np.float32)
    mask[20, 20] = 1
    assert imaging.plan_crop(mask, (50, 40), square_1024, padding=4).box == (0, 0, 50, 40)


def test_a_thin_sliver_gets_a_box_no_thinner_than_the_aspect_limit():
    mask = np.zeros((1000, 1000), np.float32)
    mask[500, 100:900] = 1
    x0, y0, x1, y1 = imaging.plan_crop(mask, (1000, 1000), same_size, padding=0).box
    assert (x1 - x0) / (y1 - y0) <= imaging.MAX_CROP_ASPECT


def test_plan_crop_needs_a_mask_of_the_map_size():
    with pytest.raises(ValueError):
        imaging.plan_crop(np.ones((10, 10), np.float32), (20, 10), same_size)


def test_plan_crop_refuses_an_empty_mask():
    with pytest.raises(imaging.EmptyMask):
        imaging.plan_crop(np.zeros((10, 10), np.float32), (10, 10), same_size)


# --- crop_for_engine ----------------------------------------------------------------


def noise_map(size, low=0, high=256, seed=1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(low, high, (size[1], size[0], 3), dtype=np.uint8))


def test_crop_for_engine_at_the_box_size_is_the_exact_region():
    picture = noise_map((400, 300))
    mask = np.zeros((300, 400), np.float32)
    mask[100:160, 150:230] = 1
    mask[99, 150:230] = 0.25  # a soft edge
    plan = imaging.plan_crop(mask, (400, 300), same_size, padding=20)
    crop, crop_mask = imaging.crop_for_engine(picture, mask, plan)
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
    plan = imaging.plan_crop(mask, (400, 300), target_size, padding=20)
    crop, crop_mask = imaging.crop_for_engine(picture, mask, plan)
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
    plan = imaging.plan_crop(mask, size, target_size, padding=48)
    generated = Image.new("RGB", plan.size, MAGENTA)
    return original, plan, imaging.composite(original, generated, mask, plan, feather=feather)


def soft_blob_mask(size=(400, 300)) -> np.ndarray:
    return antialiased_blob(size, (200, 140), 50) / np.float32(255)


@pytest.mark.parametrize("target_size", TARGETS)
def test_composite_leaves_everything_outside_the_feather_band_byte_identical(target_size):
    mask = soft_blob_mask()
    original, plan, result = composite_with_magenta(mask, target_size)
    before, after = np.asarray(original), np.asarray(result)
    outside = ~band_around(mask, 8)
    np.testing.assert_array_equal(after[outside], before[outside])
    assert np.all(after[mask >= imaging.PAINTED] == MAGENTA), "the painted region is the engine's"
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
    plan = imaging.plan_crop(mask, (400, 300), same_size, padding=48)
    result = imaging.composite(
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
    plan = imaging.plan_crop(mask, (400, 300), same_size)
    result = imaging.composite(original, Image.new("RGB", plan.size, MAGENTA), mask, plan)
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
    plan = imaging.plan_crop(mask, (400, 300), long_side_768)
    generated = Image.new("RGBA", plan.size, (0, 255, 0, 255))
    result = imaging.composite(original, generated, mask, plan)
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
    plan = imaging.plan_crop(mask, map_size, target, padding=padding)
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
    plan = imaging.plan_crop(mask, map_size, target, padding=padding)
    generated = noise_map(plan.size, seed=seed + 1)
    result = imaging.composite(original, generated, mask, plan, feather=feather)
    outside = ~band_around(mask, feather)
    np.testing.assert_array_equal(np.asarray(result)[outside], np.asarray(original)[outside])


# --- Decoding untrusted uploads ---------------------------------------------------------


@pytest.fixture
def decode_calls(monkeypatch):
    """Counts pixel decoding (ImageFile.load), to prove that a refusal came before it."""
    calls = []
    original_load = ImageFile.ImageFile.load

    def counting_load(self):
        if self.tile:  # pixel data still to decode; later calls are no-ops
            calls.append(self.size)
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return calls


def sample_png() -> bytes:
    return encode(noise_map((64, 48)))


@pytest.mark.parametrize("wrap", ["bytes", "str path", "Path", "file object", "uploaded file"])
def test_open_image_reads_every_kind_of_source(wrap, tmp_path):
    data = sample_png()
    path = tmp_path / "map.png"
    path.write_bytes(data)
    stream = io.BytesIO(data)
    stream.read(10)  # already partly read, e.g. by upload validation
    uploaded = SimpleUploadedFile("map.png", data, content_type="image/png")
    uploaded.read()
    source = {
        "bytes": data,
        "str path": str(path),
        "Path": path,
        "file object": stream,
        "uploaded file": uploaded,
    }[wrap]
    image = imaging.open_image(source)
    assert image.mode == "RGB" and image.size == (64, 48)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(data))))


def test_a_missing_file_is_a_readable_problem(tmp_path):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(tmp_path / "missing.png")
    assert raised.value.code == "unreadable" and raised.value.field == "image"


def test_the_decode_counter_sees_a_normal_decode(decode_calls):
    imaging.open_image(sample_png())
    assert decode_calls == [(64, 48)]


def test_huge_dimensions_are_refused_from_the_header(decode_calls):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(crafted_png(100_000, 100_000))
    assert (raised.value.code, raised.value.field) == ("too_large", "image")
    assert decode_calls == []


def test_dimensions_above_the_setting_are_refused_naming_the_size(settings, decode_calls):
    settings.OLPE_MAX_IMAGE_PIXELS = 1000 * 1000
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_mask(crafted_png(2000, 1000))
    assert (raised.value.code, raised.value.field) == ("too_large", "mask")
    assert "2000 × 1000" in str(raised.value)
    assert decode_calls == []


def test_a_decompression_bomb_is_refused_without_decoding(decode_calls):
    # 8192 x 8192 one-bit pixels (64 million) in a file of a few kilobytes.
    rows = (b"\0" + bytes(8192 // 8)) * 8192
    bomb = crafted_png(8192, 8192, rows, bit_depth=1)
    assert len(bomb) < 50_000
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(bomb, max_pixels=4096 * 4096)
    assert raised.value.code == "too_large"
    assert decode_calls == []


def test_a_compressed_text_bomb_is_refused():
    text = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"a" * (4 * 2**20), 9))
    with pytest.raises(imaging.ImageProblem):
        imaging.open_image(crafted_png(4, 2, b"\0" * 10, extra_chunks=text))


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_picture_is_refused(format):
    data = encode(noise_map((64, 48)), format)
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(data[: len(data) * 2 // 3])
    assert raised.value.code in ("truncated", "corrupt")


def test_damaged_pixel_data_is_refused():
    data = bytearray(sample_png())
    start = data.index(b"IDAT") + 20
    data[start : start + 40] = b"\xa5" * 40
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(bytes(data))
    assert raised.value.code == "corrupt"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"%PDF-1.7\n" + bytes(100),
    ],
    ids=["empty", "text", "html", "pdf"],
)
def test_non_image_bytes_are_refused(data):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(data)
    assert (raised.value.code, raised.value.field) == ("not_image", "image")
    assert "PNG" in str(raised.value)


@pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF"])
def test_other_picture_formats_are_refused(format):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_mask(encode(Image.new("RGB", (8, 8)), format))
    assert raised.value.code == "not_image"


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return buffer.getvalue()


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize(
    "appended", [zip_archive(), b"<html><script>alert(1)</script></html>"], ids=["zip", "html"]
)
def test_a_polyglot_is_refused(format, appended):
    polyglot = encode(noise_map((32, 32)), format) + appended
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(polyglot)
    assert raised.value.code == "trailing_data"


def test_trailing_zero_padding_is_tolerated():
    assert imaging.open_image(encode(noise_map((32, 32)), "JPEG") + bytes(64)).size == (32, 32)


def test_a_cameras_multi_picture_jpeg_is_accepted():
    first, second = Image.new("RGB", (64, 48), RED), Image.new("RGB", (64, 48), BLUE)
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert imaging.open_image(data).size == (64, 48)
    with pytest.raises(imaging.ImageProblem):
        imaging.open_image(data + b"<html></html>")


def test_exif_orientation_is_applied():
    photo = np.zeros((20, 40, 3), np.uint8)
    photo[:, :20] = RED
    photo[:, 20:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to show
    image = imaging.open_image(encode(Image.fromarray(photo), "JPEG", exif=exif, quality=95))
    assert image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 180 and top[2] < 80 and bottom[2] > 160 and bottom[0] < 80


def test_exif_orientation_is_applied_to_masks_too():
    mask = np.zeros((20, 40), np.uint8)
    mask[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = imaging.open_mask(encode(Image.fromarray(mask), "PNG", exif=exif))
    assert imaging.mask_bbox(imaging.normalise_mask(decoded)) == (0, 0, 20, 10)


def test_transparency_is_laid_on_white():
    picture = np.zeros((10, 30, 4), np.uint8)  # black under the transparency
    picture[:, 10:20] = (0, 0, 255, 128)
    picture[:, 20:] = (0, 0, 255, 255)
    image = imaging.open_image(encode(Image.fromarray(picture, "RGBA")))
    assert image.mode == "RGB"
    row = np.asarray(image)[5]
    assert row[0].tolist() == [255, 255, 255]
    assert row[15, 0] in (126, 127) and row[15, 2] == 255
    assert row[25].tolist() == [0, 0, 255]


def test_palette_transparency_and_grey_alpha_are_laid_on_white():
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.info["transparency"] = 0
    assert np.asarray(imaging.open_image(encode(palette)))[0, 0].tolist() == [255, 255, 255]
    grey = Image.fromarray(np.dstack([np.full((4, 4), 50, np.uint8), np.zeros((4, 4), np.uint8)]))
    assert np.asarray(imaging.open_image(encode(grey)))[0, 0].tolist() == [255, 255, 255]


def test_cmyk_is_converted_to_rgb():
    image = imaging.open_image(
        encode(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), "JPEG", quality=95)
    )
    red, green, blue = np.asarray(image)[4, 4].tolist()
    assert image.mode == "RGB" and red < 30 and green > 225 and blue > 225


def test_sixteen_bit_pictures_are_scaled_to_eight_bits():
    colour = np.zeros((4, 4, 3), np.uint16)
    colour[...] = (65535, 128 * 257, 0)  # OpenCV writes BGR: blue, green, red
    ok, encoded = cv2.imencode(".png", colour)
    assert np.asarray(imaging.open_image(encoded.tobytes()))[0, 0].tolist() == [0, 128, 255]
    ok, encoded = cv2.imencode(".png", np.full((4, 4), 200 * 257, np.uint16))
    assert np.asarray(imaging.open_image(encoded.tobytes()))[0, 0].tolist() == [200, 200, 200]


def test_an_srgb_profile_leaves_pixels_as_they_are():
    picture = noise_map((16, 16))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = imaging.open_image(encode(picture, icc_profile=srgb))
    np.testing.assert_array_equal(np.asarray(image), np.asarray(picture))


# --- Encoding results ------------------------------------------------------------------


def test_to_png_bytes_round_trips_without_upload_metadata():
    picture = noise_map((32, 24))
    picture.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = imaging.to_png_bytes(picture)
    assert data.startswith(b"\x89PNG") and b"iCCP" not in data and b"eXIf" not in data
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(picture))
