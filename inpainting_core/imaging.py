"""Pictures and masks: decode them safely, read the painted region, cut it out, put it back.

Every engine shares this module, so an engine only ever sees an RGB crop and an
"L" mask of the size it asked for. The rules that matter to visitors live here:

* Uploads are untrusted. The pixel count is checked from the header before
  anything is decoded, only PNG, JPEG and WebP are accepted, and a file that
  carries data after its picture (a polyglot: a picture that is also a zip or
  an HTML page) is refused. `inspect_picture` does these checks without
  decoding, so the web tier stores a map as it came and the worker decodes
  it; results are encoded anew by `to_png_bytes`, never served as uploaded.
* Masks arrive in many forms (canvas strokes on transparency, white on black,
  coloured strokes on white); `normalise_mask` reads the form from the data.
* Only the painted region may change: `composite` blends the engine's picture
  in with a feathered edge, and every pixel farther than the feather band from
  the painted region stays byte-identical to the original.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from inpainting_core.problems import Problem
from inpainting_core.png_bands import BandedPNG

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
# A mask value at or above this counts as painted (bounding box, feather core).
PAINTED = 0.5
# Mask levels (of 255) at or below this are compression noise, not paint.
NOISE_FLOOR = 16
# An opaque mask whose strongest mark differs less than this from its
# background has nothing painted on it (a blank canvas saved as JPEG).
MIN_PAINT_CONTRAST = 48
# Even a dab of paint gets this much of the map around it as context.
MIN_CROP_SIDE = 128
# Crops are never thinner than 1:2; engines trained on near-square pictures
# make poor use of a long sliver.
MAX_CROP_ASPECT = 2.0

TargetSize = Callable[[int, int], tuple[int, int]]


def _interpolate(template, params) -> str:
    return str(template) % params


# Translated in the language active when the message is shown, not when raised.
_lazy_interpolate = lazy(_interpolate, str)


class ImageProblem(Problem):
    """Why an image or mask cannot be used.

    Codes: "corrupt", "too_large", "too_small", "not_image", "truncated",
    "trailing_data", "unreadable", "size_mismatch", "empty_mask"; `field` names
    the upload at fault ("image", "mask" or None).
    """


class EmptyMask(ImageProblem):
    """Nothing is painted: there is no region to repaint."""

    def __init__(self, message=None):
        super().__init__(
            message
            or _("Nothing is painted on the mask. Paint the region the wish should change."),
            code="empty_mask",
            field="mask",
        )


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
    image = _standard_mode(image)
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
            _lazy_interpolate(
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
        message = _lazy_interpolate(
            _("The picture is too large: at most %(limit)s million pixels are accepted."),
            {"limit": limit},
        )
    else:
        message = _lazy_interpolate(
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


def _standard_mode(image: Image.Image) -> Image.Image:
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


# --- Masks ------------------------------------------------------------------------


def normalise_mask(mask: Image.Image) -> np.ndarray:
    """Read how strongly each pixel is painted: float32 H×W in [0, 1], 1 = repaint.

    The form is read from the data, in this order:

    1. Paint on transparency (the kiosk's canvas strokes): when the alpha
       channel varies, alpha is the paint, whatever the stroke colour.
       A fully transparent mask has nothing painted.
    2. A single-channel mask (L, 1, 16-bit grey, or LA with opaque alpha)
       follows the usual convention: white = repaint, grey = partly.
    3. Any other opaque mask (RGB, opaque RGBA, palette): the background is
       black or white, whichever most of the outermost pixel frame is closest
       to; the paint is every pixel's distance from it (brightest channel on
       black, darkest channel on white), scaled so the strongest mark is 1.
       This reads white-on-black, coloured strokes on black, and coloured or
       black strokes on white alike, and an opaque white-on-black mask is no
       longer read as "repaint everything".

    Antialiased edges keep their in-between values. Levels within NOISE_FLOOR
    of the background are JPEG noise and count as unpainted, so that the rest
    of the map stays untouched. A uniform picture has no contrast to tell paint
    from background: black, white or transparent everywhere means nothing is
    painted (see mask_bbox); to ask for the whole map, send a white L mask.
    """
    mask = _standard_mode(mask)
    if mask.mode == "CMYK":
        mask = mask.convert("RGB")
    if "A" in mask.getbands():
        alpha = np.asarray(mask.getchannel("A"))
        lowest, highest = cv2.minMaxLoc(alpha)[:2]
        if highest <= NOISE_FLOOR:
            return np.zeros(alpha.shape, np.float32)
        if highest - lowest > NOISE_FLOOR:
            return _ramp(alpha, 0, 255)
    if mask.mode in ("L", "LA"):
        return _ramp(np.asarray(mask.getchannel("L")), NOISE_FLOOR, 255)
    return _colour_paint(np.asarray(mask.convert("RGB")))


def _ramp(levels: np.ndarray, low: int, high: int) -> np.ndarray:
    """Map uint8 levels linearly so that `low` -> 0 and `high` -> 1, in one table lookup."""
    table = np.clip((np.arange(256, dtype=np.float32) - low) / (high - low), 0, 1)
    return cv2.LUT(levels, table)


def _colour_paint(rgb: np.ndarray) -> np.ndarray:
    red, green, blue = cv2.split(rgb)
    if _background_is_white(rgb):
        distance = cv2.bitwise_not(cv2.min(cv2.min(red, green), blue))
    else:
        distance = cv2.max(cv2.max(red, green), blue)
    contrast = int(cv2.minMaxLoc(distance)[1])
    if contrast < MIN_PAINT_CONTRAST:
        return np.zeros(distance.shape, np.float32)
    return _ramp(distance, NOISE_FLOOR, contrast)


def _background_is_white(rgb: np.ndarray) -> bool:
    """Whether more of the outermost pixel frame is light than dark."""
    frame = np.concatenate((rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]))
    light = np.count_nonzero(frame.min(axis=1) >= 128)
    dark = np.count_nonzero(frame.max(axis=1) < 128)
    return light > dark


def fit_mask(mask: np.ndarray, size: tuple[int, int], tolerance: float = 0.02) -> np.ndarray:
    """Scale a mask painted at another resolution of the same map to `size` (width, height).

    A canvas often shows the map smaller than it is; a mask of the same aspect
    (within `tolerance`) is scaled, any other is for a different picture.
    """
    check_mask_fits(mask, size, tolerance)
    if mask.shape == (size[1], size[0]):
        return mask
    return _resize_values(mask, size)


def check_mask_fits(mask: np.ndarray, size: tuple[int, int], tolerance: float = 0.02) -> None:
    """Refuse a mask whose aspect is not the map's (`fit_mask` scales one that fits)."""
    width, height = size
    mask_height, mask_width = mask.shape
    if (mask_width, mask_height) == (width, height):
        return
    if abs((mask_width / mask_height) / (width / height) - 1) > tolerance:
        raise ImageProblem(
            _lazy_interpolate(
                _(
                    "The mask is %(mask_width)s × %(mask_height)s pixels but the map is "
                    "%(width)s × %(height)s pixels. Please paint the mask on this map."
                ),
                {
                    "mask_width": mask_width,
                    "mask_height": mask_height,
                    "width": width,
                    "height": height,
                },
            ),
            code="size_mismatch",
            field="mask",
        )


def check_mask_box(box, map_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A mask's place on the map, (x, y, width, height) in the map's pixels, checked to lie
    inside the map; refused (ImageProblem on "mask_box") otherwise."""
    try:
        x, y, width, height = (int(value) for value in box)
    except (TypeError, ValueError) as error:
        raise _bad_box(map_size) from error
    if x < 0 or y < 0 or width < 1 or height < 1 or x + width > map_size[0] or (
            y + height > map_size[1]):
        raise _bad_box(map_size)
    return x, y, width, height


def _bad_box(map_size) -> ImageProblem:
    return ImageProblem(
        _lazy_interpolate(
            _("The mask's place must be x,y,width,height inside the map of "
              "%(width)s × %(height)s pixels."),
            {"width": map_size[0], "height": map_size[1]},
        ),
        code="bad_box", field="mask_box",
    )


def painted_box(mask: np.ndarray, mask_box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The painted region's bounding box (x0, y0, x1, y1) in the map's pixels, for a mask
    (at its own resolution) that covers `mask_box` (x, y, width, height) of the map."""
    x0, y0, x1, y1 = mask_bbox(mask)
    bx, by, bw, bh = mask_box
    sx, sy = bw / mask.shape[1], bh / mask.shape[0]
    return (bx + math.floor(x0 * sx), by + math.floor(y0 * sy),
            bx + min(bw, math.ceil(x1 * sx)), by + min(bh, math.ceil(y1 * sy)))


def mask_over(mask: np.ndarray, mask_box: tuple[int, int, int, int],
              window: tuple[int, int, int, int]) -> np.ndarray:
    """The mask's values over `window` (x0, y0, x1, y1 of the map) at the map's resolution.

    The mask (floats, at its own resolution) covers `mask_box` (x, y, width,
    height) of the map; outside it nothing is painted. Only the part of the
    mask inside the window is scaled, so a wish on a huge map never makes a
    map-sized mask.
    """
    wx0, wy0, wx1, wy1 = window
    values = np.zeros((wy1 - wy0, wx1 - wx0), np.float32)
    bx, by, bw, bh = mask_box
    ix0, iy0, ix1, iy1 = max(wx0, bx), max(wy0, by), min(wx1, bx + bw), min(wy1, by + bh)
    if ix0 >= ix1 or iy0 >= iy1:
        return values
    sx, sy = mask.shape[1] / bw, mask.shape[0] / bh  # mask pixels per map pixel
    if sx <= 1 and sy <= 1:  # scaled up: each map pixel interpolates the mask at its centre
        shift = np.float32([[sx, 0, (ix0 - bx + 0.5) * sx - 0.5], [0, sy, (iy0 - by + 0.5) * sy - 0.5]])
        part = cv2.warpAffine(mask, shift, (ix1 - ix0, iy1 - iy0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    else:  # scaled down: area averaging keeps thin strokes
        crop = mask[math.floor((iy0 - by) * sy): math.ceil((iy1 - by) * sy),
                    math.floor((ix0 - bx) * sx): math.ceil((ix1 - bx) * sx)]
        part = cv2.resize(crop, (ix1 - ix0, iy1 - iy0), interpolation=cv2.INTER_AREA)
    values[iy0 - wy0: iy1 - wy0, ix0 - wx0: ix1 - wx0] = np.clip(part, 0, 1)
    return values


def _resize_values(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float mask; area averaging when shrinking keeps thin strokes."""
    shrinking = values.shape[1] > size[0] or values.shape[0] > size[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(values, size, interpolation=interpolation)
    return np.clip(resized, 0, 1, out=resized)


def mask_bbox(mask: np.ndarray, threshold: float = PAINTED) -> tuple[int, int, int, int]:
    """The painted region's bounding box (x0, y0, x1, y1), x1 and y1 exclusive."""
    painted = np.ascontiguousarray(mask >= threshold).view(np.uint8)
    x, y, width, height = cv2.boundingRect(painted)
    if width == 0 or height == 0:
        raise EmptyMask()
    return x, y, x + width, y + height


# --- Cropping ---------------------------------------------------------------------


@dataclass(frozen=True)
class CropPlan:
    """Where the engine's picture comes from and at what size the engine paints it."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the map, x1 and y1 exclusive
    size: tuple[int, int]  # (width, height) the engine works at


def plan_crop(
    mask: np.ndarray,
    image_size: tuple[int, int],
    target_size: TargetSize,
    padding: int | None = None,
) -> CropPlan:
    """Choose the part of the map the engine sees.

    The painted region's bounding box plus `padding` (the engine needs to see
    what surrounds the region to continue it), at least MIN_CROP_SIDE a side
    and no thinner than 1:MAX_CROP_ASPECT, then widened or heightened to the
    aspect the engine works at, so the crop is not distorted. The box grows
    around the region and slides inwards where it meets the map's edge; only
    when the map itself is too small does it stay short of a size.
    """
    width, height = image_size
    if mask.shape != (height, width):
        raise ValueError(f"mask is {mask.shape[::-1]}, image is {image_size}; call fit_mask first")
    if padding is None:
        padding = settings.OLPE_CROP_PADDING
    x0, y0, x1, y1 = mask_bbox(mask)
    box = (
        max(0, x0 - padding),
        max(0, y0 - padding),
        min(width, x1 + padding),
        min(height, y1 + padding),
    )
    box_width, box_height = box[2] - box[0], box[3] - box[1]
    box = _grow(
        box,
        max(box_width, MIN_CROP_SIDE, math.ceil(box_height / MAX_CROP_ASPECT)),
        max(box_height, MIN_CROP_SIDE, math.ceil(box_width / MAX_CROP_ASPECT)),
        image_size,
    )
    box = _grow_to_engine_aspect(box, target_size, image_size)
    engine_width, engine_height = target_size(box[2] - box[0], box[3] - box[1])
    return CropPlan(box=box, size=(int(engine_width), int(engine_height)))


def _grow_to_engine_aspect(box, target_size: TargetSize, image_size) -> tuple[int, int, int, int]:
    box_width, box_height = box[2] - box[0], box[3] - box[1]
    engine_width, engine_height = target_size(box_width, box_height)
    wanted = engine_width / engine_height
    if box_width / box_height < wanted:
        return _grow(box, round(box_height * wanted), box_height, image_size)
    return _grow(box, box_width, round(box_width / wanted), image_size)


def _grow(box, width: int, height: int, image_size) -> tuple[int, int, int, int]:
    """Enlarge `box` to width × height (never shrink it), keeping it inside the map."""
    x0, x1 = _grow_span(box[0], box[2], width, image_size[0])
    y0, y1 = _grow_span(box[1], box[3], height, image_size[1])
    return x0, y0, x1, y1


def _grow_span(start: int, stop: int, length: int, limit: int) -> tuple[int, int]:
    length = min(max(length, stop - start), limit)
    start -= (length - (stop - start)) // 2
    start = min(max(start, 0), limit - length)
    return start, start + length


def crop_for_engine(
    image: Image.Image, mask: np.ndarray, plan: CropPlan
) -> tuple[Image.Image, Image.Image]:
    """The RGB crop and its "L" mask (255 = repaint, soft edges kept), both at plan.size."""
    crop = image.crop(plan.box)
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    if crop.size != plan.size:
        crop = crop.resize(plan.size, Image.Resampling.LANCZOS)
    region = _region(mask, plan.box)
    if crop.size != (region.shape[1], region.shape[0]):
        region = _resize_values(region, plan.size)
    return crop, Image.fromarray(cv2.convertScaleAbs(region, alpha=255))


def _region(mask: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return mask[y0:y1, x0:x1]


# --- Compositing --------------------------------------------------------------------


def composite(
    original: Image.Image,
    generated: Image.Image,
    mask: np.ndarray,
    plan: CropPlan,
    feather: int | None = None,
) -> Image.Image:
    """Blend the engine's picture into the map, changing only the painted region.

    Pasting the whole crop back would shift colours around the region (the
    engine re-renders every pixel it gets); instead the picture is blended
    with an alpha that is 1 where the mask is painted (>= PAINTED), follows
    the mask's own soft values, and ramps linearly to 0 over `feather` pixels
    outside it, so the seam is invisible. Every pixel whose mask is 0 and that
    lies farther than `feather` pixels from the painted region keeps its exact
    bytes. `generated` should have plan.size; it is scaled to the box.
    """
    if feather is None:
        feather = settings.OLPE_FEATHER_PX
    original = original if original.mode == "RGB" else original.convert("RGB")
    x0, y0, x1, y1 = plan.box
    alpha = _blend_alpha(_region(mask, plan.box), feather)
    left, top, width, height = cv2.boundingRect(np.ascontiguousarray(alpha > 0).view(np.uint8))
    result = original.copy()
    if width == 0:
        return result
    patch = generated if generated.mode == "RGB" else generated.convert("RGB")
    if patch.size != (x1 - x0, y1 - y0):
        patch = patch.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    changed = (x0 + left, y0 + top, x0 + left + width, y0 + top + height)
    blended = _blend(
        np.asarray(original.crop(changed)),
        np.asarray(patch.crop((left, top, left + width, top + height))),
        alpha[top : top + height, left : left + width],
    )
    result.paste(Image.fromarray(blended), changed[:2])
    return result


def _blend_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """1 on the painted core, the mask's value on its soft edge, a ramp over `feather` px."""
    unpainted = np.ascontiguousarray(mask < PAINTED).view(np.uint8)
    alpha = cv2.distanceTransform(unpainted, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    alpha *= -1 / (feather + 1)
    alpha += 1
    np.maximum(alpha, mask, out=alpha)
    return np.clip(alpha, 0, 1, out=alpha)


def _blend(before: np.ndarray, after: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """before + (after - before) * alpha; exact where alpha is 0 (integers in float32)."""
    blended = after.astype(np.float32)
    blended -= before
    blended *= alpha[..., np.newaxis]
    blended += before
    np.rint(blended, out=blended)
    return np.clip(blended, 0, 255, out=blended).astype(np.uint8)


def to_png_bytes(image: Image.Image, compress_level: int | None = None) -> bytes:
    """Encode a picture as PNG, without metadata carried over from the upload.

    `compress_level` is zlib's (0-9; None: Pillow's default, 6). Results use
    OLPE_RESULT_PNG_LEVEL (`result_png_bytes`): a full-size map at level 6
    costs seconds, at level 1 a fifth of that, for a slightly larger file.
    """
    buffer = io.BytesIO()
    options = {} if compress_level is None else {"compress_level": compress_level}
    image.save(buffer, format="PNG", icc_profile=None, **options)
    return buffer.getvalue()


def result_png_bytes(image: Image.Image, painted_on=None) -> bytes:
    """A job's result as PNG at OLPE_RESULT_PNG_LEVEL (lossless: pixels as painted).

    RGB results are written in bands (`png_bands`), compressed in threads;
    `painted_on` is an optional (map pixels, `BandedPNG` of the map) pair of
    the map the result was painted on, whose unchanged bands are reused.
    """
    if image.mode != "RGB":
        return to_png_bytes(image, compress_level=settings.OLPE_RESULT_PNG_LEVEL)
    pixels = np.asarray(image)
    if painted_on is not None:
        original, bands = painted_on
        if original.shape == pixels.shape and bands.level == settings.OLPE_RESULT_PNG_LEVEL:
            return bands.encode_changed(original, pixels)
    return BandedPNG.of(pixels, level=settings.OLPE_RESULT_PNG_LEVEL).encode()
