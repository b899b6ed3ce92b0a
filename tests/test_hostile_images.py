"""Hostile pictures: made-up bytes for the decoder, a corpus of malformed files for the API.

Uploads are untrusted, so two promises are checked here:

* `inpainting_core.imaging` either returns a usable picture or mask, or raises
  `ImageProblem` with a readable reason; nothing else escapes, whatever the
  bytes (hypothesis: arbitrary bytes, PNGs built from random chunks, damaged
  copies of real pictures, real pictures of random sizes and modes).
* `POST /api/v1/jobs/` answers every file of a corpus of malformed and
  unusual pictures with 400 and a message for the field at fault, or accepts
  it (202) when it is a legitimate picture; never with a server error.

Every file is generated here; none is committed. Unit tests of the single
rules (pixel limit, polyglots, colour conversion) live in test_imaging.py, masks in test_masks.py.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django_q.conf import Conf
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from inpainting_core import imaging, masks
from inpainting_core.pipeline import load_inputs
from tests.errors import codes

# Pictures decoded in the properties stay small, so each example costs milliseconds.
PROPERTY_MAX_PIXELS = 128 * 128
PROBLEM_CODES = {"corrupt", "too_large", "too_small", "not_image", "truncated", "trailing_data",
                 "unreadable", "size_mismatch", "empty_mask"}
PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- building pictures byte by byte -----------------------------------------------------------


def png_chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum & 0xFFFFFFFF)


def png_header(width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    fields = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return png_chunk(b"IHDR", fields)


def png_file(width: int, height: int, rows: bytes, *, bit_depth: int = 8, colour_type: int = 0,
             extra_chunks: bytes = b"") -> bytes:
    """A PNG from raw scanlines (each led by its filter byte), compressed as one IDAT."""
    return (b"\x89PNG\r\n\x1a\n" + png_header(width, height, bit_depth, colour_type)
            + extra_chunks + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Random pixels of `mode` (a real picture, not a constant one)."""
    width, height = size
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    channels = len(Image.new(mode, (1, 1)).getbands()) if mode not in ("1", "P") else 1
    shape = (height, width) if channels == 1 else (height, width, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    if mode in ("1", "P"):
        return Image.fromarray(pixels, "L").convert(mode)
    if mode == "CMYK":
        return Image.frombytes("CMYK", size, pixels.tobytes())
    return Image.fromarray(pixels, mode)


# --- the properties ----------------------------------------------------------------------------


def decode_outcome(reader: Callable, data: bytes):
    """What `reader` made of `data`, or None after a well-formed ImageProblem."""
    try:
        return reader(data)
    except imaging.ImageProblem as problem:
        assert problem.code in PROBLEM_CODES
        assert str(problem)  # a readable reason, never an empty message
        return None


def read_map(data: bytes) -> Image.Image | None:
    image = decode_outcome(lambda d: imaging.open_image(d, max_pixels=PROPERTY_MAX_PIXELS), data)
    if image is not None:
        assert image.mode == "RGB"
        assert image.width * image.height <= PROPERTY_MAX_PIXELS
    return image


def read_mask(data: bytes) -> np.ndarray | None:
    mask = decode_outcome(
        lambda d: masks.normalise_mask(imaging.open_mask(d, max_pixels=PROPERTY_MAX_PIXELS)),
        data,
    )
    if mask is not None:
        assert mask.dtype == np.float32 and mask.ndim == 2
        assert mask.size <= PROPERTY_MAX_PIXELS
        assert np.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1
    return mask


@PROPERTY_SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_a_picture_or_an_image_problem(data):
    read_map(data)
    read_mask(data)


CHUNK_KINDS = [b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
               b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"pHYs", b"acTL", b"fcTL", b"fdAT", b"vpAg"]
# Valid (bit depth, colour type) pairs of the PNG specification, and a few invalid ones.
PIXEL_FORMATS = [(1, 0), (8, 0), (16, 0), (8, 2), (16, 2), (4, 3), (8, 3), (8, 4), (8, 6),
                 (16, 6), (3, 0), (8, 1), (0, 6)]


@st.composite
def chunk_soup_pngs(draw) -> bytes:
    """A PNG signature, a plausible or absurd header, and random chunks, CRCs right or wrong."""
    width = draw(st.one_of(st.integers(0, 64), st.integers(0, 2**31 - 1)))
    height = draw(st.one_of(st.integers(0, 64), st.integers(0, 2**31 - 1)))
    bit_depth, colour_type = draw(st.sampled_from(PIXEL_FORMATS))
    parts = [b"\x89PNG\r\n\x1a\n", png_header(width, height, bit_depth, colour_type)]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(CHUNK_KINDS))
        payload = draw(st.binary(max_size=300))
        if kind in (b"IDAT", b"zTXt", b"iCCP", b"fdAT") and draw(st.booleans()):
            payload = zlib.compress(payload)  # well-formed compression of random content
        crc = None if draw(st.booleans()) else draw(st.integers(0, 2**32 - 1))
        parts.append(png_chunk(kind, payload, crc))
    if draw(st.booleans()):
        parts.append(png_chunk(b"IEND", b""))
    return b"".join(parts)


@PROPERTY_SETTINGS
@given(chunk_soup_pngs())
def test_pngs_of_random_chunks_are_a_picture_or_an_image_problem(data):
    read_map(data)
    read_mask(data)


# Modes each format can store, as Pillow writes them.
FORMAT_MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
}


@st.composite
def real_pictures(draw) -> tuple[bytes, tuple[int, int]]:
    """A correctly encoded picture of a random size, mode and format, and its size."""
    format = draw(st.sampled_from(sorted(FORMAT_MODES)))
    mode = draw(st.sampled_from(FORMAT_MODES[format]))
    size = (draw(st.integers(1, 96)), draw(st.integers(1, 96)))
    image = noise(size, mode, seed=draw(st.integers(0, 2**16)))
    options = {}
    if mode == "P" and draw(st.booleans()):
        options["transparency"] = draw(st.integers(0, 255))
    if format == "JPEG":
        options.update(quality=draw(st.integers(5, 95)), progressive=draw(st.booleans()))
    return encode(image, format, **options), size


@PROPERTY_SETTINGS
@given(real_pictures())
def test_every_real_picture_is_read_at_its_size(picture):
    data, (width, height) = picture
    image = read_map(data)
    mask = read_mask(data)
    assert image is not None and image.size == (width, height)
    assert mask is not None and mask.shape == (height, width)


@st.composite
def damaged_pictures(draw) -> bytes:
    """A real picture cut short, with bytes overwritten, or with bytes spliced in."""
    data = bytearray(draw(real_pictures())[0])
    damage = draw(st.sampled_from(["truncate", "overwrite", "insert"]))
    position = draw(st.integers(0, len(data) - 1))
    if damage == "truncate":
        return bytes(data[:position])
    patch = draw(st.binary(min_size=1, max_size=32))
    if damage == "overwrite":
        data[position:position + len(patch)] = patch
    else:
        data[position:position] = patch
    return bytes(data)


@PROPERTY_SETTINGS
@given(damaged_pictures())
def test_damaged_pictures_are_a_picture_or_an_image_problem(data):
    read_map(data)
    read_mask(data)


@PROPERTY_SETTINGS
@given(st.one_of(real_pictures().map(lambda picture: picture[0]), damaged_pictures()),
       st.one_of(real_pictures().map(lambda picture: picture[0]), damaged_pictures()))
def test_any_map_and_mask_are_a_wish_or_an_image_problem(image_data, mask_data):
    with override_settings(OLPE_MAX_IMAGE_PIXELS=PROPERTY_MAX_PIXELS):
        try:
            image, mask = load_inputs(image_data, mask_data)
        except imaging.ImageProblem as problem:
            assert problem.code in PROBLEM_CODES and problem.field in ("image", "mask")
            return
    assert mask.shape == (image.height, image.width)
    assert (mask >= masks.PAINTED).any()


# --- the corpus, through the API -------------------------------------------------------------

MAP_SIZE = (96, 64)  # the smallest side a wish's map may have (OLPE_MIN_IMAGE_SIDE) is 64
REFUSED, ACCEPTED, EITHER = "refused", "accepted", "either"


@dataclass(frozen=True)
class Specimen:
    """A hostile or unusual file and what the API should make of it as a map."""

    name: str
    make: Callable[[tuple[int, int]], bytes]
    as_map: str
    size: tuple[int, int] = MAP_SIZE  # the picture's size: the other picture of the wish matches


def truncated_png(size):
    data = encode(noise(size))
    return data[: len(data) // 2]


def png_with_half_its_rows(size):
    """Whole chunks and a whole zlib stream, which holds only the first half of the rows:
    Pillow paints the rest black and says nothing."""
    width, height = size
    rows = noise(size, "L", seed=10).tobytes()
    scanlines = b"".join(b"\0" + rows[y * width:(y + 1) * width] for y in range(height // 2))
    return png_file(width, height, scanlines)


def interlaced_png(size):
    return encode(noise(size, seed=11), interlace=1)


def huge_dimensions(size):
    """A header claiming 100 000 × 100 000 pixels in front of a few bytes of data."""
    return png_file(100_000, 100_000, b"\0" * 16)


def decompression_bomb(size):
    """8192 × 8192 one-bit pixels (64 million) packed into a few kilobytes."""
    return png_file(8192, 8192, (b"\0" + bytes(8192 // 8)) * 8192, bit_depth=1)


def bad_header_crc(size):
    data = bytearray(encode(noise(size)))
    data[29:33] = bytes(4)  # signature (8) + IHDR length, type and data (4 + 4 + 13)
    return bytes(data)


def bad_pixel_data_crc(size):
    """The IDAT's checksum is wrong, its (zlib-checked) data intact: the picture decodes."""
    data = bytearray(encode(noise(size)))
    end_of_idat = data.index(b"IEND") - 4  # the IDAT's checksum ends where IEND's length starts
    data[end_of_idat - 4:end_of_idat] = bytes(4)
    return bytes(data)


def plain_picture(size):
    return encode(noise(size, seed=2))


def palette_with_transparency(size):
    return encode(noise(size, "P", seed=3), transparency=0)


def sixteen_bit_grey(size):
    return encode(noise(size, "I;16", seed=4))


def sixteen_bit_colour(size):
    """48-bit RGB, which Pillow cannot write but scanners do."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 65536, (size[1], size[0], 3), dtype=np.uint16)
    return cv2.imencode(".png", pixels)[1].tobytes()


def cmyk_jpeg(size):
    return encode(noise(size, "CMYK", seed=6), "JPEG", quality=90)


def progressive_jpeg(size):
    return encode(noise(size, seed=7), "JPEG", quality=85, progressive=True)


def animated(format):
    def make(size):
        frames = [noise(size, "RGB", seed=seed) for seed in range(3)]
        return encode(frames[0], format, save_all=True, append_images=frames[1:], duration=100,
                      loop=0)
    return make


def svg(size):
    return (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
            b'<script>alert(1)</script><rect width="64" height="48"/></svg>')


def html(size):
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def zip_archive(size=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def png_zip_polyglot(size):
    return encode(noise(size)) + zip_archive()


def jpeg_html_polyglot(size):
    return encode(noise(size), "JPEG") + html(size)


def html_then_png(size):
    return html(size) + encode(noise(size))


def jpeg_with_segments(segments: list[bytes]):
    """A JPEG with extra marker segments (each up to 64 KiB) right after its SOI marker."""
    def make(size):
        data = encode(noise(size, seed=8), "JPEG")
        extra = b"".join(b"\xff" + segment[:1] + struct.pack(">H", len(segment) - 1 + 2)
                         + segment[1:] for segment in segments)
        return data[:2] + extra + data[2:]
    return make


# 63 APP1 segments of 64 KiB each: 4 MiB of EXIF-looking metadata around a 64 × 48 picture.
HUGE_EXIF = [b"\xe1" + b"Exif\0\0" + bytes(65_000)] * 63
# A TIFF header pointing past its end and an IFD claiming 65 535 entries.
BROKEN_EXIF = [b"\xe1" + b"Exif\0\0" + b"II*\0" + struct.pack("<I", 0xFFFFFF00)
               + struct.pack("<H", 0xFFFF) + bytes(64)]


def huge_icc_profile(size):
    """An iCCP chunk that inflates to 64 MiB: more than Pillow keeps of any chunk."""
    profile = zlib.compress(bytes(64 * 2**20), 9)
    return with_chunk(size, png_chunk(b"iCCP", b"icc\0\0" + profile))


def garbage_icc_profile(size):
    """An iCCP chunk of 512 KiB of noise: no colour profile at all."""
    rng = np.random.default_rng(9)
    garbage = zlib.compress(rng.integers(0, 256, 512 * 1024, dtype=np.uint8).tobytes())
    return with_chunk(size, png_chunk(b"iCCP", b"icc\0\0" + garbage))


def huge_text(size):
    """A zTXt chunk that inflates to 64 MiB."""
    text = zlib.compress(bytes(64 * 2**20), 9)
    return with_chunk(size, png_chunk(b"zTXt", b"Comment\0\0" + text))


def with_chunk(size, chunk: bytes) -> bytes:
    """A real PNG with `chunk` before its first IDAT (where iCCP and text belong)."""
    data = encode(noise(size))
    first_idat = data.index(b"IDAT") - 4
    return data[:first_idat] + chunk + data[first_idat:]


def zero_dimensions(size):
    return png_file(0, 0, b"")


def webp_with_wrong_riff_size(size):
    data = bytearray(encode(noise(size), "WEBP"))
    data[4:8] = struct.pack("<I", 2**31)
    return bytes(data)


CORPUS = [
    Specimen("empty file", lambda size: b"", REFUSED),
    Specimen("truncated PNG", truncated_png, REFUSED),
    Specimen("PNG whose image data holds half its rows", png_with_half_its_rows, REFUSED),
    Specimen("interlaced PNG", interlaced_png, ACCEPTED),
    Specimen("huge dimensions in the header", huge_dimensions, REFUSED),
    Specimen("decompression bomb", decompression_bomb, REFUSED),
    Specimen("PNG with a bad header CRC", bad_header_crc, REFUSED),
    Specimen("PNG with a bad pixel data CRC", bad_pixel_data_crc, EITHER),
    Specimen("PNG of 0 x 0 pixels", zero_dimensions, REFUSED),
    Specimen("WebP whose RIFF size is past its end", webp_with_wrong_riff_size, REFUSED),
    Specimen("SVG with a script", svg, REFUSED),
    Specimen("HTML page", html, REFUSED),
    Specimen("ZIP archive", zip_archive, REFUSED),
    Specimen("PNG + ZIP polyglot", png_zip_polyglot, REFUSED),
    Specimen("JPEG + HTML polyglot", jpeg_html_polyglot, REFUSED),
    Specimen("HTML + PNG polyglot", html_then_png, REFUSED),
    Specimen("PNG with a 64 MiB iCCP chunk", huge_icc_profile, EITHER),
    Specimen("PNG with a 64 MiB zTXt chunk", huge_text, EITHER),
    # Too small for any engine to paint (the classic engine crashed on it in the worker).
    Specimen("one pixel", plain_picture, REFUSED, size=(1, 1)),
    Specimen("palette with transparency", palette_with_transparency, ACCEPTED),
    Specimen("16-bit grey PNG", sixteen_bit_grey, ACCEPTED),
    Specimen("16-bit colour PNG", sixteen_bit_colour, ACCEPTED),
    Specimen("CMYK JPEG", cmyk_jpeg, ACCEPTED),
    Specimen("progressive JPEG", progressive_jpeg, ACCEPTED),
    Specimen("animated PNG", animated("PNG"), EITHER),
    Specimen("animated WebP", animated("WEBP"), EITHER),
    Specimen("JPEG with 4 MiB of EXIF", jpeg_with_segments(HUGE_EXIF), EITHER),
    Specimen("JPEG with a broken EXIF block", jpeg_with_segments(BROKEN_EXIF), EITHER),
    Specimen("PNG with a garbage iCCP profile", garbage_icc_profile, ACCEPTED),
]


def paint_mask(size: tuple[int, int]) -> bytes:
    """A red stroke on transparency over the middle, as the kiosk paints it."""
    width, height = size
    paint = np.zeros((height, width, 4), np.uint8)
    rows = slice(height // 4, max(height * 3 // 4, 1))
    columns = slice(width // 4, max(width * 3 // 4, 1))
    paint[rows, columns] = (255, 0, 0, 255)
    return encode(Image.fromarray(paint, "RGBA"))


@pytest.fixture
def wishes_only_stored(settings, monkeypatch):
    """No worker paints and no rate limit interferes: only the API's own judgement counts."""
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "jobs": None},
    }
    cache.clear()


def post_wish(client, image: bytes, mask: bytes):
    return client.post(
        reverse("inpainting:api:job-list"),
        {"image": io.BytesIO(image), "mask": io.BytesIO(mask), "prompt": "Ein See",
         "engine": "classic"},
        HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="en",
    )


def assert_clean_answer(response, field: str, expected: str) -> None:
    """202, or 400 naming the field at fault with a readable message; as `expected` says."""
    assert response.status_code in (202, 400), (response.status_code, response.content[:500])
    if response.status_code == 400:
        assert codes(response, field), response.json()  # each with its code and message
    if expected == REFUSED:
        assert response.status_code == 400, response.json()
    elif expected == ACCEPTED:
        assert response.status_code == 202, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("specimen", CORPUS, ids=[specimen.name for specimen in CORPUS])
def test_the_api_refuses_hostile_maps_cleanly_and_accepts_real_ones(client, specimen,
                                                                   wishes_only_stored):
    response = post_wish(client, specimen.make(specimen.size), paint_mask(specimen.size))
    assert_clean_answer(response, "image", specimen.as_map)


@pytest.mark.django_db
@pytest.mark.parametrize("specimen", CORPUS, ids=[specimen.name for specimen in CORPUS])
def test_the_api_refuses_hostile_masks_cleanly(client, specimen, wishes_only_stored):
    # A map too small to paint would be refused before its mask is looked at.
    map_size = specimen.size if min(specimen.size) >= min(MAP_SIZE) else MAP_SIZE
    response = post_wish(client, encode(noise(map_size, seed=1)), specimen.make(specimen.size))
    # A real picture used as a mask may still paint nothing: refused, but cleanly.
    assert_clean_answer(response, "mask", REFUSED if specimen.as_map == REFUSED else EITHER)
