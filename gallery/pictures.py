"""Pictures made from a creation's before and after pictures, framed on its change.

Every place that shows a creation shows its frame first (inpainting_core/framing.py):
the gallery's cards, the creation's page, the API's thumbnails, the admin's list
and the curators' desk. Each picture here is cut from the full-resolution
before or after picture, made smaller (never larger), and kept beside the
creation's pictures on first use, so deleting the creation deletes them too.
The frame is part of each name: a creation whose frame was filled in later
never serves a picture made before.

Who may see them is the caller's business (gallery/views.py for everyone,
gallery/admin.py for staff); this module only makes and opens them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from dataclasses import dataclass
from typing import Optional

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext
from PIL import Image, ImageDraw, ImageFont, ImageOps

from gallery.creations import creation_folder
from gallery.models import Creation
from inpainting_core import framing, imaging, masks
from inpainting_core.framing import Frame
from museum import thumbnails

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One kind of picture made from a creation."""

    which: str  # "before" or "after"
    framed: bool  # the frame, or the whole map
    side: int  # at most this many pixels a side
    format: str = "JPEG"
    quality: int = 85

    @property
    def extension(self) -> str:
        return "png" if self.format == "PNG" else "jpg"

    @property
    def content_type(self) -> str:
        return "image/png" if self.format == "PNG" else "image/jpeg"


# What each place asks for. Cards are about 15–25rem wide; the frame's pictures fill a
# creation's page on a phone and half the curators' desk on a full-HD screen.
KINDS = {
    "thumb": Kind("after", framed=True, side=480, quality=82),
    "thumb-before": Kind("before", framed=True, side=480, quality=82),
    "small-before": Kind("before", framed=True, side=200, quality=80),
    "small-after": Kind("after", framed=True, side=200, quality=80),
    "frame-before": Kind("before", framed=True, side=1600, quality=90),
    "frame-after": Kind("after", framed=True, side=1600, quality=90),
    "detail": Kind("after", framed=True, side=8192, format="PNG"),
    "whole-before": Kind("before", framed=False, side=1600, quality=88),
    "whole-after": Kind("after", framed=False, side=1600, quality=88),
    "overview": Kind("after", framed=False, side=400, quality=80),
}

POSTCARD_SIZE = (1200, 630)  # what Open Graph previews show best (1.91:1)
POSTCARD_QUALITY = 88


# --- the frame --------------------------------------------------------------------------


def frame_of(creation: Creation) -> Frame:
    """The creation's stored frame, or the whole map where none is kept."""
    frame = Frame.from_dict(creation.frame)
    if frame is not None:
        return frame
    try:
        return Frame.whole(picture_size(creation.after_image))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        logger.warning("Creation %s: its after picture cannot be read: %s", creation.pk, error)
        return Frame.whole((1, 1))  # nothing to frame; its pictures answer 404


def picture_size(picture) -> tuple[int, int]:
    """The picture's size as it is shown (EXIF orientation applied), read from its header."""
    with picture.open("rb") as handle:
        return imaging.shown_size(handle)


# --- pictures of one kind ---------------------------------------------------------------


def name_of(creation: Creation, kind_name: str, frame: Optional[Frame] = None) -> str:
    kind = KINDS[kind_name]
    if kind.framed:
        frame = frame or frame_of(creation)
        place = "whole" if frame.is_whole else "-".join(str(value) for value in frame.box)
    else:
        place = "whole"
    filename = f"{kind.which}-{place}-{kind.side}.{kind.extension}"
    return posixpath.join(creation_folder(creation), filename)


# Made together, from one decoding of their picture, when the first of them is asked for:
# what the gallery's cards, the admin's list and the curators' desk show of a creation.
TOGETHER = ("thumb", "thumb-before", "small-before", "small-after", "frame-before",
            "frame-after", "overview")


def open_picture(creation: Creation, kind_name: str):
    """The open picture of kind `kind_name`, made first if it is not kept yet (and with it
    the other pictures of TOGETHER that come from the same picture)."""
    kind = KINDS[kind_name]
    picture = getattr(creation, f"{kind.which}_image")
    frame = frame_of(creation)
    storage = picture.storage
    name = name_of(creation, kind_name, frame)
    if not storage.exists(name):
        siblings = [other for other in TOGETHER if other != kind_name
                    and KINDS[other].which == kind.which]
        wanted = [kind_name, *(other for other in siblings
                               if not storage.exists(name_of(creation, other, frame)))]
        with picture.open("rb") as handle, Image.open(handle) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")  # as the worker read the map
        for making in wanted:
            thumbnails.store_atomically(
                storage, name_of(creation, making, frame), _render(image, KINDS[making], frame)
            )
    return storage.open(name, "rb")


def _render(image: Image.Image, kind: Kind, frame: Frame) -> bytes:
    box = None
    if kind.framed and not frame.is_whole:
        box = frame.fitted(image.size).box  # a map kept at another scale than the result
    return thumbnails.encode(
        thumbnails.shrunk(image, kind.side, box),
        format=kind.format, quality=kind.quality,
    )


# --- the painted outline ----------------------------------------------------------------


def outline(creation: Creation) -> list[list[tuple[int, int]]]:
    """The outline of what was painted (polygons of map pixels), found once and kept."""
    storage = creation.after_image.storage
    frame = frame_of(creation)
    name = posixpath.join(creation_folder(creation),
                          "outline-" + "-".join(str(v) for v in frame.box) + ".json")

    def make() -> bytes:
        return json.dumps(_traced_outline(creation, frame)).encode()

    with thumbnails.open_made(storage, name, make) as handle:
        return [[tuple(point) for point in polygon] for polygon in json.load(handle)]


def _traced_outline(creation: Creation, frame: Frame) -> list:
    """The mask's outline while the job keeps its mask (no picture is decoded for it), else
    the outline of the pixels that changed."""
    mask = _mask(creation)
    if mask is not None:
        polygons = framing.outline_of_mask(mask, frame.box, frame.size)
        if polygons is not None:
            return polygons
    after = _decoded(creation.after_image)
    before = _decoded(creation.before_image)
    if before.size != after.size:
        before = before.resize(after.size, Image.Resampling.BILINEAR)
    return framing.outline_of_change(before, after, frame.fitted(after.size).box)


def _decoded(picture) -> Image.Image:
    with picture.open("rb") as handle:
        return imaging.open_image(handle, max_pixels=_largest())


def _mask(creation: Creation):
    """The job's mask while the job keeps it; without it the changed pixels are outlined."""
    job = creation.job
    if job is None or not job.mask_image:
        return None
    try:
        with job.mask_image.open("rb") as handle:
            return masks.normalise_mask(imaging.open_mask(handle, max_pixels=_largest()))
    except (OSError, imaging.ImageProblem):
        return None


def _largest() -> int:
    return max(settings.OLPE_MAX_IMAGE_PIXELS, settings.OLPE_MAX_WORLD_PIXELS)


# --- the postcard -----------------------------------------------------------------------


def postcard_name(creation: Creation) -> str:
    """Its name changes with what it shows, so a curator's new title makes a new card."""
    shown = [creation.title, creation.prompt_original, creation.visitor_name if creation.consent
             else "", creation.created_at.isoformat(), creation.frame, settings.LANGUAGE_CODE]
    digest = hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()[:12]
    return posixpath.join(creation_folder(creation), f"postcard-{digest}.jpg")


def open_postcard(creation: Creation):
    """The share picture: before and after of the frame side by side, the title, the wish,
    the museum and the date, in the museum's language (LANGUAGE_CODE)."""
    return thumbnails.open_made(
        creation.after_image.storage, postcard_name(creation), lambda: _postcard(creation)
    )


def _postcard(creation: Creation) -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        return thumbnails.encode(
            Postcard(creation).draw(), format="JPEG", quality=POSTCARD_QUALITY
        )


class Postcard:
    """1200 × 630: the two pictures on top, the story below."""

    MARGIN = 36
    GAP = 20
    PAPER = (246, 243, 236)
    INK = (27, 31, 35)
    MUTED = (84, 88, 94)  # 6.6:1 on the paper
    ACCENT = (242, 169, 0)

    def __init__(self, creation: Creation):
        self.creation = creation
        self.frame = frame_of(creation)

    def draw(self) -> Image.Image:
        width, height = POSTCARD_SIZE
        card = Image.new("RGB", POSTCARD_SIZE, self.PAPER)
        draw = ImageDraw.Draw(card)
        picture_width = (width - 2 * self.MARGIN - self.GAP) // 2
        picture_height = picture_width * 3 // 4
        labels = (gettext("Before"), gettext("After"))
        for index, (kind_name, label) in enumerate(zip(("frame-before", "frame-after"), labels, strict=True)):
            left = self.MARGIN + index * (picture_width + self.GAP)
            with open_picture(self.creation, kind_name) as handle, Image.open(handle) as picture:
                fitted = ImageOps.fit(picture.convert("RGB"), (picture_width, picture_height),
                                      Image.Resampling.LANCZOS)
            card.paste(fitted, (left, self.MARGIN))
            self._label(draw, label, (left + 12, self.MARGIN + 12))
        text_top = self.MARGIN + picture_height + 22
        self._story(draw, text_top, width - 2 * self.MARGIN)
        draw.rectangle((0, height - 8, width, height), fill=self.ACCENT)
        return card

    def _label(self, draw: ImageDraw.ImageDraw, text: str, at: tuple[int, int]) -> None:
        font = _font(22, bold=True)
        left, top, right, bottom = draw.textbbox(at, text, font=font)
        draw.rounded_rectangle((left - 12, top - 7, right + 12, bottom + 7), radius=16,
                               fill=(27, 31, 35))
        draw.text(at, text, font=font, fill=(255, 255, 255))

    def _story(self, draw: ImageDraw.ImageDraw, top: int, width: int) -> None:
        creation = self.creation
        museum = gettext("Stadtmuseum Olpe")
        project = gettext("Alternative World Histories")
        date = formats.date_format(timezone.localtime(creation.created_at), "DATE_FORMAT")
        byline = " · ".join(part for part in (
            creation.visitor_name if creation.consent else "", date) if part)
        right_font, small_font = _font(26, bold=True), _font(20)
        side = max(draw.textlength(museum, font=right_font),
                   draw.textlength(project, font=small_font),
                   draw.textlength(byline, font=small_font))
        right = self.MARGIN + width
        draw.text((right - side, top), museum, font=right_font, fill=self.INK)
        draw.text((right - side, top + 36), project, font=small_font, fill=self.MUTED)
        draw.text((right - side, top + 64), byline, font=small_font, fill=self.MUTED)
        text_width = width - side - 30
        wish = f"„{creation.prompt_original}“"
        if creation.title:
            title_font = _font(34, bold=True)
            draw.text((self.MARGIN, top - 4), _fitted(draw, creation.title, title_font, text_width),
                      font=title_font, fill=self.INK)
            wish_font = _font(24)
            draw.text((self.MARGIN, top + 44), _fitted(draw, wish, wish_font, text_width),
                      font=wish_font, fill=self.MUTED)
        else:
            wish_font = _font(30, bold=True)
            for line_number, line in enumerate(_lines(draw, wish, wish_font, text_width, 2)):
                draw.text((self.MARGIN, top - 4 + line_number * 40), line, font=wish_font,
                          fill=self.INK)


def _font(size: int, *, bold: bool = False):
    """DejaVu Sans (Debian's fonts-dejavu-core, found by name), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def _fitted(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> str:
    """`text` on one line of `width`, shortened with an ellipsis if it is longer."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _lines(draw: ImageDraw.ImageDraw, text: str, font, width: float, count: int) -> list[str]:
    """`text` wrapped at spaces into at most `count` lines of `width`, the last one shortened."""
    lines, words = [], text.split()
    while words and len(lines) < count:
        line = words.pop(0)
        while words and draw.textlength(f"{line} {words[0]}", font=font) <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(line)
    if words:
        lines[-1] = _fitted(draw, f"{lines[-1]} {' '.join(words)}", font, width - 1)
    return [_fitted(draw, line, font, width) for line in lines]
