"""Fields and vineyards for the classic engine: parcels, rows and tramlines at the map's scale.

Quilting a whole field from the map mixes the row directions of neighbouring
parcels, and one painted colour with stripes looks like sand. Farmland from
the air is a patchwork of parcels (`parcels`): strips some tens of metres
wide and a few hundred long, each with one crop, its rows in one direction,
its own shade, tractor tramlines every 18-24 m where the pixels show them,
soil moisture in patches, and grass tracks between the parcels.

* Where the map has fields, each parcel takes the texture of one of the
  map's own field places (quilted from there alone, so its rows keep their
  direction), in its own shade.
* Elsewhere the crops are painted in colours for the map's season: green
  crops, maize and some ripe grain on a green summer map, stubble, ripe
  grain and bare soil on a dry one, snow with its furrows showing on a
  winter one.

Vineyards (`paint_vineyard`) are parcels of vine rows 1.8-2.6 m apart,
turned each its own way along the slope, with gaps, uneven vines and bare
soil or grass between the rows in the map's own colours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from inpainting_core import landcover
from inpainting_core.engines.classic import measures
from inpainting_core.engines.classic.painters import grain, smooth_noise
from inpainting_core.engines.classic.reading import COVER_INDEX, Survey

# Crops from the air (Lab, L 0-100), in the light of the demo and shared maps:
# (name, colour, row spacing in m, how strongly rows show)
CROPS = {
    "green": (np.float32([50, -16, 24]), 0.15, 0.0),
    "maize": (np.float32([42, -14, 20]), 0.75, 3.0),
    "ripe": (np.float32([70, 3, 30]), 0.15, 0.0),
    "stubble": (np.float32([72, 2, 18]), 0.15, 0.0),
    "soil": (np.float32([46, 8, 17]), 0.7, 4.0),
}
SUMMER = {"green": 0.4, "maize": 0.2, "ripe": 0.15, "stubble": 0.1, "soil": 0.15}
DRY = {"green": 0.05, "maize": 0.0, "ripe": 0.25, "stubble": 0.3, "soil": 0.4}
PARCEL_WIDTH_M = (25.0, 70.0)
PARCEL_LENGTH_M = (90.0, 260.0)
TRACK_M = 1.5


@dataclass
class Parcels:
    """A parcel id per pixel, its rows' direction (u, metres along the rows; v across), the
    metres to the nearest parcel edge, and the number of parcels."""

    ids: np.ndarray
    u: np.ndarray
    v: np.ndarray
    to_edge: np.ndarray
    count: int


def parcels(shape, mpp: float, angle: float, rng: np.random.Generator,
            width_m=PARCEL_WIDTH_M, length_m=PARCEL_LENGTH_M) -> Parcels:
    """Strips across `angle` of random widths, cut along it into random lengths (staggered)."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    u = (xx * cos_a + yy * sin_a) * mpp
    v = (-xx * sin_a + yy * cos_a) * mpp
    reach_v = (float(v.min()), float(v.max()))
    cuts_v = [reach_v[0] - float(rng.uniform(0, width_m[1]))]
    while cuts_v[-1] < reach_v[1]:
        cuts_v.append(cuts_v[-1] + float(rng.uniform(*width_m)))
    cuts_v = np.float32(cuts_v)
    band = np.clip(np.searchsorted(cuts_v, v.ravel()).reshape(shape) - 1, 0, len(cuts_v) - 2)
    to_edge = np.minimum(v - cuts_v[band], cuts_v[band + 1] - v)
    ids = np.zeros(shape, np.int32)
    count = 0
    reach_u = (float(u.min()), float(u.max()))
    for index in range(len(cuts_v) - 1):
        inside = band == index
        if not inside.any():
            continue
        cuts_u = [reach_u[0] - float(rng.uniform(0, length_m[1]))]
        while cuts_u[-1] < reach_u[1]:
            cuts_u.append(cuts_u[-1] + float(rng.uniform(*length_m)))
        cuts_u = np.float32(cuts_u)
        segment = np.clip(np.searchsorted(cuts_u, u[inside]) - 1, 0, len(cuts_u) - 2)
        ids[inside] = count + segment
        to_edge[inside] = np.minimum(to_edge[inside], np.minimum(u[inside] - cuts_u[segment],
                                                                  cuts_u[segment + 1] - u[inside]))
        count += len(cuts_u) - 1
    return Parcels(ids, u, v, to_edge, count)


def season(survey: Optional[Survey]) -> tuple[str, np.ndarray]:
    """"summer", "dry" or "winter", and the map's light (its mean Lab less a neutral grey's)."""
    if survey is None:
        return "summer", np.zeros(3, np.float32)
    lab = measures.lab(survey.small.reshape(-1, 1, 3).astype(np.float32)).reshape(-1, 3)
    light = np.float32([np.clip(0.3 * (lab[:, 0].mean() - 50), -8, 8), 0, 0])
    if measures.winter_landscape(survey.small):
        return "winter", light
    green = np.isin(survey.labels, [COVER_INDEX[landcover.MEADOW], COVER_INDEX[landcover.FIELD]])
    ground = lab[green.ravel()] if green.sum() > 100 else lab
    return ("dry" if np.median(ground[:, 1]) > -4 else "summer"), light


def paint_farmland(rng: np.random.Generator, shape, mpp: float, angle: float, survey: Optional[Survey],
                   exemplars: Optional[np.ndarray] = None) -> np.ndarray:
    """Fields over a box of `shape` (float RGB): the map's own field textures where it has fields
    (`exemplars`, from three places in three equal groups), else painted crops for its season."""
    from inpainting_core.engines.classic.quilting import quilt

    layout = parcels(shape, mpp, angle, rng)
    when, light = season(survey)
    shade = np.float32(rng.uniform(-6, 6, layout.count + 1))[layout.ids]  # each parcel its own shade
    # soil moisture and growth in patches of tens of metres, and the crop's own unevenness
    moisture = (smooth_noise(rng, shape, max(2.0, 25.0 / mpp), octaves=2) * 4.0
                + smooth_noise(rng, shape, max(1.0, 3.0 / mpp), octaves=2) * 2.0)
    if exemplars is not None and when != "winter":
        groups = np.array_split(exemplars, 3)
        textures = [quilt(group, shape, rng) for group in groups if len(group) >= 4]
        which = (layout.ids * 7 + 3) % len(textures)
        picture = np.zeros((*shape, 3), np.float32)
        for index, texture in enumerate(textures):
            picture = np.where((which == index)[..., None], texture, picture)
        lab = measures.lab(picture)
        lab[..., 0] += shade + moisture
    else:
        weights = DRY if when == "dry" else SUMMER
        names = list(weights)
        choice = rng.choice(len(names), size=layout.count + 1, p=np.float32([weights[n] for n in names]) / sum(weights.values()))
        colours = np.stack([CROPS[names[c]][0] for c in choice]) + light
        lab = colours[layout.ids].astype(np.float32)
        lab[..., 0] += shade + moisture
        lab[..., 2] += shade * 0.5
        spacing = np.float32([CROPS[names[c]][1] for c in choice])[layout.ids]
        strength = np.float32([CROPS[names[c]][2] for c in choice])[layout.ids]
        visible = spacing / mpp >= 2.5
        rows = np.sin(layout.v / np.maximum(spacing, 0.1) * 2 * math.pi)
        lab[..., 0] += np.where(visible, rows * strength, 0)
        if when == "winter":  # snow on the fields; their furrows show through as faint lines
            lab[..., 0] = 88 + light[0] + 0.3 * (lab[..., 0] - 55)
            lab[..., 1:] = np.float32([-1, -3])
    if exemplars is None or when == "winter":  # painted plants: leaves and stalks a few decimetres across
        lab[..., 0] += smooth_noise(rng, shape, max(1.0, 0.3 / mpp)) * float(np.clip(1.5 / mpp, 1.0, 5.0))
    # tramlines: pairs of wheel tracks 1.8 m apart every 18-24 m along each parcel
    if mpp <= 0.9:
        spacing = np.float32(rng.uniform(18, 24, layout.count + 1))[layout.ids]
        offset = np.float32(rng.uniform(0, 20, layout.count + 1))[layout.ids]
        across = (layout.v + offset) % spacing
        tracks = (np.abs(across - 0.0) < 0.25) | (np.abs(across - 1.8) < 0.25)
        lab[..., 0] += np.where(tracks, -5.0 if when != "winter" else -8.0, 0.0) * min(1.0, 0.5 / mpp)
    # grass tracks and verges between the parcels
    verge = np.clip(1 - (layout.to_edge - TRACK_M / 2) / max(mpp, 0.3), 0, 1)
    ground = np.float32([52, -10, 18]) + light if when == "summer" else np.float32([60, 2, 16]) + light
    if when == "winter":
        ground = np.float32([80, -1, -3]) + light
    lab = lab + (ground - lab) * (verge * 0.7)[..., None]
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255
    return rgb + grain(rng, shape, 2.5)


def paint_vineyard(site):
    """Vineyards filling the painted area: parcels of vine rows (1.8-2.6 m apart, each parcel
    turned its own way), the vines uneven and with gaps, soil or grass between the rows in the
    map's own colours, tracks between the parcels."""
    rng, mpp, shape, textures = site.rng, site.mpp, site.shape, site.textures
    layout = parcels(shape, mpp, site.angle, rng, width_m=(30.0, 60.0), length_m=(40.0, 110.0))
    turn = np.float32(rng.uniform(-0.35, 0.35, layout.count + 1))[layout.ids]
    spacing = np.float32(rng.uniform(1.8, 2.6, layout.count + 1))[layout.ids]
    across = layout.v * np.cos(turn) - layout.u * np.sin(turn)
    wobble = smooth_noise(rng, shape, max(2.0, 15.0 / mpp)) * 0.35
    phase = (across / spacing + wobble) % 1.0
    leaves = smooth_noise(rng, shape, max(1.0, 0.15 / mpp), octaves=2)  # leaves and their gaps
    canopy_width = 0.45 + 0.1 * smooth_noise(rng, shape, max(1.0, 2.0 / mpp)) + 0.08 * leaves
    # each row drawn as the share of a pixel it covers: rows finer than the pixels leave the
    # streaks (moire) real photos of vineyards show, not an even average
    width_m = canopy_width * spacing
    distance_m = np.abs(phase - 0.5) * spacing
    vines = np.clip((width_m / 2 + mpp / 2 - distance_m) / mpp, 0, 1) * np.minimum(1.0, width_m / mpp)
    gaps = smooth_noise(rng, shape, max(1.0, 3.0 / mpp)) < -1.3  # a missing vine here and there
    vines = vines * ~gaps
    between = textures.grass_lab.copy()
    between[0] = float(np.clip(between[0] + 6, 35, 75))
    leaf = np.float32([42, -18, 24]) + textures.light_shift
    if textures.snowy:
        between, leaf = textures.snow_lab, np.float32([35, -2, 4])
    lab = between + (leaf - between) * vines[..., None]
    lab[..., 0] += leaves * float(np.clip(0.8 / mpp, 2.0, 8.0)) * vines  # leaves in light and shade
    lab[..., 0] += smooth_noise(rng, shape, max(1.0, 0.3 / mpp)) * 3.0 * (1 - vines)  # clods and weeds
    lab[..., 0] += np.float32(rng.uniform(-4, 4, layout.count + 1))[layout.ids]
    track = np.clip(1 - (layout.to_edge - 1.5) / max(mpp, 0.3), 0, 1)
    lab = lab + (between - lab) * (track * 0.8)[..., None]  # grass or soil tracks between parcels
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255
    return rgb + grain(rng, shape, 2.0), 1.0
