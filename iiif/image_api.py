"""The IIIF Image API 3.0, level 2: reading an image request and describing an image.

An image request is `{region}/{size}/{rotation}/{quality}.{format}` after the
image's base URI (https://iiif.io/api/image/3.0/). `parse` turns it, for a
picture of a given size, into an `ImageRequest` the renderer follows (region
in pixels, output size, mirroring, a turn by a multiple of 90°, quality,
format), or raises `RequestProblem` with the status the specification asks
for: 400 for what is malformed or out of bounds (a region outside the
picture, a size above the region without `^`, above `maxWidth`/`maxHeight`,
or under a pixel), and 400 for rotations, qualities and formats this server
does not offer. `info` is the image information document (`info.json`).

Served: regions `full`, `square`, `x,y,w,h`, `pct:x,y,w,h`; sizes `max`,
`w,`, `,h`, `pct:n`, `w,h`, `!w,h`, each also with `^` (upscaling within the
limits); rotations 0, 90, 180, 270, each also mirrored (`!`); qualities
`default`, `color`, `gray`, `bitonal`; formats `jpg`, `png`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from inpainting_core.pyramids import FORMATS, QUALITIES

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
PROFILE = "level2"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
SMALLEST_SIZE = 48  # the smallest whole picture info.json offers (its long side)
TILE_SIDE = 512  # the tiles info.json offers (clients ask for them; the pyramid's are smaller)
# Beyond level 2: what else this server does (the level's own features are implied).
EXTRA_FEATURES = [
    "canonicalLinkHeader", "mirroring", "profileLinkHeader", "sizeUpscaling",
]
ROTATIONS = (0, 90, 180, 270)

_NUMBER = r"\d+(?:\.\d+)?"
_REGION_PX = re.compile(r"^(\d+),(\d+),(\d+),(\d+)$")
_REGION_PCT = re.compile(rf"^pct:({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})$")
_SIZE_W = re.compile(r"^(\d+),$")
_SIZE_H = re.compile(r"^,(\d+)$")
_SIZE_WH = re.compile(r"^(!?)(\d+),(\d+)$")
_SIZE_PCT = re.compile(rf"^pct:({_NUMBER})$")
_ROTATION = re.compile(rf"^(!?)({_NUMBER})$")


class RequestProblem(ValueError):
    """An image request this server answers with an error: `status` and a plain reason."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class ImageRequest:
    region: tuple[int, int, int, int]  # x, y, w, h in pixels of the full picture
    size: tuple[int, int]  # width, height of the answer before rotation
    mirror: bool
    rotation: int  # clockwise degrees, a multiple of 90
    quality: str
    format: str

    @property
    def content_type(self) -> str:
        return FORMATS[self.format]

    def canonical(self, picture_size: tuple[int, int], limits: Limits) -> str:
        """The request in the specification's canonical form (section 4.8)."""
        x, y, w, h = self.region
        region = "full" if self.region == (0, 0, *picture_size) else f"{x},{y},{w},{h}"
        upscaled = self.size[0] > w or self.size[1] > h
        if self.size == limits.fit((w, h), upscale=False):
            size = "max"
        elif upscaled and self.size == limits.fit((w, h), upscale=True):
            size = "^max"
        else:
            size = f"{'^' if upscaled else ''}{self.size[0]},{self.size[1]}"
        rotation = f"{'!' if self.mirror else ''}{self.rotation}"
        return f"{region}/{size}/{rotation}/{self.quality}.{self.format}"


@dataclass(frozen=True)
class Limits:
    """The largest answer: `max_side` a side (info.json's maxWidth and maxHeight)."""

    max_side: int

    def fit(self, size: tuple[int, int], *, upscale: bool) -> tuple[int, int]:
        """`size` scaled to the largest size within the limits, keeping its aspect; without
        `upscale` never larger than `size` itself."""
        width, height = size
        scale = self.max_side / max(width, height)
        if not upscale:
            scale = min(1.0, scale)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def check(self, size: tuple[int, int]) -> None:
        if max(size) > self.max_side:
            raise RequestProblem(
                f"The size {size[0]},{size[1]} is larger than this server's limit "
                f"(maxWidth and maxHeight {self.max_side})."
            )


def parse(region: str, size: str, rotation: str, quality: str, format: str,
          picture_size: tuple[int, int], limits: Limits) -> ImageRequest:
    box = parse_region(region, picture_size)
    mirror, degrees = parse_rotation(rotation)
    if quality not in QUALITIES:
        raise RequestProblem(f"The quality “{quality}” is not offered; use one of "
                             f"{', '.join(QUALITIES)}.")
    if format not in FORMATS:
        raise RequestProblem(f"The format “{format}” is not offered; use one of "
                             f"{', '.join(FORMATS)}.")
    return ImageRequest(
        region=box, size=parse_size(size, box[2:], limits), mirror=mirror, rotation=degrees,
        quality=quality, format=format,
    )


def parse_region(text: str, picture_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The region in pixels, cut at the picture's edges (section 4.1)."""
    width, height = picture_size
    if text == "full":
        return 0, 0, width, height
    if text == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    if match := _REGION_PX.match(text):
        x, y, w, h = (int(value) for value in match.groups())
    elif match := _REGION_PCT.match(text):
        px, py, pw, ph = (float(value) for value in match.groups())
        x, y = math.floor(px * width / 100), math.floor(py * height / 100)
        w, h = round(pw * width / 100), round(ph * height / 100)
    else:
        raise RequestProblem(f"The region “{text}” is not one of full, square, x,y,w,h or "
                             "pct:x,y,w,h.")
    if w <= 0 or h <= 0:
        raise RequestProblem(f"The region “{text}” has no width or height.")
    if x >= width or y >= height:
        raise RequestProblem(
            f"The region “{text}” lies outside the picture ({width} × {height} pixels).")
    return x, y, min(w, width - x), min(h, height - y)


def parse_size(text: str, region_size: tuple[int, int], limits: Limits) -> tuple[int, int]:
    """The answer's size for a region of `region_size` (section 4.2)."""
    upscale = text.startswith("^")
    body = text[1:] if upscale else text
    width, height = region_size
    if body == "max":
        size = limits.fit(region_size, upscale=upscale)
    elif match := _SIZE_W.match(body):
        w = int(match[1])
        size = (w, max(1, round(height * w / width)))
    elif match := _SIZE_H.match(body):
        h = int(match[1])
        size = (max(1, round(width * h / height)), h)
    elif match := _SIZE_PCT.match(body):
        share = float(match[1]) / 100
        size = (round(width * share), round(height * share))
    elif match := _SIZE_WH.match(body):
        w, h = int(match[2]), int(match[3])
        if match[1]:  # !w,h: as large as fits in w × h, keeping the aspect
            scale = min(w / width, h / height)
            if not upscale:
                scale = min(scale, 1.0)
            size = limits.fit((max(1, math.floor(width * scale)), max(1, math.floor(height * scale))),
                              upscale=False)
        else:
            size = (w, h)
    else:
        raise RequestProblem(f"The size “{text}” is not one of max, w,, ,h, pct:n, w,h or !w,h "
                             "(each optionally with ^).")
    if size[0] < 1 or size[1] < 1:
        raise RequestProblem(f"The size “{text}” is less than one pixel.")
    if not upscale and (size[0] > width or size[1] > height):
        raise RequestProblem(
            f"The size “{text}” is larger than the region ({width} × {height} pixels); "
            "ask with ^ to scale it up.")
    limits.check(size)
    return size


def parse_rotation(text: str) -> tuple[bool, int]:
    match = _ROTATION.match(text)
    if not match:
        raise RequestProblem(f"The rotation “{text}” is not a number of degrees (n or !n).")
    degrees = float(match[2])
    if degrees > 360:
        raise RequestProblem(f"The rotation “{text}” is more than 360 degrees.")
    turn = int(degrees) % 360
    if degrees != int(degrees) or turn not in ROTATIONS:
        raise RequestProblem(f"The rotation “{text}” is not offered; use a multiple of 90.")
    return bool(match[1]), turn


def scale_factors(picture_size: tuple[int, int], tile: int = TILE_SIDE) -> list[int]:
    """1, 2, 4, … until one tile holds the whole picture."""
    factors, factor = [1], 1
    while max(picture_size) / factor > tile:
        factor *= 2
        factors.append(factor)
    return factors


def info(base_uri: str, picture_size: tuple[int, int], level_sizes: list[tuple[int, int]],
         limits: Limits, *, rights: str = "") -> dict:
    """The image information document (section 5) of a picture.

    `level_sizes` are the sizes it is stored at (its pyramid's levels): they
    are offered as `sizes`, the cheapest whole pictures to ask for, with
    halvings of the smallest down to thumbnails of SMALLEST_SIZE.
    """
    width, height = picture_size
    levels = set(level_sizes)
    smallest = min(levels, key=max, default=picture_size)
    while max(smallest) // 2 >= SMALLEST_SIZE:
        smallest = (max(1, smallest[0] // 2), max(1, smallest[1] // 2))
        levels.add(smallest)
    sizes = sorted(size for size in levels if max(size) <= limits.max_side)
    document = {
        "@context": CONTEXT,
        "id": base_uri,
        "type": "ImageService3",
        "protocol": PROTOCOL,
        "profile": PROFILE,
        "width": width,
        "height": height,
        "maxWidth": limits.max_side,
        "maxHeight": limits.max_side,
        "sizes": [{"width": w, "height": h} for w, h in sizes],
        "tiles": [{"width": TILE_SIDE, "height": TILE_SIDE,
                   "scaleFactors": scale_factors(picture_size)}],
        "extraFeatures": EXTRA_FEATURES,
    }
    if rights:
        document["rights"] = rights
    return document
