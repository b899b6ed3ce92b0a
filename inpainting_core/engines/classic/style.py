"""Drawn and historic maps: recognise them, and paint on them in their own style.

A line drawing or a scanned old map is mostly paper with ink lines; photo
textures pasted onto it look wrong. `is_drawn` recognises such a map by its
colour statistics (one paper colour covers most of it, little saturation);
`paint_drawn` then quilts the map's own paper (with its stains and fine
lines) from near the region and draws the wished cover as a map maker would,
in the map's ink: hatching for water, tree symbols for a wood, hatched
blocks for houses, dots for fields, double lines for roads.
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover
from inpainting_core.engines.classic.painters import smooth_noise

PAPER_SHARE = 0.45  # a drawn map: at least this share of pixels is its paper colour
MAX_SATURATION = 60  # median saturation (0-255) of a drawn or sepia map


def paper_and_ink(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The map's paper colour (its bright mode) and ink colour (its darkest tenth)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    bright = grey >= np.percentile(grey, 60)
    dark = grey <= np.percentile(grey, 5)
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    return np.median(pixels[bright.ravel()], axis=0), np.median(pixels[dark.ravel()], axis=0)


def is_drawn(rgb: np.ndarray) -> bool:
    """Whether the map is a line drawing or an old map rather than a photo."""
    small = cv2.resize(rgb, (256, max(1, round(256 * rgb.shape[0] / rgb.shape[1]))), interpolation=cv2.INTER_AREA)
    saturation = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1]
    if np.median(saturation) > MAX_SATURATION:
        return False
    paper, _ink = paper_and_ink(small)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    paper_lab = cv2.cvtColor(paper.reshape(1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)[0, 0]
    share = float(np.mean(np.linalg.norm(lab - paper_lab, axis=2) < 14))
    return share >= PAPER_SHARE


def paint_drawn(
    rng: np.random.Generator,
    cover: Optional[str],
    paper_texture: np.ndarray,
    outline: np.ndarray,
    ink: np.ndarray,
    angle: float,
    zoom: float,
) -> np.ndarray:
    """The map's own paper with the cover drawn in its ink inside `outline` (alpha in [0, 1])."""
    shape = outline.shape
    image = paper_texture.astype(np.float32).copy()
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    inside = outline >= 0.5
    spacing = max(3.0, 5.0 * zoom)
    strokes = np.zeros(shape, np.float32)
    if cover == landcover.WATER:
        wave = np.sin(xx / (3 * spacing)) * spacing * 0.15
        strokes = _lines((yy + wave) % spacing, spacing) * inside
    elif cover == landcover.FOREST:
        strokes = _symbols(rng, shape, spacing * 2.2, _tree_symbol) * inside
    elif cover == landcover.BUILDINGS:
        u = xx * math.cos(angle) + yy * math.sin(angle)
        v = -xx * math.sin(angle) + yy * math.cos(angle)
        block = 6 * spacing
        houses = ((u % block) < block * 0.7) & ((v % block) < block * 0.6)
        hatch = _lines((u + v) % (spacing * 0.8), spacing * 0.8)
        strokes = np.maximum(hatch * houses, _edges(houses.astype(np.float32))) * inside
    elif cover in (landcover.FIELD, landcover.MEADOW, landcover.SAND):
        strokes = _symbols(rng, shape, spacing * 1.5, _dot) * inside
    elif cover == landcover.ROAD:
        strokes = np.zeros(shape, np.float32)
    outline_line = _edges(inside.astype(np.float32))
    strokes = np.clip(np.maximum(strokes, outline_line), 0, 1)
    jitter = np.clip(0.85 + 0.15 * smooth_noise(rng, shape, 6), 0, 1)
    return image + (ink - image) * (strokes * jitter)[..., None]


def _lines(phase: np.ndarray, spacing: float) -> np.ndarray:
    return np.clip(1.2 - np.abs(phase - spacing / 2), 0, 1)


def _edges(mask: np.ndarray) -> np.ndarray:
    eroded = cv2.erode(mask, np.ones((3, 3), np.uint8))
    return np.clip(mask - eroded, 0, 1)


def _symbols(rng, shape, spacing, stamp) -> np.ndarray:
    canvas = np.zeros(shape, np.float32)
    rows = np.arange(spacing / 2, shape[0], spacing)
    columns = np.arange(spacing / 2, shape[1], spacing)
    for row_index, row in enumerate(rows):
        offset = spacing / 2 if row_index % 2 else 0
        for column in columns:
            jitter = rng.uniform(-0.2, 0.2, 2) * spacing
            stamp(canvas, (int(column + offset + jitter[0]), int(row + jitter[1])), spacing)
    return canvas


def _tree_symbol(canvas, centre, spacing):
    cv2.circle(canvas, centre, max(1, int(spacing * 0.28)), 1.0, 1, cv2.LINE_AA)


def _dot(canvas, centre, spacing):
    cv2.circle(canvas, centre, max(1, int(spacing * 0.08)), 1.0, -1, cv2.LINE_AA)


def ink_plan(paper: np.ndarray, painted: np.ndarray, ink: np.ndarray, region: np.ndarray) -> np.ndarray:
    """A painted structure redrawn as a plan: its edges in ink, its footprint hatched, on the paper."""
    changed = (np.abs(painted - paper).max(axis=2) > 12) & region
    grey = cv2.GaussianBlur(painted.mean(axis=2).astype(np.float32), (0, 0), 0.7)
    edges = cv2.Canny(np.clip(grey, 0, 255).astype(np.uint8), 25, 60) > 0
    footprint = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    yy, xx = np.mgrid[0 : paper.shape[0], 0 : paper.shape[1]]
    hatch = ((xx + yy) % 5 == 0) & footprint
    strokes = np.maximum(edges & footprint, _edges(footprint.astype(np.float32)) > 0).astype(np.float32)
    strokes = np.maximum(strokes, hatch * 0.45)
    return paper.astype(np.float32) + (ink - paper) * strokes[..., None]
