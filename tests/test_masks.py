"""inpainting_core.masks: every form of mask a visitor or client sends, read as paint;
fitted to the map, its painted box."""


import cv2
import numpy as np
import pytest
from PIL import Image

from inpainting_core import imaging, masks
from tests.pictures import BLACK, BLUE, MAP_SIZE, RED, WHITE, antialiased_blob, assert_reads_as, encode, rgba, solid, strokes_on_canvas


# --- Mask forms -------------------------------------------------------------------

PAINT = antialiased_blob()
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
    assert_reads_as(masks.normalise_mask(MASK_FORMS[form]), PAINT)


@pytest.mark.parametrize("form", MASK_FORMS)
def test_every_mask_form_survives_png_encoding(form):
    decoded = imaging.open_mask(encode(MASK_FORMS[form]))
    assert decoded.mode == MASK_FORMS[form].mode
    assert_reads_as(masks.normalise_mask(decoded), PAINT)


def test_paint_on_transparency_is_the_alpha_exactly():
    result = masks.normalise_mask(MASK_FORMS["red strokes on transparency"])
    np.testing.assert_array_equal(result, PAINT.astype(np.float32) / 255)


def test_opaque_white_on_black_is_not_read_as_repaint_everything():
    # The prototype read the alpha channel of every mask, so an opaque mask meant "everything".
    result = masks.normalise_mask(MASK_FORMS["white on black, opaque RGBA"])
    painted = np.count_nonzero(result >= masks.PAINTED)
    assert painted == np.count_nonzero(PAINT >= 128)
    assert painted < 0.2 * result.size


def test_paint_touching_the_border_does_not_flip_the_background():
    paint = antialiased_blob(centre=(10, 40), radius=30)  # covers part of the left edge
    result = masks.normalise_mask(Image.fromarray(strokes_on_canvas(paint, BLACK, WHITE)))
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
        np.testing.assert_array_equal(masks.normalise_mask(decoded), hard / 255)


def test_palette_with_transparency_reads_the_transparency():
    mask = Image.fromarray((PAINT >= 128).astype(np.uint8), "P")  # index 1 where painted
    mask.putpalette([0, 0, 0, *RED])
    mask.info["transparency"] = 0  # PNG stores it in a tRNS chunk
    decoded = imaging.open_mask(encode(mask))
    assert decoded.mode == "P" and "transparency" in decoded.info
    np.testing.assert_array_equal(
        masks.normalise_mask(decoded), (PAINT >= 128).astype(np.float32)
    )


def test_sixteen_bit_grey_mask_is_scaled_not_clipped():
    ok, encoded = cv2.imencode(".png", PAINT.astype(np.uint16) * 257)
    decoded = imaging.open_mask(encoded.tobytes())
    assert decoded.mode.startswith("I")
    np.testing.assert_allclose(
        masks.normalise_mask(decoded), masks.normalise_mask(Image.fromarray(PAINT)), atol=1e-6
    )


def test_jpeg_noise_around_a_white_on_black_mask_is_not_paint():
    mask = Image.fromarray(strokes_on_canvas(PAINT, WHITE, BLACK))
    result = masks.normalise_mask(imaging.open_mask(encode(mask, "JPEG", quality=60)))
    far = cv2.dilate(PAINT, np.ones((17, 17), np.uint8)) == 0  # beyond the 8x8 blocks it touches
    assert np.all(result[far] == 0), "compression noise must not mark the rest of the map"
    assert np.all(result[cv2.erode(PAINT, np.ones((5, 5), np.uint8)) == 255] >= masks.PAINTED)


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
    mask = masks.normalise_mask(EMPTY_MASKS[form])
    with pytest.raises(masks.EmptyMask) as raised:
        masks.mask_bbox(mask)
    assert isinstance(raised.value, imaging.ImageProblem)
    assert (raised.value.code, raised.value.field) == ("empty_mask", "mask")
    assert str(raised.value)


def test_blank_white_jpeg_canvas_is_empty():
    mask = imaging.open_mask(encode(Image.new("RGB", MAP_SIZE, WHITE), "JPEG", quality=50))
    with pytest.raises(masks.EmptyMask):
        masks.mask_bbox(masks.normalise_mask(mask))


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
    assert masks.mask_bbox(masks.normalise_mask(mask)) == (0, 0, *MAP_SIZE)


# --- fit_mask and mask_bbox -----------------------------------------------------------


def test_fit_mask_leaves_a_mask_of_the_map_size_alone():
    mask = PAINT / np.float32(255)
    assert masks.fit_mask(mask, MAP_SIZE) is mask


@pytest.mark.parametrize("scale", [0.5, 2.0], ids=["smaller canvas", "larger canvas"])
def test_fit_mask_scales_a_mask_of_the_same_aspect(scale):
    size = (round(MAP_SIZE[0] * scale), round(MAP_SIZE[1] * scale))
    blob = antialiased_blob(size, (round(60 * scale), round(40 * scale)), round(22 * scale))
    fitted = masks.fit_mask(blob / np.float32(255), MAP_SIZE)
    assert fitted.shape == (MAP_SIZE[1], MAP_SIZE[0]) and fitted.dtype == np.float32
    assert fitted.min() >= 0 and fitted.max() <= 1
    x0, y0, x1, y1 = masks.mask_bbox(fitted)
    assert abs(x0 - 38) <= 2 and abs(x1 - 82) <= 2 and abs(y0 - 18) <= 2 and abs(y1 - 62) <= 2


def test_fit_mask_tolerates_rounding_of_the_aspect():
    assert masks.fit_mask(np.ones((80, 121), np.float32), MAP_SIZE).shape == (80, 120)


@pytest.mark.parametrize("mask_size", [(160, 80), (120, 120)], ids=["wider", "taller"])
def test_fit_mask_refuses_a_mask_of_another_aspect_naming_both_sizes(mask_size):
    with pytest.raises(imaging.ImageProblem) as raised:
        masks.fit_mask(np.ones((mask_size[1], mask_size[0]), np.float32), MAP_SIZE)
    assert (raised.value.code, raised.value.field) == ("size_mismatch", "mask")
    assert f"{mask_size[0]} × {mask_size[1]}" in str(raised.value)
    assert "120 × 80" in str(raised.value)


def test_mask_bbox_is_exclusive_and_ignores_faint_values():
    mask = np.zeros((20, 30), np.float32)
    mask[7, 5] = 1.0
    mask[12, 25] = 0.5
    mask[0, 0] = 0.49
    assert masks.mask_bbox(mask) == (5, 7, 26, 13)


