"""Regions of a map for the kiosk's select tool: a field, a lake or a block of houses.

A visitor taps a place and the kiosk selects the region under the finger along
the map's own edges. The regions are computed once per map on a worker (a
World when it is added or its picture changes, a result when a visitor keeps
painting on it) and stored as a label picture the kiosk reads in the browser,
so a tap answers without a round trip.

The pipeline, at a bounded resolution (`max_side`):

1. **Smooth** away what is texture, not an edge: the rows of a field, the grain
   of a meadow, single tree crowns (median, then an edge-keeping bilateral filter).
2. **Over-segment** with Felzenszwalb's graph method (scikit-image) in Lab
   colour: many small regions that never cross a strong edge.
3. **Merge** neighbours whose mean colours are close, or whose seam is faint
   (a threshold on the region adjacency graph, vectorised: connected components
   of the edges under the threshold), so a field of two tones or a lake that
   darkens with depth stays one region.
4. **Absorb** thin regions (the band along a drawn map's ink line, a verge)
   into their nearest wider neighbour.

The label picture is RGB-packed (`encode_labels`): red is the low byte of the
region id, green the high byte. A browser reads 8-bit PNG channels exactly
through a canvas, which it cannot do for 16-bit PNGs.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# The largest side of the label picture: enough for a field's edge on a 4096²
# map to sit within four map pixels, small enough for the kiosk to keep in memory.
DEFAULT_MAX_SIDE = 1024
MAX_REGIONS = 65535
# A region whose area exceeds this many squares of its widest half-width is a band
# (a square has 4, a line ten times as long as wide about 40).
ELONGATED = 12  # the ids must fit the two bytes of the packed picture


@dataclass(frozen=True)
class SegmentationSettings:
    """How finely to cut. The defaults are tuned on the demo map, an orthophoto of
    Olpe and drawn maps: a field, a lake or a block of houses is one or a few regions."""

    max_side: int = DEFAULT_MAX_SIDE
    # Felzenszwalb's scale: larger makes larger regions before merging.
    scale: float = 300.0
    # The smallest region, as a share of the picture's area.
    min_share: float = 0.0005
    # Neighbours whose mean Lab colours lie closer than this become one region.
    merge_distance: float = 8.0
    # Neighbours whose seam is fainter than this (mean step in smoothed Lab) join
    # when their colours are not far apart: gradients such as deep and shallow water.
    seam: float = 3.0
    # Regions nowhere wider than twice this (pixels of the label picture) are no
    # place of their own: the band along a drawn map's ink line, a road's verge.
    # Their pixels join the nearest wider region.
    thin_radius: float = 3.0
    # How much the texture (local contrast: a field's rows, tree crowns) counts next to colour.
    texture_weight: float = 2.0

    def check(self) -> None:
        if not 64 <= int(self.max_side) <= 8192:
            raise ValueError("max_side must lie between 64 and 8192")
        if self.scale <= 0 or not 0 < self.min_share < 0.5 or self.merge_distance < 0:
            raise ValueError("scale and merge_distance must be positive, min_share in (0, 0.5)")


@dataclass(frozen=True)
class Segmentation:
    """The regions of one map: `labels` (H×W int32, ids 0..count-1) at the label
    picture's size, for a map of `map_size` (width, height)."""

    labels: np.ndarray
    count: int
    map_size: tuple[int, int]

    def to_png(self) -> bytes:
        return encode_labels(self.labels)


def check_inputs(image) -> np.ndarray:
    """An RGB uint8 array from a PIL picture or an array (RGB, RGBA or grey)."""
    if isinstance(image, Image.Image):
        array = np.asarray(image.convert("RGB"))
    else:
        array = np.asarray(image)
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ValueError("the map must be an RGB picture (H×W×3)")
        array = array[..., :3]
    if array.dtype != np.uint8:
        raise ValueError("the map must have 8-bit channels")
    if min(array.shape[:2]) < 8:
        raise ValueError("the map is too small to be cut into regions")
    return np.ascontiguousarray(array)


def segment_map(image, settings: SegmentationSettings | None = None) -> Segmentation:
    """Cut a map into regions along its own edges (see the module's docstring)."""
    from skimage.segmentation import felzenszwalb  # only workers pay for importing it

    settings = settings or SegmentationSettings()
    settings.check()
    rgb = check_inputs(image)
    height, width = rgb.shape[:2]
    factor = min(1.0, settings.max_side / max(height, width))
    if factor < 1.0:
        size = (max(8, round(width * factor)), max(8, round(height * factor)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    else:
        small = rgb
    smooth = cv2.bilateralFilter(cv2.medianBlur(small, 5), 9, 30, 5)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    features = np.dstack([lab, settings.texture_weight * texture(small)])
    min_size = max(16, int(settings.min_share * small.shape[0] * small.shape[1]))
    with warnings.catch_warnings():  # four channels (Lab + texture) are meant, not RGBA
        warnings.simplefilter("ignore", RuntimeWarning)
        labels = felzenszwalb(features, scale=settings.scale, sigma=1.0, min_size=min_size, channel_axis=-1)
    original = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    labels = merge_similar(labels, np.dstack([original, features[..., 3:]]), settings.merge_distance,
                           smooth=features, seam=settings.seam)
    labels = absorb_thin(labels, settings.thin_radius)
    count = int(labels.max()) + 1
    if count > MAX_REGIONS:  # cannot happen with min_share's floor; kept as a guard
        raise ValueError("too many regions for the label picture")
    return Segmentation(labels=labels, count=count, map_size=(width, height))


def texture(rgb: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Local contrast of the lightness (its standard deviation around each pixel), smoothed:
    high on a field's rows or a forest's crowns, low on a meadow or water."""
    light = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.GaussianBlur(light, (0, 0), sigma)
    variance = np.maximum(cv2.GaussianBlur(light * light, (0, 0), sigma) - mean * mean, 0)
    return cv2.GaussianBlur(np.sqrt(variance), (0, 0), sigma)


def merge_similar(labels: np.ndarray, colours: np.ndarray, distance: float,
                  smooth: np.ndarray | None = None, seam: float = 0.0) -> np.ndarray:
    """Join neighbouring regions that are one thing; ids renumbered 0..n-1.

    Two neighbours are joined when their mean colours lie within `distance`, or
    when the seam between them is faint (the mean step across it, in `smooth`,
    under `seam`) and their means lie within three times `distance`: a lake
    that darkens with depth, a field in the shade of a hill.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.ascontiguousarray(labels, dtype=np.int64)
    count = int(labels.max()) + 1
    sizes = np.bincount(labels.ravel(), minlength=count).astype(np.float64)
    flat = colours.reshape(-1, colours.shape[-1]).astype(np.float64)
    means = np.stack(
        [np.bincount(labels.ravel(), weights=flat[:, channel], minlength=count) for channel in range(flat.shape[1])],
        axis=1,
    ) / np.maximum(sizes, 1)[:, None]
    steps = []
    pairs = []
    for ahead, behind in (((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                          ((slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
        first, second = labels[ahead].ravel(), labels[behind].ravel()
        crossing = first != second
        pairs.append(np.stack([first[crossing], second[crossing]], axis=1))
        if smooth is not None:
            step = smooth[ahead].reshape(-1, smooth.shape[-1])[crossing] - smooth[behind].reshape(-1, smooth.shape[-1])[crossing]
            steps.append(np.linalg.norm(step, axis=1))
    pairs = np.sort(np.concatenate(pairs), axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    apart = np.linalg.norm(means[unique[:, 0]] - means[unique[:, 1]], axis=1)
    close = apart < distance
    if smooth is not None and seam > 0:
        crossings = np.maximum(np.bincount(inverse, minlength=len(unique)), 1)
        seam_steps = np.bincount(inverse, weights=np.concatenate(steps), minlength=len(unique)) / crossings
        close |= (seam_steps < seam) & (apart < 3 * distance)
    joined = unique[close]
    graph = coo_matrix((np.ones(len(joined)), (joined[:, 0], joined[:, 1])), shape=(count, count))
    _count, merged = connected_components(graph, directed=False)
    return merged[labels].astype(np.int32)


def absorb_thin(labels: np.ndarray, radius: float) -> np.ndarray:
    """Give the pixels of regions whose widest point is under 2×`radius` to the nearest
    wider region; ids renumbered 0..n-1. A map of thin regions only stays as it is."""
    from scipy import ndimage

    if radius <= 0 or labels.max() == 0:
        return labels
    edge = np.zeros(labels.shape, bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[1:, :] != labels[:-1, :]
    inside = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 5)
    count = int(labels.max()) + 1
    index = np.arange(count)
    # the mean distance to the region's edge: a quarter of a band's width, a sixth of a square's side
    depth = np.asarray(ndimage.mean(inside, labels, index=index))
    # a band is long for its width; a block of houses, however small, is not
    widest = np.asarray(ndimage.maximum(inside, labels, index=index), np.float64)
    area = np.bincount(labels.ravel(), minlength=count)
    thin = (depth < radius) & (area > ELONGATED * np.maximum(widest, 1) ** 2)
    if thin.all() or not thin.any():
        return labels
    outside = thin[labels]
    _distance, (rows, columns) = ndimage.distance_transform_edt(outside, return_indices=True)
    labels = labels[rows, columns]
    _ids, renumbered = np.unique(labels, return_inverse=True)
    return renumbered.reshape(labels.shape).astype(np.int32)


def encode_labels(labels: np.ndarray) -> bytes:
    """The label picture as an RGB PNG: red = id & 255, green = id >> 8, blue = 0."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min() < 0 or labels.max() > MAX_REGIONS:
        raise ValueError("labels must be a 2-D array of ids 0..65535")
    packed = np.zeros(labels.shape + (3,), np.uint8)
    packed[..., 0] = labels & 0xFF
    packed[..., 1] = (labels >> 8) & 0xFF
    buffer = io.BytesIO()
    Image.fromarray(packed, "RGB").save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def decode_labels(data: bytes) -> np.ndarray:
    """The ids of a label picture made by `encode_labels`."""
    packed = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int32)
    return packed[..., 0] | (packed[..., 1] << 8)
