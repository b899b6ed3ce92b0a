"""Outlines for the classic engine: natural shapes inside a brush stroke, the streets' direction.

A visitor's stroke is a brush's outline: zig-zags, straight sides, round ends.
A lake or a wood drawn that way looks cut out. `natural_outline` smooths the
stroke's shape at a scale relative to its width, roughens it a little with
low-frequency noise and keeps it inside the stroke; what lies between the new
outline and the stroke becomes the shore (or stays as it was).

`street_angle` finds the dominant direction of the edges around a region (the
streets, the rows of houses), so built things are turned like their
neighbourhood.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inpainting_core.engines.classic.painters import smooth_noise

# The rounding disc's radius (px) is at most this: enough to round a brush's corners,
# little enough that a round blob keeps most of its area.
MAX_MARGIN = 8

def natural_outline(region: np.ndarray, rng: np.random.Generator, irregularity: float = 0.2) -> np.ndarray:
    """Soft alpha in [0, 1] of a natural shape inside `region` (bool HxW).

    The stroke is shrunk by a margin, then closed and opened with a disc no
    larger than that margin: closing rounds its inner corners, opening its
    outer ones, and neither can reach beyond the stroke. A low-frequency
    wobble then makes the outline irregular, like a shore. All sizes follow
    the stroke's half-width, so a narrow river stroke stays a river and a
    blob becomes a round lake.
    """
    if not region.any():
        return np.zeros(region.shape, np.float32)
    # The picture's edge is not a shore: the stroke continues beyond it.
    pad = 2 * MAX_MARGIN + 4
    area = cv2.copyMakeBorder(region.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if area.all():  # the whole picture is painted: no outline to shape
        return region.astype(np.float32)
    inland = cv2.distanceTransform(area, cv2.DIST_L2, 5)
    half_width = float(np.percentile(inland[area > 0], 95))
    margin = max(1, int(round(min(0.35 * half_width, MAX_MARGIN))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    core = (inland > margin).astype(np.uint8)
    if not core.any():  # a stroke too thin to shape: keep it
        return region.astype(np.float32)
    core = cv2.morphologyEx(core, cv2.MORPH_CLOSE, disc)
    core = cv2.morphologyEx(core, cv2.MORPH_OPEN, disc)
    # signed distance to the smoothed outline (px, positive inside), pushed in by the wobble
    inside = cv2.distanceTransform(core, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - core, cv2.DIST_L2, 5)
    wobble = smooth_noise(rng, core.shape, max(40.0, 0.7 * half_width), octaves=3)
    # the wobble only pushes inwards: the rounded corners stay rounded
    reach = irregularity * max(4 * margin, 0.6 * half_width)  # large strokes get larger bays
    field = inside - outside - np.float32(reach) * np.clip(wobble * 0.5 + 0.5, 0, 1.5)
    field = cv2.GaussianBlur(field, (0, 0), max(1.0, 0.6 * margin))  # no kinks where bays meet
    alpha = np.clip(field / 1.5 + 0.5, 0, 1)[pad:-pad, pad:-pad] * region  # never outside the stroke
    if alpha.max() < 0.5:
        return region.astype(np.float32)
    return _largest_parts(alpha)


def _largest_parts(alpha: np.ndarray) -> np.ndarray:
    """Drop specks the noise cut off: parts under a tenth of the largest one."""
    solid = (alpha >= 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    if count <= 2:
        return alpha.astype(np.float32)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.concatenate(([False], areas >= areas.max() / 10))
    near_kept = cv2.dilate(keep[labels].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return (alpha * near_kept).astype(np.float32)


def ring(alpha: np.ndarray, region: np.ndarray, width: float) -> np.ndarray:
    """Soft band of `width` px outside the shape `alpha`, inside the stroke: a shore, a bank."""
    outside = (alpha < 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    band = np.clip(1 - (distance - width) / max(1.0, width * 0.5), 0, 1)
    return (band * region * (1 - alpha)).astype(np.float32)


def street_angle(rgb: np.ndarray, region: np.ndarray, reach: int = 48) -> float:
    """Dominant direction (radians, modulo 90°) of the edges in a ring around `region`.

    Streets and rows of houses meet at right angles, so gradient directions
    are folded modulo 90° (angle times four) and averaged, weighted by
    gradient strength; the result is the direction of the street grid.
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    dx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    area = region.astype(np.uint8)
    around = (cv2.dilate(area, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0) & (area == 0)
    if around.sum() < 50:
        around = area == 0
    if around.sum() < 50:
        return 0.0
    strength = np.hypot(dx, dy)[around]
    angle = np.arctan2(dy, dx)[around]
    folded = np.exp(4j * angle) * strength
    return float(np.angle(folded.sum()) / 4) % (math.pi / 2)


def long_axis(region: np.ndarray) -> float:
    """The long axis of a region (bool or soft, radians): a bridge, a railway or a river runs along it."""
    rows, columns = np.nonzero(np.asarray(region) > 0.5)
    if rows.size < 3:
        return 0.0
    coords = np.stack([columns, rows]).astype(np.float32)
    coords -= coords.mean(axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(coords @ coords.T)
    main = vectors[:, int(np.argmax(values))]
    return float(math.atan2(main[1], main[0]))
