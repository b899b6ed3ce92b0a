"""Texture for the classic engine: gather windows of the map, quilt them, blend the fill in.

Gather: windows of the map that show the wished land cover. Synthesise: quilt
them (Efros & Freeman), or paint procedurally where the map has none, then
shape the cover. Blend: the fill's colours meet the surroundings at the
region's edge.
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover
from inpainting_core.engines.classic import measures
from inpainting_core.engines.classic.painters import (
    PAINTERS,
    paint_buildings,
    smooth_noise,
)
from inpainting_core.engines.classic.reading import COVER_INDEX, Survey
from inpainting_core.engines.classic.scale import paint_at_scale

PATCH_SIZES = (64, 40, 24)  # quilting patches, largest that the map offers enough of
MIN_EXEMPLARS = 12
MIN_COVER_SHARE = 0.01  # a cover on less of the surveyed map is painted, not quilted
EXEMPLARS_PER_COVER = 96
MAX_COLOUR_SHIFT = 20.0  # how far blending may pull a fill's colour towards its surroundings


# --------------------------------------------------------------------------------
# Gather: windows of the map that show the wished land cover.
# --------------------------------------------------------------------------------


def gather_exemplars(
    survey: Survey, cover: str, rng: np.random.Generator, metres_per_pixel: Optional[float] = None
) -> Optional[np.ndarray]:
    """Up to EXEMPLARS_PER_COVER patches (N, P, P, 3) showing `cover`, or None.

    Windows must show the cover almost alone and lie outside the painted region.
    They are drawn around a few places of the map (the nearer to the region the
    likelier), so the quilt continues a lake or a field, not a mixture. Water is
    taken only from open water (`measures.open_water_bodies`): a dark wood, a
    building's shadow or a dark roof is no lake to quilt from.
    """
    present = survey.labels == COVER_INDEX[cover]
    if cover == landcover.WATER:
        survey_mpp = (metres_per_pixel or 1.0) / survey.factor
        present = measures.open_water_bodies(survey.small, survey_mpp) & ~survey.blocked
        if present.sum() < 400:
            return None
        return gather_where(survey, present, rng, variants=True)
    if cover in SMOOTH_COVERS:  # a meadow is open grass: no gardens with trees, no hedges
        present &= _local_roughness(survey.small) < SMOOTH_ROUGHNESS
    if cover == landcover.FIELD:  # crops and soil are coloured and fairly even: no grey roofs, no town
        lab = measures.lab(survey.small)
        present &= (np.hypot(lab[..., 1], lab[..., 2]) >= FIELD_MIN_CHROMA) & (lab[..., 0] < 80)
        present &= _local_roughness(survey.small) < FIELD_ROUGHNESS
    if cover == landcover.FOREST and present.mean() < MIN_COVER_SHARE:
        present = _tree_crowns(survey.small) & ~survey.blocked  # the map's trees, read as whatever they are
    if present.mean() < MIN_COVER_SHARE:  # a few stray pixels (a red tennis court) are no town
        return None
    return gather_where(survey, present, rng, variants=cover in TURNABLE_COVERS)


def _tree_crowns(rgb: np.ndarray) -> np.ndarray:
    """Rough, green, not bright: crowns and their shadows, where the colour rules read no forest
    (an open wood of single crowns at 0.1 m per pixel, say)."""
    lab = measures.lab(rgb)
    rough = _local_roughness(rgb) > TREE_ROUGHNESS
    return cv2.morphologyEx((rough & (lab[..., 1] < -2) & (lab[..., 0] < 70)).astype(np.uint8),
                            cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0


# Covers without cast shadows or a direction: their patches may be flipped and turned.
TURNABLE_COVERS = (landcover.WATER, landcover.MEADOW, landcover.SNOW, landcover.SAND)


# Covers whose windows must be smooth to be quilted from, and how rough (local std of
# brightness, 7 px) they may be: the demo map's meadows are about 5, Olpe's gardens 12+.
SMOOTH_COVERS = (landcover.MEADOW,)
SMOOTH_ROUGHNESS = 9.0
# Fields to quilt from: at least this coloured (Lab chroma; grey concrete and roofs ~0-8) and
# smoother than a town (local std of brightness; the village's fields 5-10, its houses 15+).
FIELD_MIN_CHROMA = 10.0
TREE_ROUGHNESS = 10.0  # crowns are rougher than lawns and fields (the demo map's meadows ~5)
FIELD_ROUGHNESS = 12.0


def _local_roughness(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (7, 7))
    return np.sqrt(np.maximum(cv2.blur(grey * grey, (7, 7)) - mean * mean, 0))


def gather_where(
    survey: Survey, present: np.ndarray, rng: np.random.Generator, variants: bool = False,
    sizes: tuple[int, ...] = None,
) -> Optional[np.ndarray]:
    """Like `gather_exemplars`, for windows where `present` (survey scale, bool) holds.

    Windows come from ANCHORS places (several sources: no one patch dominates)
    at random offsets; with `variants` each is also flipped or turned at random.
    `sizes` are the patch sizes to try, largest first (PATCH_SIZES unless given).
    """
    found = []
    for patch in sizes or PATCH_SIZES:
        centres = _clean_windows(survey, present, patch)
        if len(centres) >= MIN_EXEMPLARS:
            found.append((patch, centres))
            if len(centres) >= ENOUGH_WINDOWS:
                break
    if not found:
        return None
    # the largest patches that come from enough places; a few windows of one small wood would
    # be quilted over and over (the same path through it, say), so smaller ones from more places
    patch, centres = next(((p, c) for p, c in found if len(c) >= ENOUGH_WINDOWS), found[-1])
    chosen = np.vstack([_around_one_place(centres, survey, patch, rng) for _ in range(ANCHORS)])
    _, first = np.unique(chosen, axis=0, return_index=True)
    chosen = chosen[np.sort(first)]  # anchors near each other share windows: each once, in anchor order
    patches = _cut_patches(survey.source, chosen / survey.factor, patch)
    if variants:
        patches = _turned(patches, rng)
    return patches


ENOUGH_WINDOWS = 60  # clean windows of a patch size for it to be used (else a smaller size)
ANCHORS = 3


def _turned(patches: np.ndarray, rng) -> np.ndarray:
    """Each patch flipped and turned by a random multiple of 90 degrees."""
    turned = np.empty_like(patches)
    for index, (turns, flip) in enumerate(zip(rng.integers(0, 4, len(patches)), rng.integers(0, 2, len(patches)))):
        picture = np.rot90(patches[index], int(turns))
        turned[index] = picture[:, ::-1] if flip else picture
    return turned


def _clean_windows(survey: Survey, present: np.ndarray, patch: int) -> np.ndarray:
    """Survey-scale centres (x, y) of windows that show `present` almost exclusively."""
    side = max(3, int(round(patch * survey.factor)))
    present = present.astype(np.float32)
    share = cv2.boxFilter(present, -1, (side, side), borderType=cv2.BORDER_CONSTANT)
    touched = cv2.boxFilter(survey.blocked.astype(np.float32), -1, (side, side), borderType=cv2.BORDER_CONSTANT)
    usable = (share >= 0.92) & (touched == 0)
    # the whole patch must lie inside the source picture
    margin = int(math.ceil(patch * survey.factor / 2)) + 1
    usable[:margin] = usable[-margin:] = False
    usable[:, :margin] = usable[:, -margin:] = False
    rows, columns = np.nonzero(usable)
    return np.stack([columns, rows], axis=1).astype(np.float32)


def _around_one_place(centres, survey: Survey, patch: int, rng) -> np.ndarray:
    """Windows near one anchor that look like it: one lake, one wood, one parcel."""
    region_rows, region_cols = np.nonzero(survey.blocked)
    region_centre = np.float32([region_cols.mean(), region_rows.mean()]) if region_rows.size else centres.mean(0)
    spread = float(max(survey.labels.shape)) / 4
    near_region = np.exp(-np.linalg.norm(centres - region_centre, axis=1) / spread)
    anchor = int(rng.choice(len(centres), p=near_region / near_region.sum()))
    side = max(3, int(round(patch * survey.factor)))
    colours = cv2.blur(survey.small.astype(np.float32), (side, side))
    colours = colours[centres[:, 1].astype(int), centres[:, 0].astype(int)]
    alike = np.linalg.norm(colours - colours[anchor], axis=1) < 14
    if np.count_nonzero(alike) < MIN_EXEMPLARS:
        alike[:] = True
    near_anchor = np.exp(-np.linalg.norm(centres - centres[anchor], axis=1) / (6 * side)) * alike
    count = min(EXEMPLARS_PER_COVER // ANCHORS, int(np.count_nonzero(near_anchor)))
    picked = rng.choice(len(centres), size=count, replace=False, p=near_anchor / near_anchor.sum())
    return centres[picked]


def _cut_patches(source: np.ndarray, centres: np.ndarray, patch: int) -> np.ndarray:
    height, width = source.shape[:2]
    corners = np.round(centres - patch / 2).astype(np.int64)
    corners[:, 0] = np.clip(corners[:, 0], 0, width - patch)
    corners[:, 1] = np.clip(corners[:, 1], 0, height - patch)
    windows = np.lib.stride_tricks.sliding_window_view(source, (patch, patch), axis=(0, 1))
    # sliding_window_view puts the window axes last: (N, 3, P, P) -> (N, P, P, 3)
    return windows[corners[:, 1], corners[:, 0]].transpose(0, 2, 3, 1).astype(np.float32)


# --------------------------------------------------------------------------------
# Synthesise: quilt the exemplars, or paint procedurally, then shape the cover.
# --------------------------------------------------------------------------------


def synthesise(
    covers: tuple[str, ...],
    sources: dict[str, Optional[np.ndarray]],
    survey: Survey,
    region: np.ndarray,
    rng: np.random.Generator,
    zoom: float = 1.0,
    angle: Optional[float] = None,
    shore: Optional[np.ndarray] = None,
    main: Optional[np.ndarray] = None,
) -> np.ndarray:
    """The fill for the region's bounding box: the main cover, further covers as patches in it.

    `zoom` is the map's size of things relative to the demo map (painters follow
    it), `angle` the street direction (painted houses follow it), `shore` the
    area the main cover really takes (its natural outline), if not the region.
    `main` is the main cover's picture where the caller painted it (water).
    """
    fill = None
    for index, (cover, weight) in enumerate(_cover_layout(covers, region, rng)):
        if index == 0 and main is not None:
            fill = main
            continue
        layer = _texture(cover, sources.get(cover), survey, region.shape, rng, zoom, angle)
        area = shore if (index == 0 and shore is not None) else weight > 0.5
        layer = _shape(cover, layer, area)
        fill = layer if fill is None else fill + (layer - fill) * weight[..., None]
    return fill


def _cover_layout(covers, region: np.ndarray, rng) -> list[tuple[str, np.ndarray]]:
    """The main cover fills the region; each further one takes a few soft-edged blobs inside it.

    "A lake with forest" thus becomes water with wooded islands, "forest with a
    lake" woodland with a pond, both away from the region's edge.
    """
    height, width = region.shape
    layout = [(covers[0], np.ones(region.shape, np.float32))]
    inland = cv2.distanceTransform(_padded_region(region), cv2.DIST_L2, 5)[1:-1, 1:-1]
    edge_room = np.clip((inland - 6) / 6, 0, 1)
    for cover in covers[1:]:
        blobs = smooth_noise(rng, region.shape, max(12.0, min(height, width) / 3), octaves=2)
        # about a quarter of the region, however the few large blobs happen to fall
        level = float(np.percentile(blobs[region], 75)) if region.any() else 0.6
        weight = np.clip((blobs - level) * 3, 0, 1) * edge_room
        layout.append((cover, weight.astype(np.float32)))
    return layout


def _padded_region(region: np.ndarray) -> np.ndarray:
    """The region with a replicated 1 px border: the picture's edge is not a shore."""
    return cv2.copyMakeBorder(region.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)


def _texture(cover, exemplars, survey: Survey, shape, rng, zoom=1.0, angle=None) -> np.ndarray:
    """Exemplars first: the map's own texture; painted (at the map's scale, in its light) if none."""
    if cover in ROW_COVERS:  # parcels: each the texture of one of the map's fields, or painted crops
        from inpainting_core.engines.classic.farmland import paint_farmland
        from inpainting_core.engines.classic.scale import REFERENCE_METRES_PER_PIXEL

        return paint_farmland(rng, shape, REFERENCE_METRES_PER_PIXEL / zoom, angle or 0.0, survey, exemplars)
    if cover == landcover.MEADOW and measures.winter_landscape(survey.small):  # a meadow in winter is snow
        snow = gather_exemplars(survey, landcover.SNOW, rng)
        if snow is not None:
            return quilt(snow, shape, rng)
        return _tint_like_map(paint_at_scale(PAINTERS[landcover.SNOW], rng, shape, zoom), landcover.SNOW, survey)
    if cover == landcover.MEADOW:  # the map's grass, in the colour of the ground around the region
        grass = quilt(exemplars, shape, rng) if exemplars is not None else paint_at_scale(PAINTERS[cover], rng, shape, zoom)
        return _like_the_ground(grass, survey, rng, zoom)
    if cover == landcover.ROAD:  # a road in the map's own road colour: asphalt, or beaten earth on a dry map
        painted = paint_at_scale(PAINTERS[cover], rng, shape, zoom)
        lab = measures.lab(painted)
        lab += _road_colour(survey) - lab.reshape(-1, 3).mean(axis=0)
        lab[..., 0] += smooth_noise(rng, shape, 1.0) * float(np.clip(zoom, 1.0, 4.0))  # grit where pixels are small
        return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255
    if exemplars is not None:
        return quilt(exemplars, shape, rng)
    painter = PAINTERS[cover]
    if cover == landcover.BUILDINGS and angle is not None:
        painter = lambda r, s: paint_buildings(r, s, angle=angle)[0]  # noqa: E731
    painted = paint_at_scale(painter, rng, shape, zoom)
    return _tint_like_map(painted, cover, survey)


def _road_colour(survey: Survey) -> np.ndarray:
    """The map's road colour (Lab): its grey roads, or beaten earth where its ground is dry."""
    lab = measures.lab(survey.small[~survey.blocked].reshape(-1, 1, 3).astype(np.float32)).reshape(-1, 3)
    ground = lab[(lab[:, 2] > 4) & (lab[:, 1] < 0.6 * lab[:, 2]) & (lab[:, 0] > 25) & (lab[:, 0] < 82)]
    if len(ground) > 100:
        median = np.median(ground, axis=0)
        if median[1] > -3 and median[2] > 10:
            return np.float32([min(median[0] + 8, 80.0), median[1] * 0.7, median[2] * 0.75])
    roads = (survey.labels == COVER_INDEX[landcover.ROAD]).ravel()[(~survey.blocked).ravel()]
    grey = lab[roads & (np.hypot(lab[:, 1], lab[:, 2]) < 10) & (lab[:, 0] > 30) & (lab[:, 0] < 75)]
    return np.median(grey, axis=0) if len(grey) > 100 else np.float32([55, 0, 2])


def _like_the_ground(picture: np.ndarray, survey: Survey, rng, zoom: float) -> np.ndarray:
    """`picture` (grass) moved to the colour of the open ground around the region, its texture kept.

    The ground is what the ring around the region shows that is vegetation or
    soil (yellow to green, neither red roofs, grey stone, shadow nor glare):
    a meadow on a dry map is dry grass, on a green one green. Lush and worn
    patches of tens of metres are added: a quilt of small windows has none.
    """
    ring = (cv2.dilate(survey.blocked.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0) & ~survey.blocked
    from inpainting_core.engines.classic.sites import open_ground

    lab = measures.lab(survey.small[ring].reshape(-1, 1, 3).astype(np.float32)).reshape(-1, 3)
    ground = open_ground(lab)
    picture_lab = measures.lab(picture)
    if len(ground) >= 30:
        target = np.median(ground, axis=0)
        picture_lab += target - picture_lab.reshape(-1, 3).mean(axis=0)
    patches = smooth_noise(rng, picture.shape[:2], max(4.0, 20.0 * zoom), octaves=2)
    picture_lab[..., 0] += patches * 3.0
    picture_lab[..., 2] += patches * 1.5
    # grass as rough as the ground around: tufts and bare spots where the quilt is too smooth
    ring_grain = float(np.median(measures.fine_texture(survey.small.astype(np.float32))[ring])) if ring.any() else 0.0
    own_grain = float(np.median(measures.fine_texture(picture)))
    if own_grain < 0.7 * ring_grain:
        tufts = smooth_noise(rng, picture.shape[:2], max(1.5, 2.5 * zoom), octaves=2)
        picture_lab[..., 0] += tufts * min(3.0, 0.3 * (ring_grain - own_grain))
    return cv2.cvtColor(picture_lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255


# Quilting a whole field mixes the row directions of neighbouring parcels: fields are laid out
# in parcels (`farmland`), each quilted from one place of the map's fields or painted.
ROW_COVERS = (landcover.FIELD,)


def _row_palette(exemplars: np.ndarray) -> tuple:
    """Dark and light colour and row contrast of the parcel the exemplars come from."""
    mean = exemplars.reshape(-1, 3).mean(axis=0)
    contrast = float(np.clip(exemplars.mean(axis=3).std(), 6, 16))
    return (tuple(mean - 10), tuple(mean + 10), contrast)


def _tint_like_map(painted: np.ndarray, cover: str, survey: Survey) -> np.ndarray:
    """Colour-match a painted cover to the map in Lab, so it sits in the photo's light.

    Where the map shows the cover (too little to quilt from), the painting takes
    on that cover's mean and spread of colour (Reinhard's transfer, 70 %); where
    it does not (snow on a summer photo), only the map's light: how far the
    map's overall brightness, contrast and colour cast differ from the demo
    map's, which the painters were made for.
    """
    present = survey.labels == COVER_INDEX[cover]
    if cover == landcover.WATER:  # only open water: dark woods and roofs are no colour for a lake
        present &= measures.open_water(survey.small)
    present &= ~survey.blocked
    lab = cv2.cvtColor(np.clip(painted, 0, 255).astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    mean, std = lab.reshape(-1, 3).mean(axis=0), lab.reshape(-1, 3).std(axis=0) + 1e-3
    if present.sum() >= 50:
        target = cv2.cvtColor(survey.small[present].reshape(-1, 1, 3).astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
        target_mean, target_std = target.reshape(-1, 3).mean(axis=0), target.reshape(-1, 3).std(axis=0) + 1e-3
        gain = np.clip(target_std / std, 0.75, 1.3)  # the map's class may mix in other things
        matched = (lab - mean) * gain + target_mean
        lab = lab + 0.7 * (matched - lab)
    else:
        whole = cv2.cvtColor(survey.small.astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(-1, 3)
        light_gain = float(np.clip(whole[:, 0].std() / REFERENCE_LAB_STD[0], 0.8, 1.25))
        lab[..., 0] = (lab[..., 0] - mean[0]) * light_gain + mean[0]
        lab[..., 0] += 0.5 * float(whole[:, 0].mean() - REFERENCE_LAB_MEAN[0])
        lab[..., 1:] += 0.5 * (whole[:, 1:].mean(axis=0) - REFERENCE_LAB_MEAN[1:])
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255


# Lab statistics (float Lab, L 0-100) of the demo map, in whose light the painters paint;
# tests/test_engine_classic.py checks them against tooling.demo.
REFERENCE_LAB_MEAN = np.float32([43.0, -10.0, 18.2])
REFERENCE_LAB_STD = np.float32([17.0, 8.5, 13.1])


def quilt(exemplars: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Image quilting (Efros & Freeman) on an uneven lattice, with hidden seams.

    Tiles are laid in rows of random heights, each row's tiles at random widths
    from a random start, so neither the seams nor the tiles lie on a regular grid
    (the eye finds a grid at once, and so does an autocorrelation: on a regular
    lattice the quilt's strongest repetition was the lattice's step). Overlaps are
    wide: at least OVERLAP_SHARE of a patch, wider where a step comes out short.
    For every tile, all candidates' squared difference to the already-filled
    overlap is computed at once and one of the best few is taken (variety
    without visible seams). The tile then replaces the canvas beyond the
    cheapest seam through the overlap, so crowns and furrows are cut along
    their own edges instead of being averaged into a blur.
    """
    patch = exemplars.shape[1]
    overlap = max(4, int(round(patch * OVERLAP_SHARE)))
    uses = np.zeros(len(exemplars), np.float32)
    height, width = shape
    canvas = np.zeros((height + 2 * patch, width + 2 * patch, 3), np.float32)
    strips = _Strips(exemplars)
    for row, (top, top_overlap) in enumerate(_uneven_starts(height, patch, overlap, rng)):
        for column, (left, left_overlap) in enumerate(_uneven_starts(width, patch, overlap, rng)):
            target = canvas[top : top + patch, left : left + patch]
            overlaps = (top_overlap if row > 0 else 0, left_overlap if column > 0 else 0)
            index = _pick(strips, target, overlaps, rng, uses)
            uses[index] += 1
            chosen = exemplars[index]
            weight = _seam_weight(((chosen - target) ** 2).sum(axis=2), overlaps)
            target += (chosen - target) * weight[..., None]
    return canvas[patch : patch + height, patch : patch + width]


OVERLAP_SHARE = 0.4  # a tile overlaps its neighbours by at least this share of a patch
SHORTEST_STEP = 0.6  # steps between tiles vary from this share of the longest step up to it


def _uneven_starts(length: int, patch: int, overlap: int, rng) -> list[tuple[int, int]]:
    """Where tiles start along one side (canvas coordinates, `patch` px of margin first) and how
    far each overlaps the one before: a random first offset and random steps."""
    longest = patch - overlap
    shortest = max(2, int(round(SHORTEST_STEP * longest)))
    start = patch - int(rng.integers(0, longest))
    starts = [(start, 0)]
    while start + patch < patch + length:
        step = int(rng.integers(shortest, longest + 1))
        start += step
        starts.append((start, patch - step))
    return starts


class _Strips:
    """The exemplars' overlap strips on every other pixel, laid out for matrix products.

    The error of every exemplar against a tile's overlap is then one product
    (|e|² - 2 e·t + |t|²), with |e|² summed up front for every strip width.
    """

    def __init__(self, exemplars: np.ndarray):
        half = np.ascontiguousarray(exemplars[:, ::2, ::2])
        self.rows = half  # top strips: the first k rows
        self.columns = np.ascontiguousarray(half.transpose(0, 2, 1, 3))  # left strips: the first k columns
        squares = (half.astype(np.float64) ** 2)
        self.rows_squared = np.concatenate(
            [np.zeros((len(half), 1)), np.cumsum(squares.sum(axis=(2, 3)), axis=1)], axis=1)
        self.columns_squared = np.concatenate(
            [np.zeros((len(half), 1)), np.cumsum(squares.sum(axis=(1, 3)), axis=1)], axis=1)

    def errors(self, target: np.ndarray, top: int, left: int) -> np.ndarray:
        """Mean squared difference of each exemplar to `target`'s top and left overlap."""
        errors = np.zeros(len(self.rows), np.float64)
        half = target[::2, ::2]
        for strips, squared, width, wanted in ((self.rows, self.rows_squared, top, half),
                                               (self.columns, self.columns_squared, left,
                                                half.transpose(1, 0, 2))):
            if not width:
                continue
            k = (width + 1) // 2
            flat = strips[:, :k].reshape(len(strips), -1)
            wanted = np.ascontiguousarray(wanted[:k]).ravel()
            error = squared[:, k] - 2.0 * (flat @ wanted) + float(wanted @ wanted)
            errors += np.maximum(error, 0) / wanted.size
        return errors.astype(np.float32)


def _pick(strips: _Strips, target, overlaps, rng, uses) -> int:
    """One of the best few patches for the overlap; a patch used before counts as worse.

    `overlaps` are the top and the left overlap (px, 0 where there is none),
    compared on every other pixel: a quarter of the work and the same choice.
    """
    top, left = overlaps
    if not (top or left):
        return int(np.argmin(uses + rng.random(len(uses))))
    errors = strips.errors(target, top, left)
    errors *= 1 + REUSE_PENALTY * uses
    good = np.flatnonzero(errors <= errors.min() * 1.1 + 1e-3)
    best_few = np.argsort(errors)[: max(BEST_FEW, len(good))]
    return int(rng.choice(best_few))


REUSE_PENALTY = 0.6  # a patch's overlap error grows by this share with every use: no repeated tile
BEST_FEW = 4  # a tile is one of this many best-fitting patches at random


def _seam_weight(error: np.ndarray, overlaps: tuple[int, int]) -> np.ndarray:
    """Where the new tile shows (1) or the canvas stays (0), split along minimal-error seams.

    `overlaps` are the top and the left overlap (px, 0 where there is none).
    """
    top, left = overlaps
    weight = np.ones(error.shape, np.float32)
    if left:
        weight *= _beyond_seam(error[:, :left], error.shape[1])
    if top:
        weight *= _beyond_seam(error[:top, :].T, error.shape[0]).T
    if left or top:
        weight = cv2.GaussianBlur(weight, (5, 5), 1.2)  # soften the cut
    return weight


def _beyond_seam(error: np.ndarray, length: int) -> np.ndarray:
    """Mask of pixels right of the cheapest top-to-bottom path through `error` (rows x overlap).

    Dynamic programming over the rows, on Python lists: the strips are a few
    dozen pixels wide, where numpy's per-call cost would dominate.
    """
    rows = error.tolist()
    width = len(rows[0])
    cost = [rows[0]]
    choices = []
    for values in rows[1:]:
        above = cost[-1]
        here, came_from = [], []
        for column in range(width):
            best = column
            if column and above[column - 1] < above[best]:
                best = column - 1
            if column + 1 < width and above[column + 1] < above[best]:
                best = column + 1
            here.append(values[column] + above[best])
            came_from.append(best)
        cost.append(here)
        choices.append(came_from)
    column = min(range(width), key=cost[-1].__getitem__)
    path = [column]
    for came_from in reversed(choices):
        column = came_from[column]
        path.append(column)
    path = np.array(path[::-1], np.int64)
    return (np.arange(length)[None, :] >= path[:, None]).astype(np.float32)


def _shape(cover: str, layer: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Cover-specific touches that depend on the region's shape."""
    if cover == landcover.WATER:
        return _shape_water(layer, area)
    return layer


def _shape_water(layer: np.ndarray, area: np.ndarray) -> np.ndarray:
    """A dark line at the shore, lighter shallows, then deeper, darker water towards the middle."""
    inland = cv2.distanceTransform(_padded_region(area), cv2.DIST_L2, 5)[1:-1, 1:-1]
    reach = max(8.0, 0.2 * min(area.shape))
    depth = np.clip((inland - 4) / reach, 0, 1)
    shore_line = np.clip(1 - inland / 2.5, 0, 1) * area
    shallows = np.clip(1 - np.abs(inland - 5) / 4, 0, 1)
    shade = (1 - 0.12 * depth) * (1 - 0.2 * shore_line) * (1 + 0.07 * shallows)
    return layer * shade[..., None]


# --------------------------------------------------------------------------------
# Blend: the fill's colours meet the surroundings at the region's edge.
# --------------------------------------------------------------------------------


def ragged_edge(cover: str, alpha: np.ndarray, fill: np.ndarray, box) -> np.ndarray:
    """A wood ends in single crowns: near the edge, only the fill's bright crowns stay.

    The gaps between them show the old ground, so a new forest does not look cut out.
    """
    if cover != landcover.FOREST:
        return alpha
    sub_alpha = alpha[box]
    inland = cv2.distanceTransform(_padded_region(_visible_core(sub_alpha)), cv2.DIST_L2, 5)[1:-1, 1:-1]
    edge_zone = np.clip(1 - inland / 8.0, 0, 1)
    brightness = fill.mean(axis=2)
    low, high = np.percentile(brightness, [35, 65])
    crowns = np.clip((brightness - low) / max(high - low, 1.0), 0, 1)
    crowns = cv2.GaussianBlur(crowns, (0, 0), 1.0)
    shaped = alpha.copy()
    shaped[box] = sub_alpha * (1 - edge_zone * (1 - crowns))
    return shaped


def blend(crop: np.ndarray, fill: np.ndarray, alpha: np.ndarray, box, band: Optional[float] = None) -> np.ndarray:
    """Poisson-blend the fill near the edge, keep its own colours inside, honour soft edges.

    seamlessClone alone drags the surroundings' colour into the whole region (a
    lake in a meadow turns green), so only a band along the edge takes the
    Poisson correction, and only up to MAX_COLOUR_SHIFT: a forest meeting a
    forest joins without a seam, a new lake keeps the colour of water. `band`
    (px) is that band's width where the painter knows it (a lake's shore).
    """
    sub_region = alpha[box] > 0
    surroundings = crop[box]
    cloned = _seamless_clone(_to_uint8(fill), surroundings, sub_region).astype(np.float32)
    inland = cv2.distanceTransform(_padded_region(sub_region), cv2.DIST_L2, 5)[1:-1, 1:-1]
    band = float(np.clip(0.08 * min(sub_region.shape), 3, 16)) if band is None else max(1.0, band)
    falloff = np.clip(1 - inland / band, 0, 1)[..., None]
    offset = np.clip(cloned - fill, -MAX_COLOUR_SHIFT, MAX_COLOUR_SHIFT)
    return _laid_over(crop, fill + offset * falloff, alpha, box)


def _laid_over(crop: np.ndarray, fill: np.ndarray, alpha: np.ndarray, box) -> np.ndarray:
    """The crop with the fill laid over its box, as opaque as the mask; exact where alpha is 0."""
    result = crop.copy()
    before = crop[box].astype(np.float32)
    result[box] = _to_uint8(before + (fill - before) * alpha[box][..., None])
    return result


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


# The thinnest region (px) whose colours cv2.seamlessClone can solve for.
POISSON_MIN_SIDE = 3


def _seamless_clone(source: np.ndarray, destination: np.ndarray, region: np.ndarray) -> np.ndarray:
    """cv2.seamlessClone for a region that may touch the picture's edge.

    OpenCV needs the mask's bounding box strictly inside the destination; a
    reflected border of 2 px around everything satisfies that, and is cut off again.
    A region thinner than POISSON_MIN_SIDE has no interior to solve for (OpenCV
    fails on it): the source comes back unchanged, so the fill keeps its colours.
    """
    rows, columns = np.nonzero(region)
    if rows.size == 0 or min(np.ptp(rows), np.ptp(columns)) + 1 < POISSON_MIN_SIDE:
        return np.ascontiguousarray(source)
    pad = 2
    border = cv2.BORDER_REFLECT
    src = cv2.copyMakeBorder(np.ascontiguousarray(source), pad, pad, pad, pad, border)
    dst = cv2.copyMakeBorder(np.ascontiguousarray(destination), pad, pad, pad, pad, border)
    mask = cv2.copyMakeBorder(region.astype(np.uint8) * 255, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(mask)
    cloned = cv2.seamlessClone(src, dst, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return cloned[pad:-pad, pad:-pad]


def _padded_bbox(region: np.ndarray, shape, margin: int) -> tuple[slice, slice]:
    rows, columns = np.nonzero(region)
    top, bottom = max(0, rows.min() - margin), min(shape[0], rows.max() + 1 + margin)
    left, right = max(0, columns.min() - margin), min(shape[1], columns.max() + 1 + margin)
    return slice(top, bottom), slice(left, right)



def _visible_core(alpha: np.ndarray) -> np.ndarray:
    """Where the new cover shows at least half: shores and forest edges are measured from here."""
    core = alpha >= 0.5
    return core if core.any() else alpha > 0

