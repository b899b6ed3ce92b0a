"""Tile pyramids of big pictures: made once with libvips, then read a tile or a region at a time.

A pyramid is one tiled TIFF file: the picture at full size in tiles of
`TILE_SIDE`, then the same picture at half, a quarter, … down to a tile, each
level a page of the file. Serving a deep-zoom tile or a thumbnail reads the
few tiles of the one level it needs (the IIIF Image API, `iiif/`), and a
worker reads only the region of a huge map a wish needs (`inpainting/
huge_maps.py`) instead of decoding the whole map (a 16384² map is 805 MB of
pixels).

Two kinds, by what reads them:

* `lossless=False`: JPEG tiles (quality `PYRAMID_JPEG_QUALITY`), small and
  fast to make: for showing a picture.
* `lossless=True`: LZW tiles: the exact pixels, for maps that workers paint by
  region, where every pixel outside a wish must stay byte-identical.

Every picture is read the way `imaging.open_image` reads a map: turned by its
EXIF orientation, converted to sRGB from an embedded profile, 16-bit scaled to
8, transparency laid on white, grey made RGB. libvips streams: making the
pyramid of a 16384² map holds a few rows of tiles in memory, not the map.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyvips
from django.utils.translation import gettext_lazy as _

from inpainting_core.imaging import ImageProblem, check_min_size, check_pixel_count

# libvips keeps recently opened files and results in an operation cache; pyramids are
# replaced and deleted under the same names, so nothing is kept between calls.
pyvips.cache_set_max(0)

TILE_SIDE = 256  # tiles inside the pyramid file
PYRAMID_JPEG_QUALITY = 90  # the pyramid's own tiles (what is served is encoded again)
SERVED_JPEG_QUALITY = 85
SERVED_PNG_COMPRESSION = 3  # zlib level of PNG answers: fast, for pictures of at most a few MP
# A TIFF's offsets are 32 bits: a pyramid that may pass 4 GiB is written as BigTIFF.
_TIFF_LIMIT = 2**32 * 0.9

# What a World's map may be (`inspect_map`), as libvips names its loaders.
MAP_LOADERS = {
    "pngload": "PNG", "jpegload": "JPEG", "webpload": "WEBP", "tiffload": "TIFF",
}
QUALITIES = ("default", "color", "gray", "bitonal")
FORMATS = {"jpg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class MapInfo:
    """A picture that libvips decoded to its last row: its format and size as shown."""

    format: str  # "PNG", "JPEG", "WEBP" or "TIFF"
    size: tuple[int, int]  # (width, height) after the EXIF orientation


def load(path, *, access: str = "sequential") -> pyvips.Image:
    """The picture at `path` as 8-bit sRGB without alpha (see the module's doc)."""
    image = pyvips.Image.new_from_file(os.fspath(path), access=access, fail_on="error")
    return normalise(image)


def normalise(image: pyvips.Image) -> pyvips.Image:
    image = image.autorot()
    if image.get_typeof("icc-profile-data"):
        try:
            image = image.icc_transform("srgb", embedded=True, intent="perceptual")
        except pyvips.Error:
            pass  # a broken profile: taken as sRGB, as imaging.open_image does
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        image = image.colourspace("srgb" if image.bands >= 3 else "b-w")
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image.extract_band(0, n=3) if image.bands > 3 else image


def build(source, target, *, lossless: bool) -> tuple[int, int]:
    """Write the pyramid of the picture at `source` to `target` (paths); returns its size.

    Written to a temporary file beside `target` and renamed into place, so a
    reader never sees half a pyramid.
    """
    try:
        image = load(source)
    except pyvips.Error as error:
        raise _unreadable() from error
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    options = {"compression": "lzw"} if lossless else {"compression": "jpeg", "Q": PYRAMID_JPEG_QUALITY}
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part.tif")
    os.close(descriptor)
    try:
        image.tiffsave(
            temporary, tile=True, tile_width=TILE_SIDE, tile_height=TILE_SIDE, pyramid=True,
            bigtiff=image.width * image.height * 3 * 4 / 3 > _TIFF_LIMIT, keep="none", **options,
        )
        os.replace(temporary, target)
    except pyvips.Error as error:
        Path(temporary).unlink(missing_ok=True)
        raise _unreadable() from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return image.width, image.height


def _unreadable() -> ImageProblem:
    return ImageProblem(
        _("The picture is damaged and cannot be read."), code="corrupt", field="image"
    )


def save_png(source, target, *, compression: int = 1) -> tuple[int, int]:
    """The picture at `source` as a plain 8-bit RGB PNG at `target` (a TIFF World's map)."""
    image = load(source)
    image.pngsave(os.fspath(target), compression=compression, keep="none")
    return image.width, image.height


def _open(source, **options) -> pyvips.Image:
    """A picture from a path or from its bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return pyvips.Image.new_from_buffer(bytes(source), "", **options)
    return pyvips.Image.new_from_file(os.fspath(source), **options)


# How the formats of MAP_LOADERS begin (TIFF: little- and big-endian, classic and BigTIFF).
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00",
               b"MM\x00+")


def _signature(source) -> bool:
    """Whether the file begins as a PNG, JPEG, WebP or TIFF does."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        head = bytes(source[:12])
    else:
        with open(source, "rb") as handle:
            head = handle.read(12)
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def inspect_map(source, *, max_pixels: int, min_side: int = 0) -> MapInfo:
    """Check a map too big for Pillow (a path or its bytes): format, size and every row,
    without holding it.

    The header gives the format and size (refused above `max_pixels` or with a
    side under `min_side` before anything is decoded); then libvips decodes
    the whole picture in a stream of rows, so a damaged or truncated file is
    found. Raises imaging.ImageProblem with the reason.
    """
    try:
        loader = _open(source).get("vips-loader").removesuffix("_buffer").removesuffix("_source")
    except pyvips.Error as error:
        if _signature(source):  # it begins as a picture does: a damaged one
            raise _unreadable() from error
        raise ImageProblem(
            _("This file is not a PNG, JPEG, WebP or TIFF picture."), code="not_image", field="image"
        ) from error
    if loader not in MAP_LOADERS:
        raise ImageProblem(
            _("This file is not a PNG, JPEG, WebP or TIFF picture."), code="not_image", field="image"
        )
    try:
        header = _open(source, access="sequential", fail_on="error")
        width, height = header.width, header.height
        if _turned(header):
            width, height = height, width
        check_pixel_count((width, height), max_pixels, "image")
        check_min_size((width, height), min_side, "image")
        header.avg()  # decodes every row, a strip at a time
    except pyvips.Error as error:
        raise _unreadable() from error
    return MapInfo(format=MAP_LOADERS[loader], size=(width, height))


def thumbnail(path, side: int) -> np.ndarray:
    """The picture at `path` shrunk to at most `side` pixels a side (H×W×3 uint8), read in a
    stream: a huge map is never held whole."""
    return normalise(pyvips.Image.thumbnail(os.fspath(path), side, size="down")).numpy()


def picture_size(path) -> tuple[int, int]:
    """(width, height) of a picture as shown (after its EXIF orientation), from its header."""
    try:
        image = pyvips.Image.new_from_file(os.fspath(path))
    except pyvips.Error as error:
        raise _unreadable() from error
    return (image.height, image.width) if _turned(image) else (image.width, image.height)


def _turned(image: pyvips.Image) -> bool:
    """Whether the picture's EXIF orientation turns it by 90°, swapping width and height."""
    return bool(image.get_typeof("orientation")) and image.get("orientation") in (5, 6, 7, 8)


class Pyramid:
    """An open pyramid (or any picture libvips reads, as a pyramid of one level).

    `levels[k]` is the size of level k; level 0 is the full picture.
    """

    def __init__(self, path, *, pyramid: bool = True):
        self.path = os.fspath(path)
        try:
            first = pyvips.Image.new_from_file(self.path)
        except pyvips.Error as error:
            raise _unreadable() from error
        self.is_pyramid = bool(pyramid and first.get_typeof("n-pages") and first.get("n-pages") > 1)
        self.width, self.height = first.width, first.height
        if not self.is_pyramid and _turned(first):  # shown as `load` turns it
            self.width, self.height = first.height, first.width
        self.levels = [(self.width, self.height)]
        if self.is_pyramid:
            for page in range(1, first.get("n-pages")):
                level = pyvips.Image.new_from_file(self.path, page=page)
                self.levels.append((level.width, level.height))

    def _level(self, index: int) -> pyvips.Image:
        if not self.is_pyramid:
            return load(self.path, access="random")
        # The pyramid's pages are already normalised (pyramids are written from `load`).
        return pyvips.Image.new_from_file(self.path, page=index, access="random")

    def read(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """The full-resolution pixels of `box` (x0, y0, x1, y1) as an H×W×3 uint8 array."""
        x0, y0, x1, y1 = box
        try:
            return self._level(0).crop(x0, y0, x1 - x0, y1 - y0).numpy()
        except pyvips.Error as error:
            raise _unreadable() from error

    def render(self, region: tuple[int, int, int, int], size: tuple[int, int], *,
               mirror: bool = False, rotation: int = 0, quality: str = "default",
               format: str = "jpg") -> bytes:
        """The `region` (x, y, w, h of the full picture) scaled to `size` (w, h), mirrored,
        turned clockwise by `rotation` (a multiple of 90), in `quality`, encoded as `format`.

        Reads the smallest level that still has at least the wanted resolution.
        """
        try:
            return self._render(region, size, mirror, rotation, quality, format)
        except pyvips.Error as error:
            raise _unreadable() from error

    def _render(self, region, size, mirror, rotation, quality, format) -> bytes:
        x, y, w, h = region
        target_w, target_h = size
        scale = min(w / target_w, h / target_h)
        index = self._level_for(scale)
        level_w, level_h = self.levels[index]
        fx, fy = self.width / level_w, self.height / level_h
        left, top = math.floor(x / fx), math.floor(y / fy)
        right = min(level_w, max(left + 1, math.ceil((x + w) / fx)))
        bottom = min(level_h, max(top + 1, math.ceil((y + h) / fy)))
        image = self._level(index).crop(left, top, right - left, bottom - top)
        if image.width != target_w or image.height != target_h:
            image = image.thumbnail_image(target_w, height=target_h, size="force")
        if mirror:
            image = image.fliphor()
        if rotation:
            image = image.rot(f"d{rotation}")
        if quality in ("gray", "bitonal"):
            image = image.colourspace("b-w")
            if quality == "bitonal":
                image = (image > 127).ifthenelse(255, 0).cast("uchar")
        if format == "png":
            return image.pngsave_buffer(compression=SERVED_PNG_COMPRESSION, keep="none")
        return image.jpegsave_buffer(Q=SERVED_JPEG_QUALITY, keep="none", optimize_coding=True)

    def _level_for(self, scale: float) -> int:
        """The smallest level whose resolution is still at least 1/`scale` of the full one."""
        index = 0
        for candidate, (level_w, _level_h) in enumerate(self.levels):
            if self.width / level_w <= scale * 1.0001:
                index = candidate
        return index
