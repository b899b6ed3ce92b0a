"""Pictures and masks the picture tests build: encoded files, painted blobs, canvases."""

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

from inpainting_core.engines.base import fit_to_multiple

MAP_SIZE = (120, 80)  # (width, height)
WHITE, BLACK, RED, BLUE = (255, 255, 255), (0, 0, 0), (220, 20, 30), (30, 40, 200)


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


def noise_map(size, low=0, high=256, seed=1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(low, high, (size[1], size[0], 3), dtype=np.uint8))
