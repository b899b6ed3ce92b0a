"""The classic engine itself: survey, gather, synthesise, blend (see the package's doc)."""

from __future__ import annotations

import zlib
from typing import Optional

import numpy as np
from django.conf import settings
from PIL import Image

from inpainting_core import landcover
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
from inpainting_core.engines.classic.quilting import (
    _laid_over,
    _padded_bbox,
    _visible_core,
    blend,
    gather_exemplars,
    ragged_edge,
    synthesise,
)
from inpainting_core.engines.classic.reading import COVER_INDEX, Survey, survey_map

# Roads are lines on a map: windows of pure road are rare and mostly town streets with
# gardens, so a wished road is always painted (as asphalt in the map's road colour).
ALWAYS_PAINTED = (landcover.ROAD,)
PHASES = 4  # survey, gather texture, synthesise, blend


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
        survey = survey_map(crop, alpha > 0, request.context, request.crop_box)
        covers = wished_covers(request.land_covers, survey)
        report.done(None)

        box = _padded_bbox(alpha > 0, crop.shape[:2], margin=3)
        sources = {cover: gather_exemplars(survey, cover, rng) for cover in covers if cover not in ALWAYS_PAINTED}
        report.done(None)

        fill = synthesise(covers, sources, survey, _visible_core(alpha[box]), rng)
        report.done(_preview(_laid_over(crop, fill, alpha, box)))

        alpha = ragged_edge(covers[0], alpha, fill, box)
        result = blend(crop, fill, alpha, box)
        report.done(_preview(result))
        return EngineResult(Image.fromarray(result), seed)


def seed_for(request: EngineRequest) -> int:
    """The request's seed, or one derived from the wish: the same wish paints the same picture."""
    if request.seed is not None:
        return int(request.seed) % 2**32
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
