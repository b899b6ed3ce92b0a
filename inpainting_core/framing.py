"""The change's frame: where a result differs from its map, and the part of the map to show first.

A castle painted on 3 % of a 2048² map is a few pixels wide when the whole map
is scaled down to a gallery card. Every place that shows a creation (gallery
cards, the creation's page, the wall, the kiosk's result, the curators' desk)
therefore shows its frame first: the box of what changed, grown for context and
widened to the card's shape. It is computed once, when the result is stored
(`pipeline.generate`), and kept with the job and the creation as a small dict
(`Frame.as_dict`); `frame_from_pictures` finds it again from stored pictures for
results made before frames were kept.

Boxes are (left, top, right, bottom) in the map's pixels, right and bottom
exclusive, as `masks.mask_bbox` gives them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

from inpainting_core import imaging, masks

Box = tuple[int, int, int, int]

# The gallery card's shape (width / height): static/css/gallery.css draws cards at 4 / 3.
FRAME_ASPECT = 4 / 3
# The frame is the change grown by this share of its own size (a quarter on each side).
CONTEXT = 0.5
# Even a dab of paint is shown with at least this many map pixels a side around it.
MIN_FRAME_SIDE = 256
# A pixel counts as changed when a channel differs by more than this (of 255): the feathered
# edge's faintest blend and a JPEG map's decoding noise are not a change.
CHANGED_LEVEL = 8


@dataclass(frozen=True)
class Frame:
    """Where a result changed its map (`change`), and the part of it to show first (`box`)."""

    box: Box
    change: Box
    size: tuple[int, int]  # the map's (width, height)

    @classmethod
    def whole(cls, size: tuple[int, int]) -> Frame:
        """The frame of a result whose change is unknown: the whole map."""
        whole = (0, 0, int(size[0]), int(size[1]))
        return cls(box=whole, change=whole, size=(int(size[0]), int(size[1])))

    @classmethod
    def from_dict(cls, stored: Any) -> Optional[Frame]:
        """The frame kept as `as_dict` made it; None for anything else (missing, damaged)."""
        try:
            frame = cls(
                box=_box(stored["box"]), change=_box(stored["change"]),
                size=(int(stored["size"][0]), int(stored["size"][1])),
            )
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return frame if frame._valid() else None

    def as_dict(self) -> dict:
        return {"box": list(self.box), "change": list(self.change), "size": list(self.size)}

    def _valid(self) -> bool:
        width, height = self.size
        return width > 0 and height > 0 and all(
            0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
            for box in (self.box, self.change)
        )

    @property
    def is_whole(self) -> bool:
        return self.box == (0, 0, *self.size)

    @property
    def zoom(self) -> float:
        """How many times larger the frame shows the map than the whole map does."""
        return min(self.size[0] / (self.box[2] - self.box[0]),
                   self.size[1] / (self.box[3] - self.box[1]))

    @property
    def change_share(self) -> float:
        """The change's box as a share of the map's area."""
        left, top, right, bottom = self.change
        return (right - left) * (bottom - top) / (self.size[0] * self.size[1])

    def fitted(self, size: tuple[int, int]) -> Frame:
        """The same frame for a picture of another size (a map stored at another scale)."""
        if tuple(size) == self.size:
            return self
        scale_x, scale_y = size[0] / self.size[0], size[1] / self.size[1]

        def scaled(box: Box) -> Box:
            left, top = math.floor(box[0] * scale_x), math.floor(box[1] * scale_y)
            return (min(left, size[0] - 1), min(top, size[1] - 1),
                    max(left + 1, min(size[0], math.ceil(box[2] * scale_x))),
                    max(top + 1, min(size[1], math.ceil(box[3] * scale_y))))

        return Frame(box=scaled(self.box), change=scaled(self.change),
                     size=(int(size[0]), int(size[1])))

    def percent(self, box: Optional[Box] = None) -> dict:
        """`box` (the frame's own by default) in percent of the map: for CSS and SVG."""
        left, top, right, bottom = self.box if box is None else box
        width, height = self.size
        return {
            "left": 100 * left / width, "top": 100 * top / height,
            "width": 100 * (right - left) / width, "height": 100 * (bottom - top) / height,
        }


def _box(values) -> Box:
    left, top, right, bottom = (int(value) for value in values)
    return left, top, right, bottom


# --- finding the frame ------------------------------------------------------------------


def find_frame(
    before: Image.Image | np.ndarray,
    after: Image.Image | np.ndarray,
    mask: Optional[np.ndarray] = None,
    *,
    within: Optional[Box] = None,
) -> Frame:
    """The frame of `after` painted on `before` (same size); `mask` as `masks.normalise_mask`
    gives it, at the map's size.

    The change is the mask's box together with the box of the pixels that changed;
    only `within` is compared when given (the worker passes the box the engine
    painted, outside of which nothing changes). A result identical to its map with
    no mask has no change to show: its frame is the whole map.
    """
    size = _size(after)
    if _size(before) != size:
        raise ValueError(f"before is {_size(before)}, after is {size}")
    region = within or (0, 0, *size)
    boxes = [changed_box(_pixels(before, region), _pixels(after, region), offset=region[:2])]
    if mask is not None:
        try:
            boxes.append(masks.mask_bbox(masks.fit_mask(mask, size)))
        except imaging.ImageProblem:  # nothing painted, or a mask of another map's shape
            pass
    boxes = [box for box in boxes if box is not None]
    if not boxes:
        return Frame.whole(size)
    change = (min(box[0] for box in boxes), min(box[1] for box in boxes),
              max(box[2] for box in boxes), max(box[3] for box in boxes))
    return Frame(box=frame_around(change, size), change=change, size=size)


def changed_box(before: np.ndarray, after: np.ndarray, *, offset: tuple[int, int] = (0, 0)
                ) -> Optional[Box]:
    """The box of the pixels where `after` differs from `before` (moved by `offset`, where
    the two are cut from a larger map); None where none does."""
    difference = cv2.absdiff(np.ascontiguousarray(before), np.ascontiguousarray(after))
    if difference.ndim == 3:
        difference = difference.max(axis=2)
    changed = np.ascontiguousarray(difference > CHANGED_LEVEL).view(np.uint8)
    x, y, width, height = cv2.boundingRect(changed)
    if width == 0 or height == 0:
        return None
    left, top = offset
    return left + x, top + y, left + x + width, top + y + height


def frame_around(change: Box, size: tuple[int, int], *, aspect: float = FRAME_ASPECT,
                 context: float = CONTEXT, min_side: int = MIN_FRAME_SIDE) -> Box:
    """`change` grown by `context` of its size, at least `min_side` a side, widened or
    heightened to `aspect`, and moved inside the map; the map's own side limits it."""
    width = max((change[2] - change[0]) * (1 + context), min_side)
    height = max((change[3] - change[1]) * (1 + context), min_side)
    if width / height < aspect:
        width = height * aspect
    else:
        height = width / aspect
    left, right = _span(change[0], change[2], math.ceil(width), size[0])
    top, bottom = _span(change[1], change[3], math.ceil(height), size[1])
    return left, top, right, bottom


def _span(start: int, stop: int, length: int, limit: int) -> tuple[int, int]:
    """`length` around the middle of start..stop, moved inwards at the map's edges."""
    length = min(length, limit)
    first = round((start + stop - length) / 2)
    first = min(max(first, 0), limit - length)
    return first, first + length


def _size(picture: Image.Image | np.ndarray) -> tuple[int, int]:
    if isinstance(picture, np.ndarray):
        return picture.shape[1], picture.shape[0]
    return picture.size


def _pixels(picture: Image.Image | np.ndarray, region: Box) -> np.ndarray:
    """The pixels of `region`; a picture is cut before it is copied into an array."""
    if isinstance(picture, np.ndarray):
        return picture[region[1]:region[3], region[0]:region[2]]
    if picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    return np.asarray(picture.crop(region))


# --- the painted outline ----------------------------------------------------------------

# The outline is drawn over pictures a few hundred pixels wide: corners closer than this
# share of the frame's side to the traced edge are dropped.
OUTLINE_TOLERANCE = 1 / 400
# At most this many areas are outlined (largest first): a wish painted in many dabs.
MAX_OUTLINES = 40


def outline_of_mask(mask: np.ndarray, box: Box, size: tuple[int, int]
                    ) -> Optional[list[list[tuple[int, int]]]]:
    """The outline of the mask's painted region inside `box` (the mask scaled to the map's
    `size`), as polygons of map pixels; None where the mask shows no paint there."""
    mask = masks.fit_mask(mask, size)
    left, top, right, bottom = box
    painted = np.ascontiguousarray(mask[top:bottom, left:right] >= masks.PAINTED)
    return _polygons(painted, box) if painted.any() else None


def outline_of_change(
    before: Image.Image | np.ndarray, after: Image.Image | np.ndarray, box: Box
) -> list[list[tuple[int, int]]]:
    """The outline of the pixels that changed inside `box`, closed over small gaps (an
    engine may leave some painted pixels as they were): for results whose mask is gone."""
    left, top, right, bottom = box
    difference = cv2.absdiff(np.ascontiguousarray(_pixels(before, box)),
                             np.ascontiguousarray(_pixels(after, box)))
    if difference.ndim == 3:
        difference = difference.max(axis=2)
    gap = max(3, round(max(right - left, bottom - top) / 150)) | 1
    painted = cv2.morphologyEx(np.ascontiguousarray(difference > CHANGED_LEVEL).view(np.uint8),
                               cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (gap, gap)))
    return _polygons(painted, box)


def _polygons(painted: np.ndarray, box: Box) -> list[list[tuple[int, int]]]:
    left, top, right, bottom = box
    contours, _hierarchy = cv2.findContours(
        np.ascontiguousarray(painted).view(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE
    )
    tolerance = max(1.0, OUTLINE_TOLERANCE * max(right - left, bottom - top))
    smallest = tolerance * tolerance * 4
    contours = sorted((c for c in contours if cv2.contourArea(c) >= smallest),
                      key=cv2.contourArea, reverse=True)[:MAX_OUTLINES]
    return [
        [(int(x) + left, int(y) + top) for [[x, y]] in cv2.approxPolyDP(contour, tolerance, True)]
        for contour in contours
    ]


# --- from stored pictures ----------------------------------------------------------------


def frame_from_pictures(before_source, after_source, mask_source=None) -> Frame:
    """The frame of a result kept before frames were: its map, its result and, when still
    there, its mask (file objects or bytes), decoded as the worker decodes them.

    Raises `imaging.ImageProblem` for a picture that cannot be read.
    """
    after = imaging.open_image(after_source, max_pixels=_no_limit())
    before = imaging.open_image(before_source, max_pixels=_no_limit())
    if before.size != after.size:
        before = before.resize(after.size, Image.Resampling.BILINEAR)
    mask = None
    if mask_source is not None:
        mask = masks.normalise_mask(imaging.open_mask(mask_source, max_pixels=_no_limit()))
    return find_frame(before, after, mask)


def _no_limit() -> int:
    """Stored pictures passed the checks when they came: a World's map may be the largest."""
    return max(settings.OLPE_MAX_IMAGE_PIXELS, settings.OLPE_MAX_WORLD_PIXELS)
