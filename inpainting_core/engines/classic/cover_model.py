"""The land-cover reader learnt from labelled points of real aerial maps.

`tests/data/landcover_points.json` holds points of the six shared maps
(../shared/maps), each labelled by eye as water, forest, meadow, field, built,
road, snow or other. `fit` learns a small softmax (multinomial logistic)
regression from per-pixel features (colour in Lab at two blurs, brightness
against the map's own median, fine and coarse texture, greenness, how
row-like the texture is), each with its square, at two resolutions of every
map so that texture rules do not depend on one scale.

Measured leave-one-map-out (each map judged by a reader fitted without its
points, issue 25): 34 % overall, no better than the hand-made colour rules
of `reading.py` (31 %) on the same points, so the engine still reads with
those rules; the points and this evaluation are here to build a better one.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover

CLASSES = ("water", "forest", "meadow", "field", "built", "road", "snow", "other")
# The engine's land cover for each class: "other" (bare ground, clear-cuts) is quilted as sand.
COVER_OF_CLASS = {
    "water": landcover.WATER, "forest": landcover.FOREST, "meadow": landcover.MEADOW,
    "field": landcover.FIELD, "built": landcover.BUILDINGS, "road": landcover.ROAD,
    "snow": landcover.SNOW, "other": landcover.SAND,
}
MODEL_PATH = Path(__file__).with_name("cover_model.json")
TRAINING_SIDES = (768, 1536)  # long side of the map when features are taken (the survey's is 768)


def features(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel features (HxWxF float32) of an RGB picture."""
    picture = np.asarray(rgb, np.float32)
    lab_fine = cv2.cvtColor(cv2.GaussianBlur(picture, (0, 0), 1.2) / 255.0, cv2.COLOR_RGB2Lab)
    lab_wide = cv2.cvtColor(cv2.GaussianBlur(picture, (0, 0), 5.0) / 255.0, cv2.COLOR_RGB2Lab)
    lightness = cv2.cvtColor(picture / 255.0, cv2.COLOR_RGB2Lab)[..., 0]
    relative = lab_fine[..., 0] - float(np.median(lightness))
    detail = lightness - cv2.GaussianBlur(lightness, (0, 0), 1.5)
    fine = np.sqrt(cv2.blur(detail * detail, (5, 5)))
    mean = cv2.blur(lightness, (15, 15))
    coarse = np.sqrt(np.maximum(cv2.blur(lightness * lightness, (15, 15)) - mean * mean, 0))
    red, green, blue = picture[..., 0], picture[..., 1], picture[..., 2]
    total = red + green + blue + 1.0
    greenness = cv2.GaussianBlur((2 * green - red - blue) / total, (0, 0), 2.0)
    blueness = cv2.GaussianBlur((blue - red) / total, (0, 0), 2.0)
    dark = cv2.blur((lightness < 25).astype(np.float32), (15, 15))
    rows = _row_coherence(lightness)
    base = np.stack([
        lab_fine[..., 0] / 50, lab_fine[..., 1] / 20, lab_fine[..., 2] / 20,
        lab_wide[..., 0] / 50, lab_wide[..., 1] / 20, lab_wide[..., 2] / 20,
        relative / 30, fine / 5, coarse / 10, greenness * 5, blueness * 5, dark, rows,
    ], axis=2).astype(np.float32)
    return np.concatenate([base, base * base], axis=2)


def _row_coherence(grey: np.ndarray) -> np.ndarray:
    """0 for texture without direction, towards 1 for parallel lines (furrows, crop rows)."""
    dx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jyy, jxy = (cv2.blur(v, (11, 11)) for v in (dx * dx, dy * dy, dx * dy))
    return np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (jxx + jyy + 1.0)


def fit(samples: np.ndarray, labels: np.ndarray, steps: int = 600, ridge: float = 1e-3) -> dict:
    """Softmax regression on standardised features, classes weighted to count alike."""
    mean, std = samples.mean(axis=0), samples.std(axis=0) + 1e-6
    x = np.hstack([(samples - mean) / std, np.ones((len(samples), 1), np.float32)])
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float32)
    weight = (1.0 / np.maximum(counts, 1))[labels]
    weight /= weight.sum()
    target = np.eye(len(CLASSES), dtype=np.float32)[labels]
    coefficients = np.zeros((x.shape[1], len(CLASSES)), np.float32)
    rate = 0.5
    velocity = np.zeros_like(coefficients)
    for _ in range(steps):  # plain gradient descent with momentum: a few hundred samples, 27 features
        probability = _softmax(x @ coefficients)
        gradient = x.T @ ((probability - target) * weight[:, None]) + ridge * coefficients
        velocity = 0.9 * velocity - rate * gradient
        coefficients += velocity
    return {"classes": list(CLASSES), "mean": mean.tolist(), "std": std.tolist(),
            "coefficients": coefficients.tolist()}


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def predict(model: dict, feature_rows: np.ndarray) -> np.ndarray:
    """Class index per row of features."""
    mean, std = np.float32(model["mean"]), np.float32(model["std"])
    coefficients = np.float32(model["coefficients"])
    x = (feature_rows - mean) / std
    return (x @ coefficients[:-1] + coefficients[-1]).argmax(axis=1)


@lru_cache(maxsize=1)
def stored_model() -> Optional[dict]:
    if not MODEL_PATH.exists():
        return None
    return json.loads(MODEL_PATH.read_text())


def classify(rgb: np.ndarray, model: Optional[dict] = None) -> Optional[np.ndarray]:
    """Class index (into CLASSES) per pixel, or None when no model is stored."""
    model = model or stored_model()
    if model is None:
        return None
    values = features(rgb)
    height, width, count = values.shape
    return predict(model, values.reshape(-1, count)).reshape(height, width).astype(np.uint8)


# --- Training data --------------------------------------------------------------------------


def samples_from_points(pictures: dict, points: list):
    """Features, class indices, map names and the long side they were taken at, of labelled
    points, each at every TRAINING_SIDES (the map's own size where it is smaller)."""
    rows, labels, maps, sides = [], [], [], []
    for name, picture in pictures.items():
        chosen = [p for p in points if p["map"] == name]
        if not chosen:
            continue
        for side in TRAINING_SIDES:
            factor = min(1.0, side / max(picture.shape[:2]))
            if factor == 1.0 and side != TRAINING_SIDES[0] and max(picture.shape[:2]) <= TRAINING_SIDES[0]:
                continue  # a small map: its one resolution is in already
            scaled = picture if factor == 1.0 else cv2.resize(
                picture, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            values = features(scaled)
            for point in chosen:
                x = min(int(point["x"] * factor), values.shape[1] - 1)
                y = min(int(point["y"] * factor), values.shape[0] - 1)
                rows.append(values[y, x])
                labels.append(CLASSES.index(point["label"]))
                maps.append(name)
                sides.append(side)
    return np.array(rows, np.float32), np.array(labels, np.int64), np.array(maps), np.array(sides)


def leave_one_map_out(samples, labels, maps, sides, extra=None) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true class of every point, each predicted by a reader fitted without its map.

    Each point is judged once, at the survey's resolution (TRAINING_SIDES[0]).
    """
    predicted, truth = [], []
    first = sides == TRAINING_SIDES[0]
    for name in dict.fromkeys(maps):
        held = maps == name
        train_x, train_y = samples[~held], labels[~held]
        if extra is not None:
            train_x, train_y = np.vstack([train_x, extra[0]]), np.concatenate([train_y, extra[1]])
        model = fit(train_x, train_y)
        judged = held & first
        predicted.append(predict(model, samples[judged]))
        truth.append(labels[judged])
    return np.concatenate(predicted), np.concatenate(truth)


def accuracy_table(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Recall per class (share of its points read right) and overall accuracy."""
    table = {}
    for index, name in enumerate(CLASSES):
        mine = truth == index
        if mine.any():
            table[name] = (float((predicted[mine] == index).mean()), int(mine.sum()))
    table["overall"] = (float((predicted == truth).mean()), int(len(truth)))
    return table
