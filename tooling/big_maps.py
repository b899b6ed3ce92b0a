"""Big maps for tests and benchmarks (tests/test_iiif_browser.py, benchmarks/bench_huge_maps.py),
made procedurally and kept.

A scanned map of 16384² cannot ship with the code, and painting one with
numpy would hold 805 MB. libvips makes one in a stream instead: the demo map
(tooling/demo.py) mirrored into a mosaic, so that neighbouring copies meet
without seams, under a gentle large-scale shading so that no two copies look
alike, written as JPEG (what a museum's scan often is). A file is made once
per size and kept in the system's temporary folder for later tests and runs.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np
import pyvips

from tooling.demo import make_demo_map

FOLDER = Path(tempfile.gettempdir()) / "olpe-test-maps"
TILE = (1536, 1024)  # the demo map's own size


@functools.cache
def _demo_tile() -> pyvips.Image:
    pixels = np.ascontiguousarray(np.asarray(make_demo_map(*TILE)))
    return pyvips.Image.new_from_array(pixels, interpretation="srgb")


def big_map(width: int, height: int, *, quality: int = 90) -> Path:
    """A width × height procedural map as JPEG, made once (kept across runs)."""
    target = FOLDER / f"mosaic-{width}x{height}-q{quality}.jpg"
    if target.exists():
        return target
    FOLDER.mkdir(parents=True, exist_ok=True)
    tile = _demo_tile()
    pair = tile.join(tile.fliphor(), "horizontal")
    block = pair.join(pair.flipver(), "vertical")
    across = -(-width // block.width)
    down = -(-height // block.height)
    mosaic = block.replicate(across, down).crop(0, 0, width, height)
    # Light and shadow over kilometres: a smooth wave, so that copies differ.
    xy = pyvips.Image.xyz(width, height)
    shade = ((xy[0] * (6.28 / width)).sin() * (xy[1] * (3.14 / height)).cos()) * 0.12 + 1.0
    shaded = (mosaic * shade).cast("uchar")
    temporary = target.with_suffix(f".{os.getpid()}.part.jpg")
    shaded.jpegsave(str(temporary), Q=quality, keep="none")
    os.replace(temporary, target)
    return target
