"""Healing: fill a region from the picture around it, continuing what runs into it.

An exemplar-based fill, coarse to fine:

* At the coarsest level the hole is a few pixels wide. It is filled the way
  Criminisi, Pérez & Toyama fill a hole: patch by patch from its edge
  inwards, the next patch where the known picture is surest and where a
  strong edge (a road's side, a row of a field, a shore) runs into the hole,
  each copied from the known patch that matches best. So roads, field
  stripes and edges continue through the hole in their own direction,
  instead of being smeared towards its centre.
* Every finer level starts from the coarser one's matches and refines them
  with PatchMatch (Barnes et al.; jump-flooding propagation and random
  search, vectorised). Two terms keep the texture the ring's own: a
  coherence bonus (a pixel prefers the offset its neighbours copy from, so
  the fill is made of whole pieces of the map, not a mosaic that averages
  into a smear) and an occurrence penalty (Kaspar et al.'s: a place of the
  map copied from already costs more, so one path is not copied over and
  over into a ladder).
* Each pixel then takes its own match's pixel; only where neighbouring
  pieces meet are their pixels averaged, so seams are soft and the pieces
  keep the map's grain (no blurred votes).

Why not a library: OpenCV contrib's shift-map inpainting (`cv2.xphoto`)
looks as good on the shared maps but takes 1.2-13 s for a 300-512 px region
on this machine (the engine's budget is under 1 s), and its FSR modes blur.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
from PIL import Image

STEP = 3  # descriptor samples every STEP px ...
REACH = STEP  # ... up to REACH px from the centre: a 7x7 patch at 3x3 points
COARSEST_WIDTH = 9.0  # px: the hole's half-width at the coarsest level
MIN_LEVEL_SIDE = 24  # px: no level smaller than this
MAX_GREEDY_PIXELS = 800  # the coarsest level's hole at most this large (its fill loops over patches)
COARSE_PATCH = 2  # the coarse fill's patch reach (5x5)
COHERENCE = 1.5  # share of the typical match cost a pixel saves by copying like its neighbours
MAX_REFINED_PIXELS = 100_000  # a larger hole is copied at full size from its half-size matches
LOCAL_REACH = 6  # px: below the coarsest level, matches move only this far (structure is settled)
OCCURRENCE = 0.35  # share of the typical match cost per use beyond a fair share of a source


# The ring a hole is healed from reaches at least this far beyond it, in its own half-widths
# (the map around the crop is added where the crop's own padding is thinner), at most MAX_RING px.
RING_HALF_WIDTHS = 1.0
MAX_RING = 256


def heal_crop(
    crop: np.ndarray,
    hole: np.ndarray,
    rng: np.random.Generator,
    context: Optional[Image.Image] = None,
    crop_box: Optional[tuple[int, int, int, int]] = None,
) -> np.ndarray:
    """`crop` (float RGB) healed where `hole` is, from a ring as wide as the hole is deep.

    The crop's own padding around a large hole is thin: little to copy from, so
    pieces repeat. Where the map (`context`, with the crop at `crop_box`) is
    given, the ring is widened from it, at the crop's scale.
    """
    crop = np.asarray(crop, np.float32)
    if context is None or crop_box is None or not hole.any():
        return heal(crop, hole, rng)
    rows, columns = np.nonzero(hole)
    half_width = float(cv2.distanceTransform(np.pad(hole.astype(np.uint8), 1), cv2.DIST_L2, 5).max())
    ring = min(MAX_RING, RING_HALF_WIDTHS * half_width)
    # how far the crop already reaches beyond the hole on each side
    height, width = hole.shape
    grow = [max(0.0, ring - rows.min()), max(0.0, ring - (height - 1 - rows.max())),
            max(0.0, ring - columns.min()), max(0.0, ring - (width - 1 - columns.max()))]
    if max(grow) < 1:
        return heal(crop, hole, rng)
    left, top, right, bottom = crop_box
    scale = width / max(1, right - left)  # crop pixels per map pixel
    map_w, map_h = context.size
    window = (max(0, int(left - grow[2] / scale)), max(0, int(top - grow[0] / scale)),
              min(map_w, int(np.ceil(right + grow[3] / scale))), min(map_h, int(np.ceil(bottom + grow[1] / scale))))
    picture = context.crop(window).convert("RGB")
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    if size != picture.size:
        picture = picture.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)
    big = np.asarray(picture, np.float32).copy()
    y0, x0 = round((top - window[1]) * scale), round((left - window[0]) * scale)
    y0, x0 = min(y0, big.shape[0] - height), min(x0, big.shape[1] - width)
    if y0 < 0 or x0 < 0:
        return heal(crop, hole, rng)
    big[y0 : y0 + height, x0 : x0 + width] = crop  # the crop itself, exactly
    big_hole = np.zeros(big.shape[:2], bool)
    big_hole[y0 : y0 + height, x0 : x0 + width] = hole
    return heal(big, big_hole, rng)[y0 : y0 + height, x0 : x0 + width]


def heal(picture: np.ndarray, hole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`picture` (float RGB HxWx3) with `hole` (bool HxW) filled from the rest of it."""
    picture = np.asarray(picture, np.float32)
    if not hole.any():
        return picture.copy()
    if hole.all():
        return np.broadcast_to(picture.reshape(-1, 3).mean(axis=0), picture.shape).copy()
    pyramid = _pyramid(picture, hole)
    nnf = None
    estimate = None
    shifts = np.zeros((0, 2), np.int64)
    for level in range(len(pyramid) - 1, -1, -1):
        known, level_hole = pyramid[level]
        solver = _Level(known, level_hole, rng)
        if solver.source_ys.size < 16:  # the ring is too thin at this level: start finer
            estimate, nnf = _smooth_fill(known, level_hole), None
            continue
        if nnf is None:
            nnf = solver.greedy_fill(estimate)
            shifts = solver.dominant_shifts()
        else:
            nnf = solver.upsampled(nnf)
            shifts = shifts * 2
        finest, coarsest = level == 0, level == len(pyramid) - 1
        radius = 1 if finest else 2
        # a very large hole keeps the matches of the level above at full size (time)
        rounds = (0 if solver.ys.size > MAX_REFINED_PIXELS else 1) if finest else (6 if coarsest else 2)
        for _ in range(rounds):
            estimate = solver.reconstruct(nnf, radius)
            nnf = solver.search(estimate, nnf, jumps=2 if finest else 3, tries=2 if finest else 3,
                                shifts=() if finest else shifts, reach=None if coarsest else LOCAL_REACH)
        estimate = solver.reconstruct(nnf)
    return estimate


def _pyramid(picture: np.ndarray, hole: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(picture, hole) halved until the hole is COARSEST_WIDTH px wide and has at most
    MAX_GREEDY_PIXELS (a long thin stroke: the patch-by-patch fill is a loop), or the picture is small."""
    half_width = float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5).max())
    area = float(hole.sum())
    levels = 0
    while ((half_width / 2 ** (levels + 1) >= COARSEST_WIDTH or area / 4**levels > MAX_GREEDY_PIXELS)
           and min(picture.shape[:2]) / 2 ** (levels + 1) >= MIN_LEVEL_SIDE):
        levels += 1
    pyramid = [(picture, hole)]
    for _ in range(levels):
        small, small_hole = pyramid[-1]
        size = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))
        shrunk = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        shrunk_hole = cv2.resize(small_hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        pyramid.append((shrunk, shrunk_hole))
    return pyramid


def _smooth_fill(picture: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Telea's fast marching fill: only where a level has no patches to copy from."""
    filled = cv2.inpaint(np.clip(picture, 0, 255).astype(np.uint8), hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    result = picture.copy()
    result[hole] = filled[hole]
    return result


class _Level:
    """One level of the pyramid: the hole, the patches that may be copied, their descriptors."""

    def __init__(self, known: np.ndarray, hole: np.ndarray, rng: np.random.Generator):
        self.known, self.hole, self.rng = known, hole, rng
        self.height, self.width = hole.shape
        grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * REACH + 1,) * 2, np.uint8)) > 0
        sources = ~grown
        sources[:REACH], sources[-REACH:], sources[:, :REACH], sources[:, -REACH:] = False, False, False, False
        self.sources = sources
        self.source_ys, self.source_xs = np.nonzero(sources)
        self.ys, self.xs = np.nonzero(hole)
        self.index = np.full(hole.shape, -1, np.int64)
        self.index[self.ys, self.xs] = np.arange(self.ys.size)
        # each source pixel's fair share of uses: every hole pixel's patch covers (2 REACH + 1)^2
        self.fair_share = max(1.0, self.ys.size / max(1, self.source_ys.size))

    @property
    def source_descriptors(self) -> np.ndarray:
        if not hasattr(self, "_descriptors"):
            self._descriptors = _descriptors(self.known)
        return self._descriptors

    # --- The coarsest level: Criminisi's greedy fill ---------------------------------------

    def greedy_fill(self, estimate=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fill the hole patch by patch from its edge inwards (Criminisi et al. 2004).

        The next patch is where the front has the most known pixels around it and
        where an edge runs into the hole across the front; it is copied from the
        known patch that matches its known part best (a patch copied before counts
        as a little worse). Returns each hole pixel's source (the NNF).
        """
        k = COARSE_PATCH
        side = 2 * k + 1
        image = self.known.copy()
        filled = ~self.hole
        confidence = filled.astype(np.float32)
        sy = np.zeros(self.ys.size, np.int64)
        sx = np.zeros(self.ys.size, np.int64)
        # candidate source patches: fully known, inside the picture
        ok = cv2.erode((~self.hole).astype(np.uint8), np.ones((side, side), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        cand_y, cand_x = np.nonzero(ok)
        if cand_y.size == 0:
            return self._random_nnf()
        windows = np.lib.stride_tricks.sliding_window_view(
            cv2.copyMakeBorder(self.known, k, k, k, k, cv2.BORDER_REFLECT), (side, side), axis=(0, 1))
        patches = windows[cand_y, cand_x].transpose(0, 2, 3, 1).reshape(cand_y.size, -1)  # (N, side*side*3)
        uses = np.zeros(cand_y.size, np.float32)
        grey = self.known.mean(axis=2)
        padded_image = cv2.copyMakeBorder(image, k, k, k, k, cv2.BORDER_REFLECT)
        padded_filled = cv2.copyMakeBorder(filled.astype(np.uint8), k, k, k, k, cv2.BORDER_CONSTANT, value=0)
        remaining = int((~filled).sum())
        offsets_y, offsets_x = np.mgrid[-k : k + 1, -k : k + 1]
        for _ in range(remaining + 1):
            if remaining == 0:
                break
            front = (cv2.dilate(filled.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~filled
            fy, fx = np.nonzero(front)
            # confidence: the mean confidence of each front pixel's patch
            conf = cv2.blur(confidence, (side, side), borderType=cv2.BORDER_CONSTANT)[fy, fx]
            # data: how strongly an edge of the known picture runs across the front (isophote . normal)
            grey = np.where(filled, image.mean(axis=2), grey)
            data = _isophote_flux(grey, filled, fy, fx)
            best = int(np.argmax(conf * (data + 0.05)))
            py, px = int(fy[best]), int(fx[best])
            target = padded_image[py : py + side, px : px + side].reshape(-1)
            mask = np.repeat(padded_filled[py : py + side, px : px + side].reshape(-1), 3).astype(np.float32)
            errors = ((patches - target) ** 2 * mask).sum(axis=1) / max(1.0, mask.sum())
            errors *= 1 + 0.3 * uses
            pick = int(np.argmin(errors))
            uses[pick] += 1
            qy, qx = int(cand_y[pick]), int(cand_x[pick])
            ty, tx = py + offsets_y.ravel(), px + offsets_x.ravel()
            inside = (ty >= 0) & (ty < self.height) & (tx >= 0) & (tx < self.width)
            ty, tx = ty[inside], tx[inside]
            oy, ox = offsets_y.ravel()[inside], offsets_x.ravel()[inside]
            new = ~filled[ty, tx]
            ty, tx, oy, ox = ty[new], tx[new], oy[new], ox[new]
            image[ty, tx] = self.known[qy + oy, qx + ox]
            padded_image[ty + k, tx + k] = image[ty, tx]
            filled[ty, tx] = True
            padded_filled[ty + k, tx + k] = 1
            confidence[ty, tx] = conf[best]
            at = self.index[ty, tx]
            sy[at], sx[at] = qy + oy, qx + ox
            remaining -= ty.size
        return self._valid(sy, sx)

    def dominant_shifts(self, count: int = 12) -> np.ndarray:
        """The shifts (dy, dx) by which the picture around the hole repeats itself most often.

        He & Sun's statistics of patch offsets: every patch near the hole is
        matched to its most similar patch elsewhere (at least a patch's width
        away); the most common shifts are how a road, a row of houses or a field's
        stripes continue. Trying them everywhere lets a whole area copy one
        coherent piece that continues what runs into it.
        """
        near = (cv2.dilate(self.hole.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0) & self.sources
        qy, qx = np.nonzero(near)
        if qy.size < 4 or self.source_ys.size < 16:
            return np.zeros((0, 2), np.int64)
        if qy.size > 600:
            keep = self.rng.choice(qy.size, 600, replace=False)
            qy, qx = qy[keep], qx[keep]
        sy, sx = self.source_ys, self.source_xs
        if sy.size > 3000:
            keep = self.rng.choice(sy.size, 3000, replace=False)
            sy, sx = sy[keep], sx[keep]
        queries = self.source_descriptors[qy, qx]
        candidates = self.source_descriptors[sy, sx]
        distance = ((queries**2).sum(1)[:, None] + (candidates**2).sum(1)[None, :]
                    - 2 * queries @ candidates.T)
        reach = 2 * REACH + 2
        near_self = (np.abs(qy[:, None] - sy[None, :]) < reach) & (np.abs(qx[:, None] - sx[None, :]) < reach)
        distance[near_self] = np.inf
        best = np.argmin(distance, axis=1)
        dy, dx = sy[best] - qy, sx[best] - qx
        side = 2 * max(self.height, self.width) + 1
        histogram = np.zeros((side, side), np.float32)
        np.add.at(histogram, (dy + side // 2, dx + side // 2), 1.0)
        histogram = cv2.GaussianBlur(histogram, (0, 0), 1.0)
        peaks = (histogram == cv2.dilate(histogram, np.ones((5, 5), np.uint8))) & (histogram > 0)
        py, px = np.nonzero(peaks)
        order = np.argsort(-histogram[py, px])[:count]
        return np.stack([py[order] - side // 2, px[order] - side // 2], axis=1).astype(np.int64)

    def _random_nnf(self):
        pick = self.rng.integers(0, self.source_ys.size, self.ys.size)
        return self.source_ys[pick].copy(), self.source_xs[pick].copy(), self.index

    def _valid(self, sy, sx):
        """Matches that are not sources (a coarse patch's edge) move to the nearest source."""
        bad = ~self.sources[sy, sx]
        if bad.any():
            _, labels = cv2.distanceTransformWithLabels((~self.sources).astype(np.uint8), cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
            lookup_y = np.zeros(labels.max() + 1, np.int64)
            lookup_x = np.zeros(labels.max() + 1, np.int64)
            lookup_y[labels[self.sources]] = self.source_ys
            lookup_x[labels[self.sources]] = self.source_xs
            nearest = labels[sy[bad], sx[bad]]
            sy, sx = sy.copy(), sx.copy()
            sy[bad], sx[bad] = lookup_y[nearest], lookup_x[nearest]
        return sy, sx, self.index

    # --- Finer levels: PatchMatch with coherence and occurrence -----------------------------

    def upsampled(self, coarser) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Matches for every hole pixel from the coarser level's (twice the offset).

        A match that lands on no source here (next to the hole, or off the
        picture) moves to the nearest source, so no pixel starts at random.
        """
        coarse_y, coarse_x, coarse_index = coarser
        cy = np.minimum(self.ys // 2, coarse_index.shape[0] - 1)
        cx = np.minimum(self.xs // 2, coarse_index.shape[1] - 1)
        at = coarse_index[cy, cx]
        # a pixel the coarser hole missed takes the match of the nearest coarse hole pixel
        missing = at < 0
        if missing.any():
            _, labels = cv2.distanceTransformWithLabels((coarse_index < 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
            hole_y, hole_x = np.nonzero(coarse_index >= 0)
            lookup = np.zeros(labels.max() + 1, np.int64)
            lookup[labels[hole_y, hole_x]] = coarse_index[hole_y, hole_x]
            at = np.where(missing, lookup[labels[cy, cx]], at)
        uy = np.clip(2 * coarse_y[at] + (self.ys - 2 * cy), 0, self.height - 1)
        ux = np.clip(2 * coarse_x[at] + (self.xs - 2 * cx), 0, self.width - 1)
        return self._valid(uy, ux)

    def search(self, estimate, nnf, jumps: int, tries: int, shifts=(), reach=None):
        """PatchMatch: better matches from neighbours' matches (1, 2, 4, ... px away) and at random.

        A candidate's cost is its descriptor distance, less a bonus for copying
        like its neighbours (coherence), plus a penalty for a source that is
        already used more than its fair share (occurrence).
        """
        sy, sx, _ = nnf
        width = self.width
        here = self.ys * width + self.xs
        source = (sy * width + sx).astype(np.int64)
        wanted = _descriptors_at(estimate, self.ys, self.xs)
        flat_descriptors = self.source_descriptors.reshape(-1, self.source_descriptors.shape[2])
        valid_source = self.sources.ravel()
        neighbours = self._neighbours()
        shift = source - here

        def data_cost(candidate):
            difference = np.take(flat_descriptors, candidate, axis=0) - wanted
            return np.einsum("ij,ij->i", difference, difference)

        data = data_cost(source)
        typical = np.float32(np.median(data) + 1e-3)
        occurrence = self._occurrence(sy, sx).ravel() / np.float32(self.fair_share)

        def total(candidate, data):
            candidate_shift = candidate - here
            agree = np.zeros(candidate.size, np.float32)
            for neighbour in neighbours:
                agree += (neighbour >= 0) & (np.take(shift, np.maximum(neighbour, 0)) == candidate_shift)
            over = np.maximum(np.take(occurrence, candidate) - 1.0, 0.0)
            return data + typical * (COHERENCE * (1 - agree / 4) + OCCURRENCE * over)

        cost = total(source, data)

        def attempt(cy, cx):
            nonlocal source, cost, shift
            inside = (cy >= 0) & (cy < self.height) & (cx >= 0) & (cx < width)
            candidate = np.clip(cy, 0, self.height - 1) * width + np.clip(cx, 0, width - 1)
            valid = inside & np.take(valid_source, candidate)
            candidate_cost = np.where(valid, total(candidate, data_cost(candidate)), np.inf)
            better = candidate_cost < cost
            source = np.where(better, candidate, source)
            cost = np.where(better, candidate_cost, cost)
            shift = source - here

        for jump in [2**k for k in range(jumps - 1, -1, -1)]:
            for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
                neighbour = self._neighbour_at(dy, dx)
                ok = neighbour >= 0
                n = np.maximum(neighbour, 0)
                current_y, current_x = source // width, source % width
                cy = np.where(ok, np.take(current_y, n) - dy, -1)
                cx = np.where(ok, np.take(current_x, n) - dx, -1)
                attempt(cy, cx)
        for shift_y, shift_x in shifts:  # the picture's own repetitions (He & Sun)
            attempt(self.ys + shift_y, self.xs + shift_x)
        radius = float(reach or max(self.height, width))
        for _ in range(tries):
            if radius < 1:
                break
            offsets = self.rng.uniform(-radius, radius, (2, source.size))
            cy = np.round(source // width + offsets[0]).astype(np.int64)
            cx = np.round(source % width + offsets[1]).astype(np.int64)
            attempt(cy, cx)
            radius /= 4
        return source // width, source % width, self.index

    def _neighbour_at(self, dy: int, dx: int) -> np.ndarray:
        """The hole index of each hole pixel's neighbour (dy, dx) away; -1 where it is not in the hole."""
        ny, nx = self.ys + dy, self.xs + dx
        ok = (ny >= 0) & (ny < self.height) & (nx >= 0) & (nx < self.width)
        return np.where(ok, self.index[np.clip(ny, 0, self.height - 1), np.clip(nx, 0, self.width - 1)], -1)

    def _neighbours(self) -> list[np.ndarray]:
        if not hasattr(self, "_four"):
            self._four = [self._neighbour_at(dy, dx) for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))]
        return self._four

    def _occurrence(self, sy, sx) -> np.ndarray:
        """How often each source pixel is copied, counting every pixel of every copied patch."""
        counts = np.zeros((self.height, self.width), np.float32)
        np.add.at(counts, (sy, sx), 1.0)
        side = 2 * REACH + 1
        return cv2.boxFilter(counts, -1, (side, side), normalize=False, borderType=cv2.BORDER_CONSTANT) / side**2

    def reconstruct(self, nnf, radius: int = 1) -> np.ndarray:
        """Each hole pixel from the matches of its neighbours up to `radius` px away.

        With radius 1, a pixel takes its own match's pixel (counted four times)
        and its four neighbours' (what their patches put there), so pieces keep
        the map's grain and only their seams are averaged. A larger radius
        averages more (Wexler et al.'s votes): on coarse levels that settles
        where an edge runs.
        """
        sy, sx, _ = nnf
        if radius <= 1:
            steps = [((0, 0), 4.0)] + [((dy, dx), 1.0) for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))]
        else:
            steps = [((dy, dx), 1.0) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
        total = np.zeros((self.ys.size, 3), np.float32)
        count = np.zeros(self.ys.size, np.float32)
        for (dy, dx), weight in steps:
            # the neighbour (dy, dx) away and what its patch puts on this pixel
            neighbour = self._neighbour_at(dy, dx) if (dy, dx) != (0, 0) else np.arange(self.ys.size)
            ok = neighbour >= 0
            n = np.maximum(neighbour, 0)
            ty = np.clip(sy[n] - dy, 0, self.height - 1)
            tx = np.clip(sx[n] - dx, 0, self.width - 1)
            total += self.known[ty, tx] * (ok * np.float32(weight))[:, None]
            count += ok * np.float32(weight)
        result = self.known.copy()
        result[self.ys, self.xs] = total / count[:, None]
        return result


def _isophote_flux(grey: np.ndarray, filled: np.ndarray, fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """How strongly an edge of the known picture runs across the front into the hole.

    Criminisi's data term |isophote . normal|, from the structure tensor of the
    known pixels near each front pixel (sign-free, so a road's two sides add up
    instead of cancelling), over 0..1.
    """
    reliable = (cv2.erode(filled.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) * reliable
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) * reliable
    weight = cv2.blur(reliable, (5, 5)) + 1e-6
    jxx, jyy, jxy = (cv2.blur(v, (5, 5)) / weight for v in (gx * gx, gy * gy, gx * gy))
    jxx, jyy, jxy = jxx[fy, fx], jyy[fy, fx], jxy[fy, fx]
    # the dominant gradient direction and how much stronger it is than the other one
    root = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)
    strength = np.sqrt(np.maximum(root, 0))
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    isophote_x, isophote_y = -np.sin(theta), np.cos(theta)
    smooth = cv2.GaussianBlur(filled.astype(np.float32), (0, 0), 1.5)
    nx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)[fy, fx]
    ny = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)[fy, fx]
    norm = np.hypot(nx, ny) + 1e-6
    return strength * np.abs(isophote_x * nx + isophote_y * ny) / norm / 255.0


def _blurred(picture: np.ndarray) -> np.ndarray:
    """The picture blurred a little (descriptors sample it every STEP px) and padded by REACH."""
    blurred = cv2.GaussianBlur(picture, (0, 0), 1.0)
    return cv2.copyMakeBorder(blurred, REACH, REACH, REACH, REACH, cv2.BORDER_REFLECT)


OFFSETS = [(dy, dx) for dy in range(-REACH, REACH + 1, STEP) for dx in range(-REACH, REACH + 1, STEP)]


def _descriptors(picture: np.ndarray) -> np.ndarray:
    """Per pixel, its patch sampled at OFFSETS of the lightly blurred picture (HxWx27)."""
    padded = _blurred(picture)
    height, width = picture.shape[:2]
    parts = [padded[REACH + dy : REACH + dy + height, REACH + dx : REACH + dx + width] for dy, dx in OFFSETS]
    return np.concatenate(parts, axis=2)


def _descriptors_at(picture: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The descriptors of the pixels (ys, xs) only (N x 27)."""
    padded = _blurred(picture)
    return np.concatenate([padded[ys + REACH + dy, xs + REACH + dx] for dy, dx in OFFSETS], axis=1)
