"""PNG files written in bands (inpainting_core/png_bands.py): valid, lossless, and a
result painted on a map compresses only the bands its wish changed."""

import io
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from inpainting_core import png_bands
from inpainting_core.compositing import result_png_bytes
from inpainting_core.png_bands import BandedPNG, adler32_combine


def a_map(height, width, seed=1):
    """Smooth colours with noise, like a photograph: compressible, never constant."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 3) % 256, (y * 2) % 256, (x + y) % 256], axis=-1)
    return np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)


def decoded(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG" and picture.mode == "RGB"
        return np.asarray(picture)


@pytest.mark.parametrize("shape", [(1, 1), (1, 300), (300, 1), (127, 64), (128, 64), (129, 65), (500, 333)])
def test_a_picture_decodes_to_exactly_its_pixels(shape):
    pixels = a_map(*shape)
    png = BandedPNG.of(pixels, level=1).encode()
    assert np.array_equal(decoded(png), pixels)
    # A second decoder (libpng through OpenCV) reads it the same.
    assert np.array_equal(cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                                       cv2.COLOR_BGR2RGB), pixels)


def test_a_painted_region_compresses_only_its_bands_and_gives_the_same_file(monkeypatch):
    original = a_map(1000, 400)
    bands = BandedPNG.of(original, level=1, band_rows=100)
    changed = original.copy()
    cv2.circle(changed, (200, 450), 80, (20, 60, 200), -1)  # rows 370-530: bands 3, 4 and 5

    compressed = []
    real = png_bands._compress_band
    monkeypatch.setattr(png_bands, "_compress_band",
                        lambda pixels, start, *args: compressed.append(start) or real(pixels, start, *args))
    png = bands.encode_changed(original, changed)

    assert sorted(compressed) == [300, 400, 500]
    assert np.array_equal(decoded(png), changed)
    monkeypatch.setattr(png_bands, "_compress_band", real)
    assert png == BandedPNG.of(changed, level=1, band_rows=100).encode()  # bands depend on their rows only


def test_an_unchanged_picture_reuses_every_band():
    original = a_map(300, 200)
    bands = BandedPNG.of(original, level=3)
    assert bands.encode_changed(original, original.copy()) == bands.encode()


def test_a_change_on_a_band_boundary_is_kept():
    original = a_map(256, 50)
    changed = original.copy()
    changed[127:129, 10:20] = 0  # the last row of one band and the first of the next
    png = BandedPNG.of(original, level=1).encode_changed(original, changed)
    assert np.array_equal(decoded(png), changed)


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_checksums_of_two_parts_combine_into_the_checksum_of_both(first, second):
    assert adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second)) == zlib.adler32(first + second)


def test_a_results_png_reuses_the_bands_of_its_map(settings):
    settings.OLPE_RESULT_PNG_LEVEL = 1
    world = a_map(400, 300)
    result = world.copy()
    result[200:220, 100:150] = (0, 0, 255)
    bands = BandedPNG.of(world, level=1)
    png = result_png_bytes(Image.fromarray(result), (world, bands))
    assert np.array_equal(decoded(png), result)
    assert png == result_png_bytes(Image.fromarray(result))
    # Bands made at another level are not mixed in.
    other = BandedPNG.of(world, level=6)
    assert np.array_equal(decoded(result_png_bytes(Image.fromarray(result), (world, other))), result)


@pytest.mark.parametrize("pixels, level, rows", [
    (np.zeros((4, 4), np.uint8), 1, 8),  # not RGB
    (np.zeros((4, 4, 3), np.float32), 1, 8),
    (np.zeros((0, 4, 3), np.uint8), 1, 8),
    (np.zeros((4, 4, 3), np.uint8), 10, 8),
    (np.zeros((4, 4, 3), np.uint8), 1, 0),
])
def test_bad_inputs_are_refused_with_a_reason(pixels, level, rows):
    with pytest.raises(ValueError):
        BandedPNG.of(pixels, level=level, band_rows=rows)


def test_a_changed_picture_of_another_size_is_refused():
    original = a_map(20, 20)
    with pytest.raises(ValueError):
        BandedPNG.of(original, level=1).encode_changed(original, a_map(20, 21))
