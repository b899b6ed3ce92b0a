"""The land-cover reader learnt from labelled points of real aerial maps.

`tests/data/landcover_points.json` holds points of the six shared maps
(../shared/maps), each labelled by eye as water, forest, meadow, field, built,
road, snow or other. The reader is a small forest of randomised decision trees
(scikit-learn's ExtraTrees, fitted by `fit`, stored as plain arrays in
`cover_model.npz` and read here with numpy alone) over per-pixel features that
are meant to hold on maps it never saw:

* the map is looked at in metres: at WORKING_METRES_PER_PIXEL or coarser, with
  texture, edge density and neighbourhood colour in windows of 3, 8, 20 and
  30 m, so a 0.1 m and a 1.5 m map describe a wood alike;
* every feature standardised over the picture being read (its own mean and
  spread). Exposure, season and camera shift all of a map's colours together;
  "darker, greener and rougher than most of this map" is what a wood is on
  every map, whatever its absolute colour. Measured: absolute features next to
  the standardised ones read new maps worse (41 % against 46 % leave-one-map-out);
* colour in Lab, excess green and blueness (vegetation and water indices),
  saturation, brightness against the neighbourhood (shadow), row coherence
  (furrows).

Fitted on every map at 1, 1.5 and 2.5 m per pixel (coarser copies teach it
how a coarse map looks).

What the picture as a whole shows decides two things the trees cannot learn from
five other maps (`map_context`, `classify`):

* snow, in two stages: a reader fitted on maps without snow (every map but the
  Harz) never reads it, and on green maps what it calls snow is white roofs and
  bright paving. So snow is read only on a picture that is a winter landscape
  as a whole (`measures.winter_landscape`: colourless, with bright colourless
  ground), there wherever its ground, averaged over 8 m, is brighter than the
  picture's median (snow in sun and in light shade; trees and their shadows are
  darker), or where the trees read snow;
* no town without roofs: on a picture with (almost) no red or brown roofs the
  trees' "built" counts a quarter; crown shadows in a wood read as roofs.

Leave-one-map-out, before -> after these two: snow 0 -> 84 %, forest 61 -> 73 %,
overall 44 -> 56 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover
from inpainting_core.engines.classic import measures

CLASSES = ("water", "forest", "meadow", "field", "built", "road", "snow", "other")
# The engine's land cover for each class: "other" (bare ground, clear-cuts) is quilted as sand.
COVER_OF_CLASS = {
    "water": landcover.WATER, "forest": landcover.FOREST, "meadow": landcover.MEADOW,
    "field": landcover.FIELD, "built": landcover.BUILDINGS, "road": landcover.ROAD,
    "snow": landcover.SNOW, "other": landcover.SAND,
}
MODEL_PATH = Path(__file__).with_name("cover_model.npz")

# The reader looks at a map at this many metres per pixel, or at the map's own where it is
# coarser: finer detail (single branches, road markings) tells nothing about the cover and costs time.
WORKING_METRES_PER_PIXEL = 1.0
# Resolutions the reader is fitted at (metres per pixel; a map's own where it is coarser).
TRAINING_METRES_PER_PIXEL = (1.0, 1.5, 2.5)
# At most this many pixels are classified per picture; the rest take their neighbour's class.
MAX_CLASSIFIED_PIXELS = 25_000
TREES, MAX_DEPTH, MIN_LEAF = 32, 14, 3


# --- Features ----------------------------------------------------------------------------


def working_picture(rgb: np.ndarray, metres_per_pixel: float) -> tuple[np.ndarray, float]:
    """`rgb` at WORKING_METRES_PER_PIXEL (or its own resolution where coarser), and its scale."""
    factor = metres_per_pixel / WORKING_METRES_PER_PIXEL
    if factor >= 1.0:
        return rgb, metres_per_pixel
    size = (max(8, round(rgb.shape[1] * factor)), max(8, round(rgb.shape[0] * factor)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return small, metres_per_pixel * rgb.shape[1] / size[0]


FEATURE_NAMES = (
    "L", "a", "b", "excess green", "blueness", "saturation", "edges",
    "texture 3 m", "edges 3 m", "texture 8 m", "edges 8 m", "texture 20 m", "edges 20 m",
    "L 8 m", "excess green 8 m", "blueness 8 m", "L 30 m", "excess green 30 m", "blueness 30 m",
    "shade 8 m", "rows 6 m",
)


def features(rgb: np.ndarray, metres_per_pixel: float, step: int = 1) -> np.ndarray:
    """Per-pixel features (H x W x F float32) of an RGB picture at `metres_per_pixel`:
    FEATURE_NAMES, each standardised over the picture (its mean 0, its spread 1).

    With `step` > 1 only every step-th pixel of every step-th row (from step // 2)
    is described: the windows still see every pixel, but the stack is small.
    """
    picture = np.asarray(rgb, np.float32) / 255.0
    lab = cv2.cvtColor(picture, cv2.COLOR_RGB2Lab)
    lightness = lab[..., 0]
    red, green, blue = picture[..., 0], picture[..., 1], picture[..., 2]
    total = red + green + blue + 1e-3
    excess_green = (2 * green - red - blue) / total
    blueness = (blue - red) / total
    brightest = np.maximum(np.maximum(red, green), blue)
    saturation = (brightest - np.minimum(np.minimum(red, green), blue)) / (brightest + 1e-3)
    dx = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3)
    edges = np.sqrt(dx * dx + dy * dy) / 40

    def window(values, metres):
        side = max(1, int(round(metres / metres_per_pixel)))
        return cv2.blur(values, (side, side)) if side > 1 else values

    def spread(metres):
        mean = window(lightness, metres)
        return np.sqrt(np.maximum(window(lightness * lightness, metres) - mean * mean, 0)) / 10

    side = max(3, int(round(6.0 / metres_per_pixel)))
    jxx, jyy, jxy = (cv2.blur(v, (side, side)) for v in (dx * dx, dy * dy, dx * dy))
    rows = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (jxx + jyy + 1e-2)
    shade = lightness / (cv2.dilate(window(lightness, 2.0), np.ones((3, 3), np.uint8),
                                    iterations=max(1, int(round(4.0 / metres_per_pixel)))) + 1.0)
    grid = (slice(step // 2, None, step), slice(step // 2, None, step))
    measured = np.stack([values[grid] for values in (
        lightness / 50, lab[..., 1] / 20, lab[..., 2] / 20, excess_green * 5, blueness * 5, saturation * 3, edges,
        spread(3.0), window(edges, 3.0), spread(8.0), window(edges, 8.0), spread(20.0), window(edges, 20.0),
        window(lightness, 8.0) / 50, window(excess_green, 8.0) * 5, window(blueness, 8.0) * 5,
        window(lightness, 30.0) / 50, window(excess_green, 30.0) * 5, window(blueness, 30.0) * 5,
        shade, rows,
    )], axis=2).astype(np.float32)
    flat = measured.reshape(-1, measured.shape[2])
    return (measured - flat.mean(axis=0)) / (flat.std(axis=0) + 1e-3)


SNOW, BUILT = CLASSES.index("snow"), CLASSES.index("built")
SNOW_WINDOW_M = 8.0  # snow is read where the ground averaged over this many metres is brighter than the map's median


# What the picture as a whole says of each pixel (`map_context`), as flags: the picture is a
# winter landscape (snow may be read), the winter rule reads snow here, the picture shows no roofs.
WINTER, WINTER_SNOW, ROOFLESS = 1, 2, 4
# A picture with fewer of its pixels on red or brown roofs than ROOFLESS_SHARE shows no town
# (`scale.roof_share`: the forest maps and their 300 m crops 0-0.0004, the town maps 0.004-0.013,
# a 160 m crop of the Zurich suburb 0.0009); there the trees' "built" counts ROOFLESS_BUILT_WEIGHT:
# roofs of other colours stay readable where the trees are sure, shadows in a wood do not.
ROOFLESS_SHARE, ROOFLESS_BUILT_WEIGHT = 0.0002, 0.25


def map_context(rgb: np.ndarray, metres_per_pixel: float, step: int = 1) -> np.ndarray:
    """Flags (WINTER, WINTER_SNOW, ROOFLESS) per pixel of a picture, on the grid of `features`.

    WINTER everywhere on a winter landscape (`measures.winter_landscape`), and WINTER_SNOW
    where its ground (averaged over SNOW_WINDOW_M) is brighter than the picture's median;
    ROOFLESS everywhere on a picture with fewer than ROOFLESS_SHARE of its pixels on red or brown roofs.
    """
    from inpainting_core.engines.classic import scale  # scale reads roofs with reading's tools

    grid = (slice(step // 2, None, step), slice(step // 2, None, step))
    flags = np.zeros(rgb.shape[:2], np.uint8)
    if scale.roof_share(rgb) < ROOFLESS_SHARE:
        flags |= ROOFLESS
    if measures.winter_landscape(rgb[::2, ::2]):  # shares of the whole: every other pixel tells them
        lightness = measures.lab(rgb)[..., 0]
        side = max(1, int(round(SNOW_WINDOW_M / metres_per_pixel)))
        around = cv2.blur(lightness, (side, side)) if side > 1 else lightness
        flags |= np.where(around > np.median(around), WINTER | WINTER_SNOW, WINTER).astype(np.uint8)
    return flags[grid]


def classify(model: Forest, rows: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Class index per row of features, `context` per row from `map_context`: the trees' answer,
    but never snow outside a winter landscape, snow where the winter rule says so, and "built"
    weighed down on a picture without roofs."""
    context = np.asarray(context).ravel()
    shares = model.probabilities(rows)
    shares[(context & WINTER) == 0, SNOW] = 0.0
    shares[(context & ROOFLESS) != 0, BUILT] *= ROOFLESS_BUILT_WEIGHT
    classes = shares.argmax(axis=1)
    classes[(context & WINTER_SNOW) != 0] = SNOW
    return classes


# --- The stored forest -------------------------------------------------------------------


@dataclass(frozen=True)
class Forest:
    """Decision trees as flat arrays (all trees' nodes one after another).

    A leaf points to itself on both sides, so walking MAX_DEPTH steps from every
    root ends on a leaf; `value` is a node's class shares (the leaves' matter).
    """

    roots: np.ndarray  # (T,) int32: each tree's first node
    feature: np.ndarray  # (N,) int32
    threshold: np.ndarray  # (N,) float32
    left: np.ndarray  # (N,) int32
    right: np.ndarray  # (N,) int32
    value: np.ndarray  # (N, C) float32
    depth: int

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """Mean class shares of the trees' leaves for each row of features (R x C)."""
        count, width = rows.shape
        flat = np.ascontiguousarray(rows, np.float32).ravel()
        starts = (np.arange(count, dtype=np.int64) * width)[None, :]
        nodes = np.repeat(self.roots[:, None], count, axis=1)  # (T, R): every row in every tree
        for _ in range(self.depth):
            go_left = flat.take(starts + self.feature.take(nodes)) <= self.threshold.take(nodes)
            nodes = np.where(go_left, self.left.take(nodes), self.right.take(nodes))
        return self.value[nodes].mean(axis=0)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.probabilities(rows).argmax(axis=1)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, roots=self.roots, feature=self.feature, threshold=self.threshold,
                            left=self.left, right=self.right, value=self.value.astype(np.float16),
                            depth=np.int32(self.depth), classes=np.array(CLASSES))

    @classmethod
    def load(cls, path: Path) -> "Forest":
        with np.load(path) as stored:
            if tuple(stored["classes"]) != CLASSES:
                raise ValueError(f"{path} was fitted for other classes: {tuple(stored['classes'])}")
            return cls(stored["roots"], stored["feature"], stored["threshold"], stored["left"],
                       stored["right"], stored["value"].astype(np.float32), int(stored["depth"]))


def fit(samples: np.ndarray, labels: np.ndarray, seed: int = 0) -> Forest:
    """Extremely randomised trees (scikit-learn), classes weighted to count alike, as a `Forest`."""
    from sklearn.ensemble import ExtraTreesClassifier  # only for fitting: reading needs numpy alone

    model = ExtraTreesClassifier(TREES, max_depth=MAX_DEPTH, min_samples_leaf=MIN_LEAF,
                                 class_weight="balanced", random_state=seed, n_jobs=1)
    model.fit(samples, labels)
    roots, features_, thresholds, lefts, rights, values = [], [], [], [], [], []
    offset = 0
    for estimator in model.estimators_:
        tree = estimator.tree_
        count = tree.node_count
        leaf = tree.children_left < 0
        own = np.arange(count)
        roots.append(offset)
        features_.append(np.where(leaf, 0, tree.feature))
        thresholds.append(np.where(leaf, np.inf, tree.threshold))
        lefts.append(np.where(leaf, own, tree.children_left) + offset)
        rights.append(np.where(leaf, own, tree.children_right) + offset)
        shares = np.zeros((count, len(CLASSES)), np.float32)
        raw = tree.value[:, 0, :]
        shares[:, model.classes_] = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-9)
        values.append(shares)
        offset += count
    return Forest(np.int32(roots), np.concatenate(features_).astype(np.int32),
                  np.concatenate(thresholds).astype(np.float32), np.concatenate(lefts).astype(np.int32),
                  np.concatenate(rights).astype(np.int32), np.concatenate(values), MAX_DEPTH)


@lru_cache(maxsize=1)
def stored_model() -> Optional[Forest]:
    return Forest.load(MODEL_PATH) if MODEL_PATH.exists() else None


# --- Reading a picture -------------------------------------------------------------------


def read(rgb: np.ndarray, metres_per_pixel: float, model: Optional[Forest] = None) -> Optional[np.ndarray]:
    """Class index (into CLASSES) per pixel of `rgb`, or None when no model is stored.

    The picture is read at WORKING_METRES_PER_PIXEL (or its own, coarser, scale);
    at most MAX_CLASSIFIED_PIXELS are classified, on an even grid, and the
    classes are carried back to `rgb`'s size.
    """
    model = model or stored_model()
    if model is None:
        return None
    working, working_mpp = working_picture(rgb, metres_per_pixel)
    height, width = working.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(height * width / MAX_CLASSIFIED_PIXELS))))
    grid = features(working, working_mpp, step)
    context = map_context(working, working_mpp, step)
    classes = classify(model, grid.reshape(-1, grid.shape[2]), context).reshape(grid.shape[:2]).astype(np.uint8)
    return cv2.resize(classes, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)


# --- Fitting and judging on labelled points ----------------------------------------------


def samples_from_points(maps: dict, points: list, survey_side: int, resolutions=TRAINING_METRES_PER_PIXEL):
    """Features, class indices, map names, whether the row is the one judged, and whether the
    picture's flags there (`map_context`), of labelled points.

    `maps` maps a file name to (RGB picture, its metres per pixel). Each map is
    read at every resolution in `resolutions` (metres per pixel; the map's own
    where it is coarser) and at the resolution the engine reads it at: its
    survey (long side `survey_side`), read at WORKING_METRES_PER_PIXEL or
    coarser. The points are judged at that one.
    """
    rows, labels, names, judged, context = [], [], [], [], []
    for name, (picture, mpp) in maps.items():
        chosen = [p for p in points if p["map"] == name]
        if not chosen:
            continue
        survey = mpp * max(1.0, max(picture.shape[:2]) / survey_side)
        engine_reads_at = max(WORKING_METRES_PER_PIXEL, survey)
        targets = dict.fromkeys([engine_reads_at, *sorted({max(r, mpp) for r in resolutions} - {engine_reads_at})])
        for target in targets:
            scale = mpp / target
            working = picture if scale >= 1.0 else cv2.resize(
                picture, (max(8, round(picture.shape[1] * scale)), max(8, round(picture.shape[0] * scale))),
                interpolation=cv2.INTER_AREA)
            working_mpp = mpp * picture.shape[1] / working.shape[1]
            values = features(working, working_mpp)
            flags = map_context(working, working_mpp)
            for point in chosen:
                x = min(int(point["x"] * working.shape[1] / picture.shape[1]), values.shape[1] - 1)
                y = min(int(point["y"] * working.shape[0] / picture.shape[0]), values.shape[0] - 1)
                rows.append(values[y, x])
                labels.append(CLASSES.index(point["label"]))
                names.append(name)
                judged.append(target == engine_reads_at)
                context.append(flags[y, x])
    return (np.array(rows, np.float32), np.array(labels, np.int64), np.array(names), np.array(judged),
            np.array(context, np.uint8))


def leave_one_map_out(samples, labels, maps, judged, context, extra=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted and true class, and map, of every judged point, each read by a reader fitted
    without any point of its map (and with `extra`, (samples, labels) never judged)."""
    predicted, truth, where = [], [], []
    for name in dict.fromkeys(maps):
        held = maps == name
        train_x, train_y = samples[~held], labels[~held]
        if extra is not None:
            train_x, train_y = np.vstack([train_x, extra[0]]), np.concatenate([train_y, extra[1]])
        model = fit(train_x, train_y)
        predicted.append(classify(model, samples[held & judged], context[held & judged]))
        truth.append(labels[held & judged])
        where.append(maps[held & judged])
    return np.concatenate(predicted), np.concatenate(truth), np.concatenate(where)


# What the engine tells apart (reading.py, quilting.py, sites.py): a wish's own cover is quilted
# from the map's pixels of that cover, but streets between roofs count as the town and a lawn
# takes its colour from meadows and fields alike; "other" is read as no cover at all.
GROUPS = {"water": "water", "forest": "forest", "meadow": "open green", "field": "open green",
          "built": "built-up", "road": "built-up", "snow": "snow", "other": "other"}
GROUP_OF_CLASS = np.array([tuple(dict.fromkeys(GROUPS.values())).index(GROUPS[name]) for name in CLASSES])


def accuracy_table(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Recall per class (share of its points read right, and how many), overall accuracy, and
    "grouped": the share read as the right one of GROUPS."""
    table = {}
    for index, name in enumerate(CLASSES):
        mine = truth == index
        if mine.any():
            table[name] = (float((predicted[mine] == index).mean()), int(mine.sum()))
    table["overall"] = (float((predicted == truth).mean()), int(len(truth)))
    table["grouped"] = (float((GROUP_OF_CLASS[predicted] == GROUP_OF_CLASS[truth]).mean()), int(len(truth)))
    return table
