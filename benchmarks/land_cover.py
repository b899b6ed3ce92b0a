"""Reading the map, measured on the shared real maps: land cover per class, and scale.

Land cover: the labelled points of `tests/data/landcover_points.json` on the
six maps of `../shared/maps/`. Each point is read the way the engine reads it
(the map surveyed at its long side of `reading.SURVEY_LONG_SIDE`, then read at
`cover_model.WORKING_METRES_PER_PIXEL` or coarser). Printed per class (recall:
the share of its points read right) and per map:

* leave-one-map-out: each map read by a reader fitted without any of its
  points. This is the figure that predicts a map nobody labelled;
* in-sample: the stored reader (fitted on all points) on its own points.

Scale: `scale.estimate_scale` on each map as it is and resampled (default
0.5x and 2x), against its known scale, with the estimate's confidence.

    .venv/bin/python benchmarks/land_cover.py [--fit] [--cover-only | --scale-only] [--scales 1,0.5,2]

--fit refits the stored reader (inpainting_core/engines/classic/cover_model.npz)
on all points first (needs scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.picture_quality import MAPS, MAPS_DIR, load_maps  # noqa: E402  (the maps, their known scales)
from inpainting_core.engines.classic import cover_model  # noqa: E402
from inpainting_core.engines.classic.reading import SURVEY_LONG_SIDE  # noqa: E402
from inpainting_core.engines.classic.scale import estimate_scale  # noqa: E402

POINTS = ROOT / "tests" / "data" / "landcover_points.json"
# The synthetic demo map (tooling.demo) is what `scripts/run` shows a newcomer: the stored
# reader is fitted on DEMO_POINTS of it too (labelled by its own layout), beside the real
# maps' points. It is never judged: the figures are the real maps'.
DEMO_POINTS, DEMO_SEED = 400, 25
DEMO_CLASS = {"water": "water", "forest": "forest", "meadow": "meadow", "field": "field", "buildings": "built",
              "road": "road", "snow": "snow", "sand": "other", "rock": "other", "lava": "other"}


def shared_maps(keys=()) -> dict:
    """File name -> (RGB picture, known metres per pixel) of the shared maps that are here."""
    found = {}
    for case in MAPS:
        path = MAPS_DIR / case.file
        if (keys and case.key not in keys) or not path.exists():
            continue
        found[case.file] = (np.asarray(Image.open(path).convert("RGB")), case.metres_per_pixel)
    return found


def cover_samples(maps: dict):
    points = json.loads(POINTS.read_text())["points"]
    return cover_model.samples_from_points(maps, points, SURVEY_LONG_SIDE)


def demo_samples():
    """Features and classes of DEMO_POINTS random points of the demo map, at the scale its World has."""
    from inpainting_core.engines.classic.scale import REFERENCE_METRES_PER_PIXEL
    from inpainting_core.landcover import ALL
    from tooling.demo import make_demo_map

    picture, layout = make_demo_map(return_labels=True)
    rng = np.random.default_rng(DEMO_SEED)
    height, width = layout.shape
    ys, xs = rng.integers(8, height - 8, DEMO_POINTS), rng.integers(8, width - 8, DEMO_POINTS)
    points = [{"map": "demo", "x": int(x), "y": int(y), "label": DEMO_CLASS[ALL[layout[y, x]]]}
              for x, y in zip(xs, ys, strict=True)]
    maps = {"demo": (np.asarray(picture.convert("RGB")), REFERENCE_METRES_PER_PIXEL)}
    samples, labels, _names, _judged, _context = cover_model.samples_from_points(maps, points, SURVEY_LONG_SIDE)
    return samples, labels


def fit_stored(samples, labels) -> None:
    extra_samples, extra_labels = demo_samples()
    samples, labels = np.vstack([samples, extra_samples]), np.concatenate([labels, extra_labels])
    model = cover_model.fit(samples, labels)
    model.save(cover_model.MODEL_PATH)
    cover_model.stored_model.cache_clear()
    print(f"fitted on {len(labels)} rows, stored in {cover_model.MODEL_PATH.relative_to(ROOT)}")


def cover_report(maps: dict, refit: bool) -> dict:
    samples, labels, names, judged, context = cover_samples(maps)
    if refit:
        fit_stored(samples, labels)
    predicted, truth, where = cover_model.leave_one_map_out(samples, labels, names, judged, context, demo_samples())
    lomo = cover_model.accuracy_table(predicted, truth)
    stored = cover_model.stored_model()
    inside = (cover_model.accuracy_table(cover_model.classify(stored, samples[judged], context[judged]), labels[judged])
              if stored else {})
    print(f"land cover: {int(judged.sum())} labelled points on {len(maps)} maps")
    print(f"{'class':10s} {'points':>6s} {'leave-one-map-out':>18s} {'in-sample':>10s}")
    for name in (*cover_model.CLASSES, "overall", "grouped"):
        if name in lomo:
            share, count = lomo[name]
            own = f"{inside[name][0]:.0%}" if name in inside else "-"
            print(f"{name:10s} {count:6d} {share:18.0%} {own:>10s}")
    print()
    print("grouped: read as the right one of " + ", ".join(dict.fromkeys(cover_model.GROUPS.values())))
    print()
    print("leave-one-map-out per map (classes, groups):")
    group = cover_model.GROUP_OF_CLASS
    for name in dict.fromkeys(where):
        mine = where == name
        print(f"  {name:32s} {(predicted[mine] == truth[mine]).mean():5.0%} "
              f"{(group[predicted[mine]] == group[truth[mine]]).mean():5.0%} of {int(mine.sum())}")
    print()
    print("confusion (rows: labelled, columns: read), leave-one-map-out:")
    print("           " + " ".join(f"{c[:6]:>6s}" for c in cover_model.CLASSES))
    for index, name in enumerate(cover_model.CLASSES):
        counts = np.bincount(predicted[truth == index], minlength=len(cover_model.CLASSES))
        print(f"{name:10s} " + " ".join(f"{c:6d}" for c in counts))
    return {"lomo": lomo, "in_sample": inside}


def scale_report(keys, factors) -> list:
    rows = []
    print()
    print(f"{'map':12s} {'known':>6s} {'estimate':>8s} {'ratio':>6s} {'confidence':>10s} {'s':>5s}  from")
    for name, case, image, known in load_maps(keys, factors):
        started = time.perf_counter()
        estimate = estimate_scale(np.asarray(image))
        seconds = time.perf_counter() - started
        rows.append((case.key, known, estimate))
        if estimate is None:
            print(f"{name:12s} {known:6.2f} {'none':>8s} {'':6s} {'':10s} {seconds:5.2f}")
            continue
        print(f"{name:12s} {known:6.2f} {estimate.metres_per_pixel:8.2f} {estimate.metres_per_pixel / known:6.2f} "
              f"{estimate.confidence:>10s} {seconds:5.2f}  {estimate.source} ({estimate.count}), "
              f"within {estimate.within:g}x")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the stored land-cover reader first")
    parser.add_argument("--cover-only", action="store_true")
    parser.add_argument("--scale-only", action="store_true")
    parser.add_argument("--maps", default="", help="comma-separated map keys (olpe, zurich, ...)")
    parser.add_argument("--scales", default="1,0.5,2", help="resampling factors for the scale table")
    args = parser.parse_args()
    keys = {k for k in args.maps.split(",") if k}
    if not args.scale_only:
        cover_report(shared_maps(keys), args.fit)
    if not args.cover_only:
        scale_report(keys, [float(f) for f in args.scales.split(",")])
