"""How the classic engine's pictures hold on real maps: figures per wish, and contact sheets.

The six real aerial maps of `../shared/maps/` (0.1 to 1.5 m per pixel; a map
that is missing is skipped with a note) x 17 wishes as visitors make them:
a lake in a blob and in a zig-zag stroke, a river, forest, meadow, field,
vineyard, snow, castle, church, stadium, park, harbour, market square, a road,
and two wishes the engine cannot paint. Strokes come in three sizes and sit at
three places per map (chosen by eye: a street, a wood, a town, a field).
Each wish goes through the real pipeline (`inpainting_core.pipeline.generate`),
with the map's known scale as its World would give it (or, with
--unknown-scale, none: the engine estimates it).

Per wish it prints, where they apply (`inpainting_core.engines.classic.measures`):

* water: the share of the stroke's inner part that is open water (water's
  colour in aerial photos and smooth). The inner part is what lies more than
  0.3 of the stroke's half-width inside it, and in a narrow stroke at least
  its middle half (up to 8 px in): the smoothness test looks 4 px around each
  pixel, so within a few pixels of the shore it sees the bank. A harbour's
  piers and moored boats are no open water, and count against it;
* rep: periodicity (strongest autocorrelation peak of the fine texture at lags
  >= 6 px) of the largest square inside the stroke, next to `own`: the same
  figure on the map's untouched texture (median of windows of that size);
* changed: the share of the painted area that changed (structures);
* dE / tex / edge: for healed wishes, the Lab distance of the area's mean
  colour to the ring around it, its fine texture over the ring's, and how much
  its outline shows (gradient on the outline over nearby, 1 = unseen);
* seconds for the whole pipeline.

Then per map: the estimated against the known scale, with the estimate's confidence.
Contact sheets (before with the stroke in red | after) go to
test-artifacts/pictures/quality-<map>[-x<scale>].png.

    .venv/bin/python benchmarks/picture_quality.py [--only lake,castle] [--maps olpe,zurich]
        [--scales 1,0.5,2] [--unknown-scale] [--out DIR]

Every map is judged as it is and resampled to 0.5x and 2x (the same places at
twice and half the metres per pixel), unless --scales says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from inpainting_core.engines.classic import measures  # noqa: E402
from inpainting_core.engines.classic.scale import estimate_scale  # noqa: E402
from inpainting_core.generation import GenerationSettings  # noqa: E402
from inpainting_core.pipeline import generate  # noqa: E402

MAPS_DIR = ROOT.parent / "shared" / "maps"
CELL = 240  # pixels per picture on the sheet
PAIRS_PER_ROW = 3


@dataclass(frozen=True)
class MapCase:
    key: str
    file: str
    metres_per_pixel: float
    places: tuple  # (x, y) as fractions of the map: where strokes go, in turn


MAPS = (
    # a town at 1.5 m/px: the wooded Stadtpark hill, the Martinstraße town centre, houses and gardens
    MapCase("olpe", "olpe-aerial.png", 1.5, ((0.64, 0.59), (0.36, 0.40), (0.80, 0.30))),
    # a suburb at 0.5 m/px: blocks with lawns, the main street with cars, gardens
    MapCase("zurich", "zurich-suburb-0.5m.png", 0.5, ((0.52, 0.45), (0.62, 0.80), (0.30, 0.55))),
    # a dry village at 0.5 m/px: fields, the village, scrub by the lake
    MapCase("village", "village-lake-0.5m.jpg", 0.5, ((0.62, 0.78), (0.55, 0.38), (0.30, 0.58))),
    # forest at 0.85 m/px: a clearing, dense conifers, the forest track
    MapCase("forest", "forest-0.85m.jpg", 0.85, ((0.55, 0.58), (0.80, 0.40), (0.25, 0.20))),
    # snow at 0.6 m/px: the snowy meadow with tree shadows, the spruce forest, the road's bend
    MapCase("harz", "harz-snow-0.6m.jpg", 0.6, ((0.55, 0.62), (0.30, 0.25), (0.75, 0.40))),
    # open conifer forest at 0.1 m/px: single crowns, the paved road
    MapCase("conifer", "conifer-forest-road-0.1m.png", 0.1, ((0.62, 0.55), (0.30, 0.52), (0.75, 0.22))),
)

# (key, wish as a visitor types it, stroke, size, kind of figure); sizes: radius as a share
# of the map's shorter side. Kinds: water, texture, structure, heal.
WISHES = (
    ("lake", "Was wäre, wenn hier ein See wäre?", "blob", 0.16, "water"),
    ("lake-zigzag", "Ein See", "zigzag", 0.13, "water"),
    ("river", "Ein Fluss", "band", 0.20, "water"),
    ("forest", "Ein dichter Wald", "blob", 0.11, "texture"),
    ("meadow", "Eine Wiese", "blob", 0.07, "texture"),
    ("field", "Ein Feld", "blob", 0.11, "texture"),
    ("vineyard", "Ein Weinberg", "blob", 0.09, "texture"),
    ("snow", "Schnee", "blob", 0.11, "texture"),
    ("castle", "Eine Burg auf dem Hügel", "blob", 0.16, "structure"),
    ("church", "Eine Kirche", "blob", 0.09, "structure"),
    ("stadium", "Ein Fußballstadion", "blob", 0.16, "structure"),
    ("park", "Ein Park", "blob", 0.11, "texture"),
    ("harbour", "Ein Hafen mit Booten", "blob", 0.13, "water"),
    ("market", "Ein Marktplatz", "blob", 0.07, "structure"),
    ("road", "Eine Straße", "band", 0.13, "texture"),
    ("dinosaur", "Ein Dinosaurier", "blob", 0.11, "heal"),
    ("unicorn", "Ein Einhorn", "blob", 0.07, "heal"),
)


def stroke_mask(size, kind: str, centre, reach: int) -> np.ndarray:
    """A kiosk brush stroke: 'blob' a filled round stroke, 'zigzag' a thick zig-zag, 'band' a curved band."""
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    cx, cy = centre
    if kind == "blob":
        cv2.ellipse(mask, (cx, cy), (reach, int(reach * 0.8)), 15, 0, 360, 255, -1, cv2.LINE_AA)
    elif kind == "zigzag":
        points = np.int32([[cx - reach + i * reach // 3, cy + (reach // 3 if i % 2 else -reach // 3)]
                           for i in range(7)])
        cv2.polylines(mask, [points], False, 255, max(8, reach // 2), cv2.LINE_AA)
    else:
        t = np.linspace(-1, 1, 40)
        points = np.int32(np.stack([cx + t * reach, cy + 0.35 * reach * np.sin(t * 2.2) - t * reach * 0.3], 1))
        cv2.polylines(mask, [points], False, 255, max(6, reach // 4), cv2.LINE_AA)
    return mask


def load_maps(keys, scales):
    found = []
    for case in MAPS:
        if keys and case.key not in keys:
            continue
        path = MAPS_DIR / case.file
        if not path.exists():
            print(f"skipped {case.key}: {path} is missing")
            continue
        image = Image.open(path).convert("RGB")
        for factor in scales:
            scaled = image if factor == 1 else image.resize(
                (round(image.width * factor), round(image.height * factor)),
                Image.Resampling.LANCZOS if factor > 1 else Image.Resampling.BOX)
            name = case.key if factor == 1 else f"{case.key}-x{factor:g}"
            found.append((name, case, scaled, case.metres_per_pixel / factor))
    return found


def own_periodicity(picture: np.ndarray, side: int, avoid: np.ndarray, rng) -> float:
    """The median periodicity of untouched windows of the map of this side."""
    height, width = picture.shape[:2]
    values = []
    for _ in range(40):
        if len(values) >= 9 or side >= min(height, width):
            break
        top, left = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
        if avoid[top : top + side, left : left + side].any():
            continue
        values.append(measures.periodicity(picture[top : top + side, left : left + side]))
    return float(np.median(values)) if values else float("nan")


def figures(kind, before, after, mask, rng):
    """The figures of one painted wish (see the module doc)."""
    region = mask > 127
    depth = cv2.distanceTransform(np.pad(region.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    inner = depth > max(0.3 * depth.max(), min(0.5 * depth.max(), 8.0))
    out = {}
    square = measures.inscribed_square(inner if kind == "water" else region)
    if square is not None:
        top, left, side = square
        out["rep"] = measures.periodicity(after[top : top + side, left : left + side])
        out["own"] = own_periodicity(before, side, cv2.dilate(mask, np.ones((9, 9), np.uint8)) > 0, rng)
    if kind == "water":
        out["water"] = float(measures.open_water(after)[inner].mean())
    if kind == "structure":
        diff = np.abs(cv2.GaussianBlur(after.astype(np.float32), (0, 0), 1.0)
                      - cv2.GaussianBlur(before.astype(np.float32), (0, 0), 1.0)).max(axis=2)
        out["changed"] = float((diff[region] > 18).mean())
    if kind == "heal":
        ring = measures.ring_around(region, max(8, int(depth.max() * 0.6)))
        lab = measures.lab(after)
        out["dE"] = float(np.linalg.norm(lab[region].mean(axis=0) - lab[ring].mean(axis=0)))
        texture = measures.fine_texture(after)
        out["tex"] = float(texture[region].mean() / max(texture[ring].mean(), 1e-3))
        out["edge"] = measures.edge_contrast(after, region)
    return out


def run(maps, wishes, out_dir: Path, unknown_scale: bool) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    header = f"{'map':12s} {'wish':12s} {'water':>6s} {'rep':>5s} {'own':>5s} {'changed':>7s} " \
             f"{'dE':>5s} {'tex':>5s} {'edge':>5s} {'s':>5s}  notes"
    print(header)
    print("-" * len(header))
    for name, case, image, mpp in maps:
        rng = np.random.default_rng(5)
        picture = np.asarray(image)
        short = min(image.size)
        cells = []
        for index, (key, wish, stroke, size, kind) in enumerate(wishes):
            fx, fy = case.places[index % len(case.places)]
            centre = (int(fx * image.width), int(fy * image.height))
            mask = stroke_mask(image.size, stroke, centre, max(12, int(size * short)))
            started = time.perf_counter()
            result = generate(image, mask.astype(np.float32) / 255, wish, GenerationSettings(seed=7),
                              metres_per_pixel=None if unknown_scale else mpp)
            seconds = time.perf_counter() - started
            after = np.asarray(result.image.convert("RGB"))
            values = figures(kind, picture, after, mask, rng)
            notes = " | ".join(str(n) for n in result.notes)[:90]
            print(f"{name:12s} {key:12s} {_f(values, 'water', '.0%'):>6s} {_f(values, 'rep'):>5s} "
                  f"{_f(values, 'own'):>5s} {_f(values, 'changed', '.0%'):>7s} {_f(values, 'dE', '.1f'):>5s} "
                  f"{_f(values, 'tex'):>5s} {_f(values, 'edge'):>5s} {seconds:5.2f}  {notes}", flush=True)
            cells.append((f"{key}: {wish}", *_pair(picture, after, mask)))
        path = out_dir / f"quality-{name}.png"
        _sheet(cells, f"{name}: {mpp:g} m per pixel{' (scale not given)' if unknown_scale else ''}").save(path)
        written.append(path)
    return written


def scale_table(maps) -> None:
    print()
    print(f"{'map':12s} {'known':>6s} {'estimate':>8s} {'ratio':>6s} {'confidence':>10s}  from")
    for name, _case, image, mpp in maps:
        estimate = estimate_scale(np.asarray(image))
        if estimate is None:
            print(f"{name:12s} {mpp:6.2f} {'none':>8s}")
            continue
        print(f"{name:12s} {mpp:6.2f} {estimate.metres_per_pixel:8.2f} {estimate.metres_per_pixel / mpp:6.2f} "
              f"{estimate.confidence:>10s}  {estimate.source}")


def _f(values, key, fmt=".2f"):
    return format(values[key], fmt) if key in values and np.isfinite(values[key]) else "-"


def _pair(before: np.ndarray, after: np.ndarray, mask):
    rows, columns = np.nonzero(mask > 127)
    cy, cx = (rows.min() + rows.max()) // 2, (columns.min() + columns.max()) // 2
    side = int(max(np.ptp(rows), np.ptp(columns)) * 1.35) + 16
    height, width = mask.shape
    side = min(side, height, width)
    top, left = int(np.clip(cy - side // 2, 0, height - side)), int(np.clip(cx - side // 2, 0, width - side))
    marked = before.copy()
    contours, _ = cv2.findContours((mask > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(marked, contours, -1, (230, 30, 30), max(1, side // 200))
    window = (slice(top, top + side), slice(left, left + side))
    resize = lambda picture: Image.fromarray(np.ascontiguousarray(picture[window])).resize(  # noqa: E731
        (CELL, CELL), Image.Resampling.LANCZOS)
    return resize(marked), resize(after)


def _sheet(cells, title):
    label_h, title_h, gap = 16, 22, 8
    rows = (len(cells) + PAIRS_PER_ROW - 1) // PAIRS_PER_ROW
    width = PAIRS_PER_ROW * 2 * CELL + (PAIRS_PER_ROW - 1) * gap
    sheet = Image.new("RGB", (width, title_h + rows * (CELL + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), title + "   (each wish: before, stroke in red | after)", fill="black")
    for index, (label, left, right) in enumerate(cells):
        row, column = divmod(index, PAIRS_PER_ROW)
        x, y = column * (2 * CELL + gap), title_h + row * (CELL + label_h)
        draw.text((x + 2, y + 2), label[:60], fill="black")
        sheet.paste(left, (x, y + label_h))
        sheet.paste(right, (x + CELL, y + label_h))
    return sheet


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated wish keys")
    parser.add_argument("--maps", default="", help="comma-separated map keys")
    parser.add_argument("--scales", default="1,0.5,2",
                        help="comma-separated resampling factors (default: each map as it is, at half and at "
                             "twice its resolution)")
    parser.add_argument("--unknown-scale", action="store_true", help="do not give the engine the map's scale")
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "pictures"))
    args = parser.parse_args()
    chosen_maps = load_maps({k for k in args.maps.split(",") if k}, [float(s) for s in args.scales.split(",")])
    only = {k for k in args.only.split(",") if k}
    chosen_wishes = [w for w in WISHES if not only or w[0] in only]
    for sheet_path in run(chosen_maps, chosen_wishes, Path(args.out), args.unknown_scale):
        print("wrote", sheet_path)
    scale_table(chosen_maps)
