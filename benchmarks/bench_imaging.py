"""How fast the platform prepares a painted region and puts the engine's result back.

For synthetic maps of 768², 1024², 2048² and 4096² with a painted blob in the
kiosk's form (red strokes on a transparent canvas), it times the whole path
around an engine: normalise_mask + fit_mask + plan_crop + crop_for_engine +
composite, with a stand-in engine that inverts the crop. In the same run it
times a per-pixel reference like the prototype's (benchmarks/naive_imaging.py)
where that finishes in reasonable time (up to 2048² unless --naive-max says
otherwise: at 4096² one run of its loops takes seconds).

Goal: the whole preparation and compositing of a 4096² map under 150 ms.
With --classic it also times the classic engine on a 512² region of the demo
map (goal: under 1 s), when that engine and the demo map exist.

    .venv/bin/python benchmarks/bench_imaging.py [--quick] [--classic] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from benchmarks import naive_imaging  # noqa: E402
from inpainting_core import compositing, masks  # noqa: E402
from inpainting_core.engines.base import fit_to_multiple  # noqa: E402

SIZES = (768, 1024, 2048, 4096)
QUICK_SIZES = (256, 512)
GOAL_SIDE, GOAL_MS = 4096, 150.0
CLASSIC_SIDE, CLASSIC_GOAL_S = 512, 1.0


def engine_size(width: int, height: int) -> tuple[int, int]:
    """The own model's working size: long side OLPE_MODEL_RESOLUTION (0: the SD 2
    family's 768, the museum's model), multiples of 8."""
    from inpainting_core.model_families import SD2

    return fit_to_multiple(width, height, settings.OLPE_MODEL_RESOLUTION or SD2.default_size)


def stand_in_engine(crop: Image.Image, crop_mask: Image.Image) -> Image.Image:
    """A picture of the crop's size that differs from it everywhere."""
    return ImageOps.invert(crop)


def synthetic_map(side: int, rng: np.random.Generator) -> Image.Image:
    """Soft colour patches with grain, so resampling and compression do real work."""
    patches = rng.integers(0, 256, (max(2, side // 64), max(2, side // 64), 3), dtype=np.uint8)
    smooth = cv2.resize(patches, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    grain = rng.integers(-24, 25, (side, side, 3), dtype=np.int16)
    return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))


def painted_canvas(side: int) -> Image.Image:
    """A kiosk mask: red antialiased strokes on a transparent canvas, about 1/16 of the map."""
    alpha = np.zeros((side, side), np.uint8)
    centre, radius = (side // 2, side * 2 // 5), side // 8
    cv2.ellipse(alpha, centre, (radius, radius * 3 // 4), 20, 0, 360, 255, -1, cv2.LINE_AA)
    cv2.line(
        alpha,
        centre,
        (centre[0] + radius * 3 // 2, centre[1] + radius),
        255,
        max(2, side // 100),
        cv2.LINE_AA,
    )
    red = np.zeros((side, side, 3), np.uint8)
    red[..., 0] = 230
    return Image.fromarray(np.dstack([red, alpha]))


def platform_path(image: Image.Image, canvas: Image.Image) -> Image.Image:
    mask = masks.normalise_mask(canvas)
    mask = masks.fit_mask(mask, image.size)
    plan = compositing.plan_crop(mask, image.size, engine_size)
    crop, crop_mask = compositing.crop_for_engine(image, mask, plan)
    return compositing.composite(image, stand_in_engine(crop, crop_mask), mask, plan)


def naive_path(image: Image.Image, canvas: Image.Image) -> Image.Image:
    return naive_imaging.prepare_and_composite(image, canvas, engine_size, stand_in_engine)


def median_ms(run, repeats: int, warm_up: bool) -> float:
    if warm_up:
        run()
    timings = []
    for _repeat in range(repeats):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure_maps(sizes, repeats: int, naive_max_side: int) -> list[dict]:
    rows = []
    for side in sizes:
        rng = np.random.default_rng(side)
        image, canvas = synthetic_map(side, rng), painted_canvas(side)
        row = {
            "side": side,
            "platform_ms": median_ms(partial(platform_path, image, canvas), repeats, True),
        }
        if side <= naive_max_side:
            # No warm-up: the per-pixel loops take seconds, warm caches hardly matter.
            row["naive_ms"] = median_ms(partial(naive_path, image, canvas), repeats, False)
            row["speed_up"] = row["naive_ms"] / row["platform_ms"]
        rows.append(row)
        print_row(row)
    return rows


def print_header(repeats: int, naive_max_side: int) -> None:
    print(
        f"Mask preparation + compositing, median of {repeats} run(s), "
        f"{os.cpu_count()} CPU core(s), Python {platform.python_version()}"
    )
    print(
        f"Per-pixel reference only up to {naive_max_side}²: its Python loops take seconds a run "
        "on larger maps (raise --naive-max to include them)."
    )
    print(f"{'map':>11}  {'platform ms':>11}  {'per-pixel ms':>12}  {'speed-up':>8}")


def print_row(row: dict) -> None:
    naive = f"{row['naive_ms']:12.1f}" if "naive_ms" in row else f"{'not run':>12}"
    speed_up = f"{row['speed_up']:7.0f}×" if "speed_up" in row else f"{'':>8}"
    print(
        f"{row['side']:>5} × {row['side']:<5}  {row['platform_ms']:11.1f}  {naive}  {speed_up}",
        flush=True,
    )


def report_goal(rows: list[dict]) -> dict:
    measured = next((row["platform_ms"] for row in rows if row["side"] == GOAL_SIDE), None)
    goal = {"side": GOAL_SIDE, "goal_ms": GOAL_MS, "measured_ms": measured}
    if measured is None:
        print(f"Goal: {GOAL_SIDE}² under {GOAL_MS:.0f} ms: not measured in this run.")
    else:
        goal["met"] = measured < GOAL_MS
        verdict = "met" if goal["met"] else "MISSED"
        print(f"Goal: {GOAL_SIDE}² under {GOAL_MS:.0f} ms: {verdict} ({measured:.1f} ms).")
    return goal


def measure_classic(repeats: int) -> dict | None:
    """Time ClassicEngine.inpaint on a 512² region of the demo map, if both exist."""
    try:
        from inpainting_core.engines.base import EngineRequest
        from inpainting_core.engines.classic import ClassicEngine
        from tooling.demo import make_demo_map
    except ImportError as error:
        print(f"Classic engine: skipped ({error}).")
        return None
    demo = make_demo_map()
    left, top = (demo.width - CLASSIC_SIDE) // 2, (demo.height - CLASSIC_SIDE) // 2
    box = (left, top, left + CLASSIC_SIDE, top + CLASSIC_SIDE)
    mask = np.zeros((CLASSIC_SIDE, CLASSIC_SIDE), np.uint8)
    cv2.circle(
        mask, (CLASSIC_SIDE // 2, CLASSIC_SIDE // 2), CLASSIC_SIDE // 4, 255, -1, cv2.LINE_AA
    )
    request = EngineRequest(
        image=demo.crop(box),
        mask=Image.fromarray(mask),
        prompt="a lake",
        land_covers=("water",),
        seed=1,
        context=demo,
        crop_box=box,
    )
    engine = ClassicEngine()
    seconds = median_ms(lambda: engine.inpaint(request).image, repeats, True) / 1000
    met = seconds < CLASSIC_GOAL_S
    print(
        f"Classic engine, {CLASSIC_SIDE}² region of the demo map: {seconds:.3f} s "
        f"(goal under {CLASSIC_GOAL_S:.0f} s: {'met' if met else 'MISSED'})."
    )
    return {"side": CLASSIC_SIDE, "seconds": seconds, "goal_s": CLASSIC_GOAL_S, "met": met}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small maps, one run each (CI smoke test)"
    )
    parser.add_argument("--classic", action="store_true", help="also time the classic engine")
    parser.add_argument("--repeats", type=int, help="runs per measurement (default 5, --quick 1)")
    parser.add_argument(
        "--naive-max", type=int, default=2048, help="largest side for the per-pixel reference"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args(argv)

    sizes = QUICK_SIZES if arguments.quick else SIZES
    repeats = arguments.repeats or (1 if arguments.quick else 5)
    print_header(repeats, arguments.naive_max)
    rows = measure_maps(sizes, repeats, arguments.naive_max)
    results = {
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
        "maps": rows,
        "goal": report_goal(rows),
    }
    if arguments.classic:
        results["classic"] = measure_classic(repeats)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
