"""Pictures from outside: read them safely, or refuse them with a reason.

Uploads are untrusted. The pixel count is checked from the header before
anything is decoded, only PNG, JPEG and WebP are accepted, and a file that
carries data after its picture (a polyglot: a picture that is also a zip or an
HTML page) or that misses part of its image data is refused. `inspect_picture`
does these checks without decoding, so the web tier stores a map as it came
and the worker decodes it (`open_image`, `open_mask`), turned by its
orientation and converted to sRGB. What is painted on a mask is read by
`masks`; cutting out and putting back by `compositing`, which also encodes
results anew (never served as uploaded).
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from inpainting_core.problems import Problem

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without LittleCMS: colours are taken as sRGB.
    ImageCms = None

# Pillow refuses to open a picture of more than twice Image.MAX_IMAGE_PIXELS (about 179
# million pixels) as a decompression bomb. Every picture is checked here against the
# platform's own limits before it is decoded (OLPE_MAX_IMAGE_PIXELS for a visitor's map,
# OLPE_MAX_WORLD_PIXELS for a World's: a 16384² scan is 268 million), so Pillow's guard
# stands at the largest of them and only reads headers of maps it must never decode.
Image.MAX_IMAGE_PIXELS = max(
    Image.MAX_IMAGE_PIXELS or 0, settings.OLPE_MAX_WORLD_PIXELS, settings.OLPE_MAX_IMAGE_PIXELS
)

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")


def _interpolate(template, params) -> str:
    return str(template) % params


# Translated in the language active when the message is shown, not when raised.
lazy_interpolate = lazy(_interpolate, str)


class ImageProblem(Problem):
    """Why an image or mask cannot be used.

    Codes: "corrupt", "too_large", "too_small", "not_image", "truncated",
    "trailing_data", "unreadable", "size_mismatch", "empty_mask"; `field` names
    the upload at fault ("image", "mask" or None).
    """


# --- Decoding ---------------------------------------------------------------------


def open_image(source, *, max_pixels: int | None = None, min_side: int = 0) -> Image.Image:
    """Decode the map as an 8-bit sRGB picture without alpha.

    Transparent parts are laid on white, as the kiosk shows them on its white
    page and as a printed map would be; keeping the colour hidden under the
    transparency would paint arbitrary (often black) areas into the result.
    Embedded colour profiles (CMYK scans, Display P3 photos) are converted to
    sRGB, the space the result PNG is shown in; 16-bit pictures are scaled to
    8 bits, and a photo's EXIF orientation is applied, as browsers show it.
    A side shorter than `min_side` is refused (see `check_min_size`).
    """
    image = _decode(source, max_pixels, field="image", min_side=min_side)
    image = standard_mode(image)
    alpha = image.getchannel("A") if "A" in image.getbands() else None
    colour = _to_srgb(_without_alpha(image), image.info.get("icc_profile"))
    if alpha is not None:
        colour = Image.composite(colour, Image.new("RGB", colour.size, "white"), alpha)
    colour.info = {}
    return colour


@dataclass(frozen=True)
class PictureInfo:
    """What the header says about a picture that passed every check short of decoding."""

    data: bytes
    format: str  # "PNG", "JPEG" or "WEBP"
    size: tuple[int, int]  # (width, height) as shown, after the EXIF orientation

    @property
    def extension(self) -> str:
        return {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp"}[self.format]


# EXIF orientations that turn the picture by 90°: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}


def inspect_picture(
    source, *, max_pixels: int | None = None, min_side: int = 0, field: str = "image"
) -> PictureInfo:
    """Check a picture from its header, without decoding its pixels.

    The checks `open_image` makes before decoding: format, pixel count,
    shortest side, nothing after the picture's end, and for a PNG that its image
    data holds every row (counted by inflating it, which is quick beside
    decoding). A picture that passes is stored as it is and decoded later, in a
    worker; one that the decoder still cannot read then fails that job with the
    reason.
    """
    data, image = _checked_header(source, max_pixels, field, min_side)
    if image.format == "PNG" and not _png_rows_complete(data):
        raise _incomplete(field)
    size = _turned(image.size, _orientation(image, io.BytesIO(data)))
    return PictureInfo(data=data, format=image.format, size=size)


def _turned(size: tuple[int, int], orientation) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def _orientation(image: Image.Image, handle) -> int | None:
    """The EXIF orientation, read without decoding the pixels.

    Pillow reads a JPEG's or WebP's EXIF with the header, but looks for a PNG's
    eXIf chunk by decoding the whole picture (it may follow the pixel data), so
    PNG chunks are walked here instead.
    """
    try:
        if image.format == "PNG":
            chunk = _png_exif_chunk(handle)
            if chunk is None:
                return None
            exif = Image.Exif()
            exif.load(chunk)
            return exif.get(0x0112)
        return image.getexif().get(0x0112)
    except Exception:  # a damaged EXIF block: browsers ignore it, so does open_image
        return None


def _png_exif_chunk(handle) -> bytes | None:
    """The data of a PNG's eXIf chunk, seeking from chunk header to chunk header."""
    handle.seek(8)
    while True:
        head = handle.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head)
        if kind == b"eXIf":
            return handle.read(length)
        if kind == b"IEND":
            return None
        handle.seek(length + 4, os.SEEK_CUR)  # the data and its CRC


def shown_size(source) -> tuple[int, int]:
    """(width, height) of a trusted picture (a World's map, a stored result) as shown,
    read from its header alone."""
    with Image.open(source) as image:
        return _turned(image.size, _orientation(image, source))


def open_mask(source, *, max_pixels: int | None = None, min_side: int = 0) -> Image.Image:
    """Decode a mask and keep its mode: `normalise_mask` reads the form from it.

    EXIF orientation is applied as for the map, so both stay aligned.
    """
    return _decode(source, max_pixels, field="mask", min_side=min_side)


def _checked_header(source, max_pixels: int | None, field: str, min_side: int):
    """The picture's bytes and its opened (not decoded) header, once every check that the
    header allows has passed: format, pixel count, shortest side, nothing after its end."""
    if max_pixels is None:
        max_pixels = settings.OLPE_MAX_IMAGE_PIXELS
    data = _read_source(source, _max_file_bytes(max_pixels), field)
    image = _open_header(data, field, max_pixels)
    check_pixel_count(image.size, max_pixels, field)
    check_min_size(image.size, min_side, field)
    _check_nothing_after_picture(data, image, field)
    return data, image


def _decode(source, max_pixels: int | None, field: str, min_side: int = 0) -> Image.Image:
    """Refuse anything too large, too small, foreign or damaged before and while decoding it."""
    data, image = _checked_header(source, max_pixels, field, min_side)
    if image.format != "PNG":
        _load(image, field)
    else:
        # A PNG's rows are counted beside Pillow's decoding: both release the GIL.
        with ThreadPoolExecutor(max_workers=1) as pool:
            rows_complete = pool.submit(_png_rows_complete, data)
            _load(image, field)
            if not rows_complete.result():
                raise _incomplete(field)
    ImageOps.exif_transpose(image, in_place=True)
    return image


def _load(image: Image.Image, field: str) -> None:
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as error:  # decoders of untrusted data fail in many ways
        raise ImageProblem(
            _("The picture is damaged and cannot be read."), code="corrupt", field=field
        ) from error


# Channels per pixel of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7's seven passes: first column and row, then the step between columns and rows.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))


def _png_rows_complete(data: bytes) -> bool:
    """Whether a PNG's image data holds every row.

    A complete zlib stream that holds only some of the rows is decoded by Pillow
    without complaint, the missing rows black. The stream's length tells: a filter
    byte and the row's bytes for every row of every pass. Counted in slices, so a
    big map is inflated once more but never held twice.
    """
    width, height, depth, colour, _method, _filter, interlaced = struct.unpack_from(
        ">IIBBBBB", data, 16
    )
    bits = depth * _PNG_CHANNELS.get(colour, 4)
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    expected = 0
    for left, top, step_x, step_y in passes:
        columns, rows = -(-(width - left) // step_x), -(-(height - top) // step_y)
        if columns > 0 and rows > 0:
            expected += rows * (1 + (columns * bits + 7) // 8)
    inflater, found, position = zlib.decompressobj(), 0, 8
    try:
        while found < expected and position + 12 <= len(data):
            length, kind = struct.unpack_from(">I4s", data, position)
            pending = data[position + 8 : position + 8 + length] if kind == b"IDAT" else b""
            position += 12 + length
            while pending and found < expected:
                found += len(inflater.decompress(pending, 1 << 20))
                pending = inflater.unconsumed_tail
    except zlib.error:
        return False
    return found >= expected


def _max_file_bytes(max_pixels: int) -> int:
    # An uncompressed 16-bit RGBA picture needs 8 bytes a pixel; allow 1 MiB of metadata.
    return max_pixels * 8 + 2**20


def _read_source(source, max_bytes: int, field: str) -> bytes:
    """Read bytes, a path or a binary file object (e.g. a Django UploadedFile)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as error:
            raise ImageProblem(
                _("The file cannot be read."), code="unreadable", field=field
            ) from error
    else:
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageProblem(_("The file is too large."), code="too_large", field=field)
    return data


def _open_header(data: bytes, field: str, max_pixels: int) -> Image.Image:
    """Parse the header only; Pillow decodes pixels lazily on load()."""
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise _too_large(None, field, max_pixels) from error
    except UnidentifiedImageError as error:
        raise ImageProblem(
            _("This file is not a PNG, JPEG or WebP picture."),
            code="not_image",
            field=field,
        ) from error
    except MemoryError:
        raise
    except Exception as error:
        raise ImageProblem(
            _("The picture is damaged and cannot be read."), code="corrupt", field=field
        ) from error


def check_pixel_count(size: tuple[int, int], max_pixels: int, field: str) -> None:
    if size[0] * size[1] > max_pixels:
        raise _too_large(size, field, max_pixels)


def min_image_side() -> int:
    """The shortest side a map or mask of a wish may have (OLPE_MIN_IMAGE_SIDE)."""
    return settings.OLPE_MIN_IMAGE_SIDE


def check_min_size(size: tuple[int, int], min_side: int, field: str | None) -> None:
    """Refuse a picture with a side shorter than `min_side` (read from the header).

    Engines cannot paint a map of a few pixels: the classic engine's Poisson
    blending needs an interior, the diffusion model works on latents an eighth
    of the picture's size. OLPE_MIN_IMAGE_SIDE (64) is the size every engine paints.
    """
    width, height = size
    if min(width, height) < min_side:
        raise ImageProblem(
            lazy_interpolate(
                _(
                    "The picture is %(width)s × %(height)s pixels: it needs at least "
                    "%(side)s pixels on each side."
                ),
                {"width": width, "height": height, "side": min_side},
            ),
            code="too_small",
            field=field,
        )


def _too_large(size, field: str, max_pixels: int) -> ImageProblem:
    limit = round(max_pixels / 1e6, 1)
    if size is None:
        message = lazy_interpolate(
            _("The picture is too large: at most %(limit)s million pixels are accepted."),
            {"limit": limit},
        )
    else:
        message = lazy_interpolate(
            _(
                "The picture is %(width)s × %(height)s pixels: "
                "at most %(limit)s million pixels are accepted."
            ),
            {"width": size[0], "height": size[1], "limit": limit},
        )
    return ImageProblem(message, code="too_large", field=field)


def _check_nothing_after_picture(data: bytes, image: Image.Image, field: str) -> None:
    """Refuse truncated files and files that go on after the picture ends.

    Trailing zero bytes are tolerated: some cameras pad their files.
    """
    if image.format == "PNG":
        end = _png_end(data)
    elif image.format == "WEBP":
        end = _webp_end(data)
    else:  # JPEG, or MPO: a camera's multi-picture JPEG is a sequence of JPEGs
        end = _jpeg_sequence_end(data, getattr(image, "n_frames", 1))
    if end is None:
        raise _incomplete(field)
    if data[end:].strip(b"\0"):
        raise ImageProblem(
            _(
                "The file contains other data after the picture. "
                "Please save it again as a plain PNG, JPEG or WebP picture."
            ),
            code="trailing_data",
            field=field,
        )


def _incomplete(field: str) -> ImageProblem:
    return ImageProblem(
        _("The picture file is incomplete or damaged. Please save it again and upload it anew."),
        code="truncated",
        field=field,
    )


def _png_end(data: bytes) -> int | None:
    """Offset just past the IEND chunk, walking chunk by chunk."""
    position = 8
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        position += 12 + length
        if kind == b"IEND":
            return position if position <= len(data) else None
    return None


def _webp_end(data: bytes) -> int | None:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    return end if end <= len(data) else None


# In entropy-coded JPEG data, 0xFF is followed by 0x00 (stuffing) or a restart
# marker; anything else is the next segment's marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_sequence_end(data: bytes, count: int) -> int | None:
    end = 0
    for _frame in range(count):
        if data[end : end + 2] != b"\xff\xd8":
            return None
        end = _jpeg_end(data, end + 2)
        if end is None:
            return None
    return end


def _jpeg_end(data: bytes, position: int) -> int | None:
    """Offset just past the EOI marker, skipping segments and scan data."""
    while position + 1 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xD9:
            return position + 2
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            position += 2
            continue
        if position + 4 > len(data):
            return None
        (length,) = struct.unpack_from(">H", data, position + 2)
        position += 2 + length
        if marker == 0xDA:  # start of scan: skip the compressed data
            following = _JPEG_NEXT_MARKER.search(data, position)
            if following is None:
                return None
            position = following.start()
    return None


# --- Modes and colour -----------------------------------------------------------


def standard_mode(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to 8-bit L, LA, RGB, RGBA or CMYK.

    16-bit greyscale is scaled, not clipped: Pillow's own conversion clips
    every value above 255 to white.
    """
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return _sixteen_bit_to_l(image)
    if image.mode in ("L", "RGB", "P") and "transparency" in image.info:
        return image.convert("RGBA")
    converted = {"1": "L", "P": "RGB", "PA": "RGBA", "La": "LA", "RGBa": "RGBA"}
    if image.mode in converted:
        return image.convert(converted[image.mode])
    if image.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    return image.convert("RGB")


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image).astype(np.float32) * (1 / 257)
    eight_bit = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    eight_bit.info = dict(image.info)
    return eight_bit


def _without_alpha(image: Image.Image) -> Image.Image:
    opaque_mode = {"LA": "L", "RGBA": "RGB"}.get(image.mode)
    return image.convert(opaque_mode) if opaque_mode else image


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert from an embedded profile to RGB in sRGB; without one, assume sRGB."""
    if icc_profile and ImageCms is not None:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            if "srgb" not in ImageCms.getProfileDescription(profile).lower():
                return ImageCms.profileToProfile(
                    image, profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
                )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile: fall back to plain conversion
    return image if image.mode == "RGB" else image.convert("RGB")
