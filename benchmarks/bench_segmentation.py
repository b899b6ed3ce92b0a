"""How long a worker takes to cut a map into regions for the kiosk's select tool.

`inpainting_core.segmentation.segment_map` runs once per World (and once per
result a visitor keeps painting on), on a django-q2 worker. It works at a
bounded resolution (`max_side`, 1024 by default), so its time levels off once
a map is larger than that: only the downscaling grows. This times the demo
map at 512×384, 1024×768 and 2048×1536 and, side by side in the same run, the
same maps cut at max_side 2048 (what doubling the label picture's resolution
would cost), and the label picture's PNG size (what the kiosk downloads).

Goal: a 4096² World's regions within a few seconds on one core (the 2048
row stands for it: beyond max_side only the resize grows), the label picture
under 1 MB.

    .venv/bin/python benchmarks/bench_segmentation.py [--repeat N] [--map PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402 (the settings module is chosen first)

django.setup()

from PIL import Image  # noqa: E402 (after django.setup)

from inpainting_core.segmentation import SegmentationSettings, segment_map  # noqa: E402 (after django.setup)
from tooling.demo import make_demo_map  # noqa: E402 (after django.setup)


def timed(picture, settings, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = segment_map(picture, settings)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--map", type=Path, help="also time this picture (e.g. an orthophoto)")
    options = parser.parse_args()
    pictures = [(f"demo {w}×{h}", make_demo_map(w, h)) for w, h in ((512, 384), (1024, 768), (2048, 1536))]
    if options.map:
        pictures.append((options.map.name, Image.open(options.map).convert("RGB")))
    print(f"{'map':<22}{'max_side 1024':>16}{'regions':>9}{'PNG kB':>8}{'max_side 2048':>16}{'ratio':>7}")
    for name, picture in pictures:
        default, result = timed(picture, SegmentationSettings(), options.repeat)
        finer, _ = timed(picture, SegmentationSettings(max_side=2048), options.repeat)
        size = len(result.to_png()) / 1000
        print(f"{name:<22}{default:>14.2f} s{result.count:>9}{size:>8.0f}{finer:>14.2f} s{finer / default:>7.1f}")


if __name__ == "__main__":
    main()
