"""Reading the map for the classic engine: which land cover each pixel shows.

`survey_map` cuts the map around the painted region at the crop's scale and
reads its land cover; the `Survey` it returns is what gathering texture works
from. With the map's scale known (or estimated) it reads with the reader learnt
from labelled points of real maps (`cover_model`, its accuracy measured map by
map in benchmarks/land_cover.py); without one, or without a stored reader, with
the colour rules of `classify_land_cover`, which tests also use to judge
painted pictures of the synthetic demo map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
from PIL import Image

from inpainting_core import landcover
from inpainting_core.engines.classic import cover_model, measures

COVER_INDEX = {name: index for index, name in enumerate(landcover.ALL)}
# A pixel the reader reads as none of the covers a wish can name (bare ground, a
# building's shadow, the map's lettering): no texture is gathered from it.
UNREAD = 255
SURVEY_LONG_SIDE = 768  # classification runs at this size: fast, and texture rules stay stable


def classify_land_cover(rgb: np.ndarray) -> np.ndarray:
    """Land cover per pixel (indices into `landcover.ALL`) from colour and local texture.

    Colour rules alone confuse a dark forest with a lake, so texture (the local
    standard deviation of brightness) separates smooth water from rough crowns.
    A town is a neighbourhood with roofs in it, so grey streets and gardens next
    to roofs count as buildings, grey elsewhere as road. A vote in a small window
    removes single stray pixels.
    """
    features = _colour_features(rgb)
    labels = np.full(rgb.shape[:2], COVER_INDEX[landcover.MEADOW], np.uint8)
    for cover, rule in _COLOUR_RULES:  # later rules win
        labels[rule(features)] = COVER_INDEX[cover]
    _drop_red_roads(labels)
    _merge_town(labels)
    return _majority_vote(labels, 7)


def _colour_features(rgb: np.ndarray) -> dict[str, np.ndarray]:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (5, 5))
    texture = np.sqrt(np.maximum(cv2.blur(grey * grey, (5, 5)) - mean * mean, 0))
    red, green, blue = (rgb[..., channel].astype(np.float32) for channel in range(3))
    return {
        "r": red, "g": green, "b": blue,
        "h": hsv[..., 0], "s": hsv[..., 1], "v": hsv[..., 2],
        "texture": texture,
        "rough": cv2.blur(texture, (9, 9)),
        "rows": _orientation_coherence(grey),
    }


def _orientation_coherence(grey: np.ndarray) -> np.ndarray:
    """0 for texture without direction, towards 1 for parallel lines (furrows, crop rows).

    From the structure tensor: how much the local gradients agree on one direction.
    """
    dx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    jxx = cv2.blur(dx * dx, (9, 9))
    jyy = cv2.blur(dy * dy, (9, 9))
    jxy = cv2.blur(dx * dy, (9, 9))
    return np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (jxx + jyy + 1.0)


# OpenCV hue runs 0..180: red ~0/180, yellow ~30, green ~60, cyan ~90, blue ~120.
def _is_field(f):
    """Yellow or brown farmland, or green land striped with crop rows."""
    ripe_or_tilled = (f["h"] >= 8) & (f["h"] < 32) & (f["v"] >= 100)
    rows = (f["rows"] > 0.8) & (f["texture"] > 4) & (f["v"] >= 100) & (f["h"] < 60)
    return ripe_or_tilled | rows


def _is_forest(f):
    return (f["v"] < 115) & (f["g"] >= f["r"]) & (f["g"] >= f["b"] - 4) & (f["texture"] >= 4)


def _is_road(f):
    return (f["s"] < 40) & (f["v"] > 60) & (f["v"] < 170)


def _is_rock(f):
    """Rough grey ground. Thin roads are grey too, so rock must fill its neighbourhood."""
    grey = ((f["s"] < 50) & (f["v"] > 60) & (f["v"] < 180)).astype(np.float32)
    return (grey * cv2.blur(grey, (15, 15)) > 0.85) & (f["rough"] > 5.5)


def _is_roof(f):
    return ((f["h"] < 12) | (f["h"] > 165)) & (f["s"] > 70) & (f["v"] > 70) & (f["v"] < 200) & (
        f["r"] > f["g"] + 25
    )


def _is_water(f):
    bluish = (f["h"] >= 75) & (f["h"] <= 125) & (f["s"] > 40) & (f["v"] < 130) & (f["texture"] < 7)
    return bluish | ((f["v"] < 50) & (f["texture"] < 4))


def _is_sand(f):
    return (f["h"] >= 12) & (f["h"] <= 30) & (f["s"] >= 25) & (f["s"] < 80) & (f["v"] > 190) & (
        f["texture"] < 7
    )


def _is_lava(f):
    """Glowing cracks, and the dark red crust between them."""
    glow = ((f["r"] > 180) & (f["r"] - f["b"] > 100) & (f["s"] > 120)).astype(np.float32)
    crust = (f["v"] < 90) & (f["s"] > 80) & ((f["h"] < 15) | (f["h"] > 170))
    return (glow > 0) | (crust & (cv2.blur(glow, (31, 31)) > 0.01))


def _is_snow(f):
    return (f["v"] > 200) & (f["s"] < 45)


_COLOUR_RULES = (
    (landcover.FIELD, _is_field),
    (landcover.FOREST, _is_forest),
    (landcover.ROAD, _is_road),
    (landcover.ROCK, _is_rock),
    (landcover.BUILDINGS, _is_roof),
    (landcover.WATER, _is_water),
    (landcover.SAND, _is_sand),
    (landcover.LAVA, _is_lava),
    (landcover.SNOW, _is_snow),
)


def compact_parts(mask: np.ndarray, min_fill: float = 0.35, max_thin_length: int = 20) -> np.ndarray:
    """`mask` without its long, thin parts: a roof is compact, a red-painted road on a
    map (a highlighted main road) is a long band that fills little of its bounding box."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    width, height, area = (stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT],
                           stats[:, cv2.CC_STAT_AREA])
    fill = area / np.maximum(1, width * height)
    thin = np.maximum(width, height) / np.maximum(1.0, area / np.maximum(width, height))
    band = (np.maximum(width, height) > max_thin_length) & ((fill < min_fill) | (thin > 6))
    band[0] = True  # the background
    return ~band[labels]


def _drop_red_roads(labels: np.ndarray) -> None:
    """Long red bands are roads drawn in red on the map, not roofs."""
    roofs = labels == COVER_INDEX[landcover.BUILDINGS]
    labels[roofs & ~compact_parts(roofs)] = COVER_INDEX[landcover.ROAD]


def _merge_town(labels: np.ndarray) -> None:
    """Streets, yards and gardens between roofs belong to the town."""
    roofs = (labels == COVER_INDEX[landcover.BUILDINGS]).astype(np.float32)
    town = cv2.blur(roofs, (25, 25)) > 0.03
    in_between = np.isin(labels, [COVER_INDEX[c] for c in (landcover.ROAD, landcover.ROCK, landcover.MEADOW, landcover.FIELD)])
    labels[town & in_between] = COVER_INDEX[landcover.BUILDINGS]


def _majority_vote(labels: np.ndarray, window: int) -> np.ndarray:
    votes = np.stack(
        [cv2.blur((labels == index).astype(np.float32), (window, window)) for index in range(len(landcover.ALL))]
    )
    return votes.argmax(axis=0).astype(np.uint8)


# The map around the region is surveyed up to this many pixels (at the crop's scale).
MAX_SURVEY_PIXELS = 4_000_000


@dataclass
class Survey:
    """The surveyed part of the map: its picture at the crop's scale and its land covers.

    `labels` and `blocked` are at survey scale (`factor` survey pixels per source
    pixel). `blocked` marks the painted region: its texture is about to go away.
    """

    source: np.ndarray
    small: np.ndarray
    labels: np.ndarray
    blocked: np.ndarray
    factor: float
    # metres per pixel of `small`, where the scale was given to the survey
    metres_per_pixel: Optional[float] = None
    # which reader read `labels`: "learnt" (cover_model) or "colour rules"
    reader: str = "colour rules"

    def surroundings(self) -> Optional[str]:
        """The land cover that most of the ring around the painted region shows."""
        ring = cv2.dilate(self.blocked.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        ring &= ~self.blocked
        read = self.labels[ring]
        read = read[read != UNREAD]
        if not read.size:
            return None
        counts = np.bincount(read, minlength=len(landcover.ALL))
        return landcover.ALL[int(counts.argmax())]


# --------------------------------------------------------------------------------
# Survey: the map around the region, at the crop's scale, and its land covers.
# --------------------------------------------------------------------------------


def survey_map(
    crop: np.ndarray,
    region: np.ndarray,
    context: Optional[Image.Image],
    crop_box: Optional[tuple[int, int, int, int]],
    metres_per_pixel: Optional[float] = None,
) -> Survey:
    """Cut the map around the crop at the crop's scale and read its land cover.

    The crop may have been scaled down for the engine; texture taken from the
    map is scaled alike, so crowns and furrows keep their size. Very large maps
    are surveyed only around the region. `metres_per_pixel` is the crop's
    scale; given, the learnt reader reads the survey (`read_land_cover`).
    """
    if context is None or crop_box is None:
        source, origin = crop, (0, 0)
    else:
        source, origin = _source_window(context, crop_box, crop.shape[1])
    blocked_source = np.zeros(source.shape[:2], np.uint8)
    _paste_mask(blocked_source, region, origin)
    factor = min(1.0, SURVEY_LONG_SIDE / max(source.shape[:2]))
    survey_size = (max(1, round(source.shape[1] * factor)), max(1, round(source.shape[0] * factor)))
    small = cv2.resize(source, survey_size, interpolation=cv2.INTER_AREA)
    blocked = cv2.resize(blocked_source * 255, survey_size, interpolation=cv2.INTER_AREA) > 0
    blocked = cv2.dilate(blocked.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    survey_mpp = None if metres_per_pixel is None else metres_per_pixel / factor
    labels, reader = read_land_cover(small, survey_mpp)
    return Survey(source=source, small=small, labels=labels, blocked=blocked, factor=factor,
                  metres_per_pixel=survey_mpp, reader=reader)


# The engine's cover for each of the reader's classes; "other" is no cover to gather.
_COVER_OF_CLASS = np.array(
    [COVER_INDEX[cover_model.COVER_OF_CLASS[name]] if name != "other" else UNREAD
     for name in cover_model.CLASSES], np.uint8)
# A neighbourhood (TOWN_WINDOW_M wide) whose pixels are roofs to this share or more is a town:
# its streets, yards and gardens count as buildings, so houses are quilted as a town, not as one roof.
TOWN_WINDOW_M, TOWN_ROOF_SHARE = 40.0, 0.25


def read_land_cover(small: np.ndarray, metres_per_pixel: Optional[float]) -> tuple[np.ndarray, str]:
    """Cover index per pixel of the survey (UNREAD where none), and which reader read it."""
    classes = None if metres_per_pixel is None else cover_model.read(small, metres_per_pixel)
    if classes is None:
        return classify_land_cover(small), "colour rules"
    labels = _COVER_OF_CLASS[classes]
    # Water only where a body of open water is (>= 12 m wide somewhere): a dark shadow read
    # as water is no lake to take colour or texture from.
    water = labels == COVER_INDEX[landcover.WATER]
    if water.any():
        labels[water & ~measures.open_water_bodies(small, metres_per_pixel)] = UNREAD
    roofs = (labels == COVER_INDEX[landcover.BUILDINGS]).astype(np.float32)
    side = max(3, int(round(TOWN_WINDOW_M / metres_per_pixel)))
    town = cv2.blur(roofs, (side, side)) >= TOWN_ROOF_SHARE
    between = np.isin(labels, [COVER_INDEX[landcover.ROAD], COVER_INDEX[landcover.MEADOW], UNREAD])
    labels[town & between] = COVER_INDEX[landcover.BUILDINGS]
    return labels, "learnt"


def _source_window(context: Image.Image, crop_box, crop_width: int):
    """The part of the map to survey, scaled like the crop, and where the crop lies in it."""
    left, top, right, bottom = crop_box
    scale = crop_width / max(1, right - left)
    map_w, map_h = context.size
    limit = math.sqrt(MAX_SURVEY_PIXELS) / scale  # side of the window in map pixels
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    win_w, win_h = min(map_w, limit), min(map_h, limit)
    win_left = int(np.clip(centre_x - win_w / 2, 0, map_w - win_w))
    win_top = int(np.clip(centre_y - win_h / 2, 0, map_h - win_h))
    window = (win_left, win_top, win_left + int(win_w), win_top + int(win_h))
    picture = context.crop(window).convert("RGB")  # crop first: a big map is not copied whole
    if scale != 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)
    origin = (round((left - win_left) * scale), round((top - win_top) * scale))
    return np.asarray(picture), origin


def _paste_mask(target: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> None:
    """Set `mask` into `target` at `origin`, clipped at the target's edges."""
    x, y = origin
    height, width = mask.shape
    top, left = max(0, y), max(0, x)
    bottom, right = min(target.shape[0], y + height), min(target.shape[1], x + width)
    if bottom > top and right > left:
        target[top:bottom, left:right] |= mask[top - y : bottom - y, left - x : right - x].astype(target.dtype)
