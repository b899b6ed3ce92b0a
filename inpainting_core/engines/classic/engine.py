"""The classic engine itself: survey, gather, synthesise, blend (see the package's doc)."""

from __future__ import annotations

import zlib
from typing import Optional

import numpy as np
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from PIL import Image

from inpainting_core import glossary, landcover
from inpainting_core.engines import CLASSIC, LABELS
from inpainting_core.engines.base import (
    CancelCheck,
    Engine,
    EngineRequest,
    EngineResult,
    EngineStatus,
    ProgressCallback,
    check_cancel,
)
from inpainting_core.engines.classic import shapes, style
from inpainting_core.engines.classic.healing import heal_crop
from inpainting_core.engines.classic.quilting import (
    _laid_over,
    _padded_bbox,
    _visible_core,
    blend,
    gather_exemplars,
    gather_where,
    quilt,
    ragged_edge,
    synthesise,
)
from inpainting_core.engines.classic.reading import COVER_INDEX, Survey, survey_map
from inpainting_core.engines.classic.scale import (
    REFERENCE_METRES_PER_PIXEL,
    estimate_scale,
    zoom_for,
)
from inpainting_core.engines.classic.sites import MapTextures
from inpainting_core.engines.classic.structures import STRUCTURES, Site, add_harbour
from inpainting_core.engines.classic.subjects import (
    EXEMPLAR,
    NATURAL,
    Subject,
    subject_for,
    subject_of_cover,
)
from inpainting_core.engines.classic.water import paint_water

# Roads are lines on a map: windows of pure road are rare and mostly town streets with
# gardens, so a wished road is always painted (as asphalt in the map's road colour).
ALWAYS_PAINTED = (landcover.ROAD,)
PHASES = 4  # survey and read the wish, scale and street direction, synthesise, blend


class ClassicEngine(Engine):
    """Texture from the same map, procedural painting where the map has none; see module doc."""

    name = CLASSIC
    label = LABELS[CLASSIC]

    def status(self) -> EngineStatus:
        return self._usable()

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        max_side = int(settings.OLPE_CLASSIC_MAX_SIDE)
        if max(width, height) <= max_side:
            return width, height
        scale = max_side / max(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def inpaint(
        self,
        request: EngineRequest,
        progress: Optional[ProgressCallback] = None,
        should_cancel: Optional[CancelCheck] = None,
    ) -> EngineResult:
        crop = np.asarray(request.image.convert("RGB"))
        alpha = np.asarray(request.mask.convert("L"), np.float32) / 255.0
        seed = seed_for(request)
        rng = np.random.default_rng(seed)
        report = _Reporter(progress, should_cancel)
        if not (alpha > 0).any():
            return EngineResult(request.image.convert("RGB"), seed)

        report.start()
        notes: list[str] = []
        scale_notes: list[str] = []
        mpp = crop_metres_per_pixel(request, crop, scale_notes)
        survey = survey_map(crop, alpha > 0, request.context, request.crop_box, mpp)
        subject, covers = read_wish(request, survey, notes)
        notes += scale_notes
        drawn = request.map_kind == HISTORIC or style.is_drawn(survey.small)
        report.done(None)

        box = _padded_bbox(alpha > 0, crop.shape[:2], margin=3)
        region = _visible_core(alpha[box])
        angle = shapes.street_angle(crop[box], region)
        painting = _Painting(crop, alpha, box, region, survey, rng, mpp, angle, notes, request)
        report.done(None)

        if drawn:
            painting.drawn(subject, covers[0])
        else:
            painting.photo(subject, covers)
        report.done(_preview(_laid_over(crop, painting.fill, painting.alpha, box)))

        alpha = ragged_edge(covers[0], painting.alpha, painting.fill, box) if not drawn else painting.alpha
        result = blend(crop, painting.fill, alpha, box, band=painting.blend_band)
        report.done(_preview(result))
        return EngineResult(Image.fromarray(result), seed, tuple(notes))


HISTORIC = "historic"


def read_wish(request: EngineRequest, survey: Survey, notes: list) -> tuple[Optional[Subject], tuple[str, ...]]:
    """The wish's subject (or None) and land covers, main first; says what it cannot paint."""
    text = request.subject or request.prompt
    subject, keyword = subject_for(text)
    known = tuple(dict.fromkeys(c for c in request.land_covers if c in COVER_INDEX))
    if subject is None and not known:
        if text.strip():
            notes.append(_("The offline painter cannot paint “%(wish)s”; it filled the painted area "
                           "with what surrounds it instead.") % {"wish": (request.wish or request.subject or text)[:80]})
        return None, wished_covers((), survey)
    if subject is None or (subject.strategy == EXEMPLAR and known and subject.cover != known[0]):
        subject = subject_of_cover(known[0])  # the prompt's main land cover comes first
    elif keyword is not None and keyword not in subject.keywords and glossary.singular(keyword) not in subject.keywords:
        notes.append(_("The offline painter paints “%(wish)s” as %(subject)s.")
                     % {"wish": keyword, "subject": _subject_label(subject)})
    covers = (subject.cover, *(c for c in known if c != subject.cover))
    return subject, covers[:3]


def _subject_label(subject: Subject) -> str:
    return str(SUBJECT_LABELS.get(subject.name, subject.name))


SUBJECT_LABELS = {
    "lake": _("water"), "forest": _("forest"), "meadow": _("meadow"), "field": _("fields"),
    "houses": _("houses"), "street": _("a road"), "beach": _("sand"), "mountain": _("rock"),
    "volcano": _("lava"), "river": _("water"), "snow": _("snow"),
}


def crop_metres_per_pixel(request: EngineRequest, crop: np.ndarray, notes: list) -> float:
    """Metres per pixel of the crop: the World's, else estimated from the map; noted when guessed."""
    zoom = 1.0
    if request.crop_box is not None:
        left, _top, right, _bottom = request.crop_box
        zoom = crop.shape[1] / max(1, right - left)  # crop pixels per map pixel
    mpp = request.metres_per_pixel
    if mpp is None or mpp <= 0:
        picture = _scale_window(request.context, request.crop_box) if request.context is not None else crop
        estimate = estimate_scale(picture)
        if estimate is None:
            mpp = REFERENCE_METRES_PER_PIXEL
            notes.append(_("The map's scale is unknown; the offline painter assumed %(mpp)s m per pixel.")
                         % {"mpp": _number(mpp)})
        else:
            mpp = estimate.metres_per_pixel
            if request.context is None:
                mpp *= zoom  # the estimate was made on the crop itself
            notes.append(_("The map's scale was estimated from its roofs: about %(mpp)s m per pixel "
                           "(confidence: %(confidence)s; likely within a factor of %(within)s).")
                         % {"mpp": _number(mpp), "confidence": _CONFIDENCE[estimate.confidence],
                            "within": _number(estimate.within)})
    return float(mpp) / zoom


# The scale is read from the map around the wish, at most this many map pixels a
# side: enough roofs to count, and a 8192² World costs no more than a small one.
SCALE_WINDOW = 1536


def _scale_window(context: Image.Image, crop_box) -> np.ndarray:
    """The map around the crop, at the map's own resolution, for estimating its scale."""
    width, height = context.size
    left, top, right, bottom = crop_box or (0, 0, width, height)
    side_x, side_y = min(width, max(SCALE_WINDOW, right - left)), min(height, max(SCALE_WINDOW, bottom - top))
    x0 = int(np.clip((left + right - side_x) // 2, 0, width - side_x))
    y0 = int(np.clip((top + bottom - side_y) // 2, 0, height - side_y))
    return np.asarray(context.crop((x0, y0, x0 + side_x, y0 + side_y)).convert("RGB"))


_CONFIDENCE = {"low": pgettext_lazy("scale estimate", "low"), "medium": pgettext_lazy("scale estimate", "medium")}


def _number(value: float) -> str:
    """1.3 in English, 1,3 in German."""
    return formats.number_format(round(value, 2 if value < 1 else 1), 2 if value < 1 else 1)


class _Painting:
    """The fill for the region's box and where it shows (`alpha`, whole crop)."""

    def __init__(self, crop, alpha, box, region, survey, rng, mpp, angle, notes, request):
        self.crop, self.box, self.region, self.survey, self.request = crop, box, region, survey, request
        self.rng, self.mpp, self.angle, self.notes = rng, mpp, angle, notes
        self.zoom = zoom_for(mpp)
        self.alpha = alpha.copy()
        self.base = crop[box].astype(np.float32)
        self.fill = self.base
        self.blend_band = None  # px along the edge where the fill's colours meet the map's

    def _show(self, shape_alpha: np.ndarray) -> None:
        """Let the fill show only where `shape_alpha` says (inside the stroke)."""
        self.alpha[self.box] = self.alpha[self.box] * shape_alpha

    def photo(self, subject: Optional[Subject], covers: tuple[str, ...]) -> None:
        if subject is None and self._heal():
            return
        if subject is not None and subject.strategy != EXEMPLAR:
            self._structure(subject, covers)
            return
        if covers[0] == landcover.WATER:
            self._water(covers, river=subject is not None and subject.name == "river")
            return
        outline = None
        if subject is not None and subject.shape == NATURAL:
            outline = shapes.natural_outline(self.region, self.rng)
        self.fill = self._cover_fill(covers, outline)
        if outline is not None:
            self._natural_edge(covers[0], outline)

    def _heal(self) -> bool:
        """Nothing known was wished: rebuild the region from the picture around it (`healing`)."""
        hole = self.alpha > 0
        if hole.all():
            return False
        healed = heal_crop(self.crop, hole, self.rng, self.request.context, self.request.crop_box)
        self.fill = healed[self.box]
        return True

    def _cover_fill(self, covers, outline=None, main=None) -> np.ndarray:
        sources = {c: gather_exemplars(self.survey, c, self.rng, self.mpp)
                   for c in covers[1 if main is not None else 0:] if c not in ALWAYS_PAINTED}
        return synthesise(covers, sources, self.survey, self.region, self.rng, zoom=self.zoom,
                          angle=self.angle, shore=None if outline is None else outline >= 0.5, main=main)

    def _natural_edge(self, cover: str, outline: np.ndarray) -> None:
        """A natural cover ends at its outline."""
        self._show(outline)

    def _water(self, covers, river=False, harbour=False) -> None:
        """Water with its shore (`water`); further covers as islands in it; a harbour's piers and boats."""
        region = np.zeros(self.crop.shape[:2], bool)
        region[self.box] = self.region
        fill, show, shape = paint_water(self.rng, self.crop, region, self.box, self.survey, self.mpp,
                                        river=river, harbour=harbour, context=self.request.context,
                                        crop_box=self.request.crop_box)
        if len(covers) > 1:
            fill = self._cover_fill(covers, main=fill)
        if harbour:
            fill = add_harbour(self._site(fill), shape.water)
        self.fill = fill
        self.blend_band = 3.0 if harbour else shape.band  # a quay is paved to the stroke's edge
        self._show(show)

    def _structure(self, subject: Subject, covers) -> None:
        if subject.name == "harbour":
            self._water((landcover.WATER,), harbour=True)
            return
        self.fill, fit = STRUCTURES[subject.name](self._site())
        if subject.name == "park":
            self._show(shapes.natural_outline(self.region, self.rng, irregularity=0.05))
        if fit < 0.6:
            self.notes.append(_("The painted area is small for %(subject)s at this map's scale; "
                                "it was painted smaller than life.") % {"subject": _structure_label(subject)})

    def _site(self, base=None, drawn=False) -> Site:
        """The box to lay a built place out in, with the map's materials (`sites`)."""
        if not hasattr(self, "_textures") or drawn:
            region = np.zeros(self.crop.shape[:2], bool)
            region[self.box] = self.region
            self._textures = MapTextures(self.survey, self.rng, self.mpp, self.crop, region, self.box, drawn=drawn,
                                         context=self.request.context, crop_box=self.request.crop_box)
        return Site(self.rng, self.base if base is None else base, self.region, self.mpp, self.angle, self._textures)

    def drawn(self, subject: Optional[Subject], cover: str) -> None:
        """A drawn or historic map: its own paper quilted, the cover drawn in its ink.

        Built subjects are drawn as a map maker draws a plan: the structure's
        outlines (from its painter) in ink, its footprint lightly hatched.
        """
        paper, ink = style.paper_and_ink(self.survey.small)
        near_paper = np.linalg.norm(self.survey.small.astype(np.float32) - paper, axis=2) < 40
        exemplars = gather_where(self.survey, near_paper, self.rng)
        if exemplars is not None:
            texture = quilt(exemplars, self.region.shape, self.rng)
        else:
            texture = np.broadcast_to(paper, (*self.region.shape, 3)).astype(np.float32)
        outline = shapes.natural_outline(self.region, self.rng)
        if cover not in (landcover.WATER, landcover.FOREST, landcover.MEADOW):
            outline = self.region.astype(np.float32)
        if subject is not None and subject.name in STRUCTURES and subject.name not in ("snow", "park", "vineyard"):
            painted, _fit = STRUCTURES[subject.name](self._site(texture, drawn=True))
            self.fill = style.ink_plan(texture, painted, ink, self.region)
            return
        self.fill = style.paint_drawn(self.rng, cover, texture, outline, ink, self.angle, max(0.6, self.zoom))


STRUCTURE_LABELS = {
    "castle": _("a castle"), "church": _("a church"), "stadium": _("a stadium"),
    "market square": _("a market square"), "monastery": _("a monastery"), "school": _("a school"),
    "factory": _("a factory"), "railway station": _("a railway station"),
    "wind farm": _("a wind farm"),
}


def _structure_label(subject: Subject) -> str:
    return str(STRUCTURE_LABELS.get(subject.name, subject.name))


def seed_for(request: EngineRequest) -> int:
    """The request's seed, or one derived from the wish: the same wish paints the same picture."""
    if request.seed is not None:
        return int(request.seed)
    return zlib.crc32(request.prompt.encode("utf-8"))


def wished_covers(land_covers: tuple[str, ...], survey: Survey) -> tuple[str, ...]:
    """Known land covers in the wish, main first; none named: what surrounds the region.

    A wish without a land cover ("make this disappear") then heals the region
    with its surroundings, the way a retoucher would; meadow when even that is unknown.
    """
    covers = tuple(dict.fromkeys(c for c in land_covers if c in COVER_INDEX))
    if covers:
        return covers[:3]
    return (survey.surroundings() or landcover.MEADOW,)


class _Reporter:
    """Counts the phases, passes progress on and stops between phases when cancelled."""

    def __init__(self, progress, should_cancel):
        self.progress = progress
        self.should_cancel = should_cancel
        self.step = 0

    def start(self):
        check_cancel(self.should_cancel)

    def done(self, preview):
        self.step += 1
        if self.progress is not None:
            self.progress(self.step, PHASES, preview)
        if self.step < PHASES:
            check_cancel(self.should_cancel)


def _preview(rgb: np.ndarray) -> Image.Image:
    preview = Image.fromarray(rgb)
    preview.thumbnail((256, 256))
    return preview
