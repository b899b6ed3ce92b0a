"""Maps too big to hold whole: a wish reads only the part of the map it needs, and its
result is that part, placed on the map by a box.

A map with more pixels than OLPE_HUGE_MAP_PIXELS (`museum.pyramids.is_huge`;
a 16384² scan is 805 MB of pixels) is painted by region:

* the kiosk sends the mask of the region it painted, at the map's
  resolution, with its place (`InpaintJob.mask_box`);
* the worker reads a window around the painted region from the map's
  lossless tile pyramid (`window_around`, `read_map`), paints in it as on a
  small map, and stores the repainted window as the result with its place
  (`InpaintJob.result_box`, `RegionWish`);
* the repainted map is then the map the job painted on with the window laid
  over it: `read_result` reads any region of it, so painting on such a
  result ("keep painting") reads through the chain of earlier results down
  to the World's pyramid, and `before_png` gives the map under the window as
  it was before the wish (the "before" of the comparison and the gallery).

A wish on a huge map may change at most OLPE_MAX_IMAGE_PIXELS pixels' worth
of map at once (`check_painted_area`), so no step ever holds more than a
visitor's upload may have.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image

from inpainting.models import InpaintJob
from inpainting_core import compositing, imaging, masks
from inpainting_core.engines.base import EngineError
from inpainting_core.pipeline import load_mask
from museum import pyramids

MAP_GONE = _("The map of this wish is no longer available.")
# Around the painted region, the window holds at least this much of the map on each side
# (the engine's crop grows around the region; the classic engine reads the scale around it).
CONTEXT_PX = 256


def is_huge(size: tuple[int, int]) -> bool:
    return pyramids.is_huge(size)


# --- sizes ---------------------------------------------------------------------------------


def map_size(job: InpaintJob) -> tuple[int, int]:
    """(width, height) of the map `job` paints on, from headers (never decoded)."""
    try:
        if job.input_image:
            return pyramids.picture_size(job.input_image.name, job.input_image.storage)
        if job.base_job_id is not None:
            return result_size(job.base_job)
        if job.painted_world_id is not None and job.painted_world.image:
            image = job.painted_world.image
            return pyramids.picture_size(image.name, image.storage)
    except (FileNotFoundError, imaging.ImageProblem) as error:
        raise EngineError(MAP_GONE) from error
    raise EngineError(MAP_GONE)


def result_size(job: InpaintJob) -> tuple[int, int]:
    """(width, height) of the repainted map of a succeeded job (for a region result: its map's)."""
    if job.result_box is not None:
        return map_size(job)
    return pyramids.picture_size(job.result_image.name, job.result_image.storage)


def check_painted_area(mask: np.ndarray, mask_box, map_size_: tuple[int, int]) -> None:
    """On a huge map, refuse a wish that paints more than a visitor's upload may hold."""
    if not is_huge(map_size_):
        return
    box = mask_box or (0, 0, *map_size_)
    x0, y0, x1, y1 = masks.painted_box(mask, box)
    limit = settings.OLPE_MAX_IMAGE_PIXELS
    if (x1 - x0) * (y1 - y0) > limit:
        side = math.isqrt(limit)
        raise imaging.ImageProblem(
            _("On this large map, one wish can change at most %(side)s × %(side)s pixels. "
              "Please paint a smaller place; zoom in to paint it precisely.") % {"side": side},
            code="too_large", field="mask",
        )


# --- reading a huge map ------------------------------------------------------------------


def read_map(job: InpaintJob, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of the map `job` paints on inside `box` (x0, y0, x1, y1), H×W×3 uint8."""
    try:
        if job.input_image:
            return _read_picture(job.input_image, box)
        if job.base_job_id is not None:
            return read_result(job.base_job, box)
        if job.painted_world_id is not None and job.painted_world.image:
            return _read_picture(job.painted_world.image, box)
    except (FileNotFoundError, imaging.ImageProblem) as error:
        raise EngineError(MAP_GONE) from error
    raise EngineError(MAP_GONE)


def read_result(job: InpaintJob, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of `job`'s repainted map inside `box`: for a region result, its map with
    the repainted window laid over it."""
    if job.result_box is None:
        return _read_picture(job.result_image, box)
    pixels = read_map(job, box).copy()
    rx, ry, rw, rh = job.result_box
    x0, y0, x1, y1 = max(box[0], rx), max(box[1], ry), min(box[2], rx + rw), min(box[3], ry + rh)
    if x0 < x1 and y0 < y1:
        window = _decoded(job.result_image)
        pixels[y0 - box[1]:y1 - box[1], x0 - box[0]:x1 - box[0]] = \
            window[y0 - ry:y1 - ry, x0 - rx:x1 - rx]
    return pixels


def _read_picture(field_file, box) -> np.ndarray:
    """A region of a stored picture, from its pyramid; a huge map without its lossless
    pyramid yet gets it now (the first wish on a World just added waits for it)."""
    name, storage = field_file.name, field_file.storage
    if not pyramids.has_pyramid(name, storage) and is_huge(pyramids.picture_size(name, storage)):
        pyramids.make_pyramid(name, storage)
    return pyramids.open_picture(name, storage).read(box)


def _decoded(field_file) -> np.ndarray:
    with field_file.open("rb") as handle:
        return np.asarray(imaging.open_image(io.BytesIO(handle.read())))


def before_png(job: InpaintJob) -> bytes:
    """The map under a region result's window as it was before the wish (PNG)."""
    x, y, w, h = job.result_box
    pixels = read_map(job, (x, y, x + w, y + h))
    return compositing.to_png_bytes(Image.fromarray(pixels), compress_level=settings.OLPE_RESULT_PNG_LEVEL)


# --- the worker's window ----------------------------------------------------------------------


def window_around(painted: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of the map a wish on a huge map reads and repaints: the painted region
    (x0, y0, x1, y1), grown on every side by as much again (the engine's crop grows around
    the region to twice its side at most) and CONTEXT_PX, to the map's aspect ratio (so
    the kiosk shows before and after like the map), inside the map."""
    x0, y0, x1, y1 = painted
    margin = max(x1 - x0, y1 - y0) // 2 + settings.OLPE_CROP_PADDING + CONTEXT_PX
    width, height = (x1 - x0) + 2 * margin, (y1 - y0) + 2 * margin
    aspect = size[0] / size[1]
    if width / height < aspect:
        width = round(height * aspect)
    else:
        height = round(width / aspect)
    width, height = min(width, size[0]), min(height, size[1])
    left = min(max(0, (x0 + x1 - width) // 2), size[0] - width)
    top = min(max(0, (y0 + y1 - height) // 2), size[1] - height)
    return left, top, left + width, top + height


@dataclass
class RegionWish:
    """What the worker paints for a wish on a huge map: the window, its pixels and its mask."""

    window: tuple[int, int, int, int]  # x0, y0, x1, y1 of the map
    image: Image.Image
    mask: np.ndarray

    @property
    def result_box(self) -> list[int]:
        x0, y0, x1, y1 = self.window
        return [x0, y0, x1 - x0, y1 - y0]


def region_wish(job: InpaintJob, mask_data: bytes, size: tuple[int, int]) -> RegionWish:
    """Read the window of a wish on a huge map: only the pixels and the mask it needs."""
    box = tuple(job.mask_box) if job.mask_box else (0, 0, *size)
    mask = load_mask(io.BytesIO(mask_data), size, fit=False, box=box)
    window = window_around(masks.painted_box(mask, box), size)
    return RegionWish(
        window=window, image=Image.fromarray(read_map(job, window)),
        mask=masks.mask_over(mask, box, window),
    )
