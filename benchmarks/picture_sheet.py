"""Contact sheets of the classic engine: maps x wishes, before and after.

For the real orthophoto of Olpe (`../shared/maps/olpe-aerial.png`, skipped
with a note where it is missing; once at the scale its World would know, once
at the scale the engine estimates), the synthetic demo map and a drawn map made
from it (ink lines on paper, like a scanned plan), it paints each wish on the
same brush strokes (a zig-zag stroke for lakes and rivers, as visitors draw
them, a round blob for the rest) through the real pipeline and writes one
PNG per group of wishes into test-artifacts/pictures/ (each row a wish, each
map a pair of columns: before with the stroke outlined in red, after), plus
the engine's notes and seconds per picture on stdout.

    .venv/bin/python benchmarks/picture_sheet.py [--only lake,forest] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from inpainting_core.generation import GenerationSettings  # noqa: E402
from inpainting_core.pipeline import generate  # noqa: E402
from tooling.demo import make_demo_map  # noqa: E402

OLPE = ROOT.parent / "shared" / "maps" / "olpe-aerial.png"
CELL = 300  # pixels per picture on the sheet
ROWS_PER_SHEET = 5

# (key, wish as a visitor types it, stroke); the kiosk's three suggestions first.
WISHES = (
    ("lake", "Was wäre, wenn hier ein See wäre?", "zigzag"),
    ("forest", "Ein dichter Wald", "blob"),
    ("castle", "Eine Burg auf dem Hügel", "blob"),
    ("stadium", "Ein Fußballstadion", "blob"),
    ("church", "Eine Kirche", "blob"),
    ("field", "Ein Feld", "blob"),
    ("meadow", "Eine Wiese", "blob"),
    ("river", "Ein breiterer Fluss", "zigzag"),
    ("harbour", "Ein Hafen mit Booten", "blob"),
    ("park", "Ein Park", "blob"),
    ("vineyard", "Ein Weinberg", "blob"),
    ("bridge", "Eine Brücke", "band"),
    ("railway", "Eine Eisenbahnlinie", "band"),
    ("snow", "Schnee", "blob"),
    ("houses", "Neue Häuser", "blob"),
    ("wind farm", "Ein Windpark", "blob"),
    ("parking", "Ein Parkplatz", "blob"),
    ("dinosaur", "Ein Dinosaurier", "blob"),
)


def drawn_map(photo: Image.Image) -> Image.Image:
    """A line drawing of a map: dark ink edges of its shapes on cream paper, a little stained."""
    rgb = np.asarray(photo.convert("RGB"))
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), 2.0)
    edges = cv2.Canny(grey, 30, 70)
    paper = np.float32([236, 226, 200])
    rng = np.random.default_rng(1830)
    stains = cv2.GaussianBlur(rng.standard_normal(grey.shape).astype(np.float32), (0, 0), 40)
    stains = stains / (np.abs(stains).max() + 1e-6)
    image = paper * (1 + 0.04 * stains)[..., None]
    ink = np.float32([60, 48, 40])
    image[edges > 0] = ink
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def stroke_mask(size, kind: str, centre, reach: int) -> np.ndarray:
    """A kiosk brush stroke: 'blob' a filled round stroke, 'zigzag' a thick zig-zag, 'band' a line."""
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
        cv2.line(mask, (cx - reach, cy + reach // 3), (cx + reach, cy - reach // 3), 255, max(6, reach // 4),
                 cv2.LINE_AA)
    return mask


def maps():
    found = []
    if OLPE.exists():
        # Olpe's map with its labels: a green spot between houses and the wooded hill (right).
        # As its World knows it: 1.5 m per pixel, measured on the map (roundabouts 25 px
        # across, two tennis courts 24 px); the roof estimate says about 3.5.
        found.append(("olpe-aerial", Image.open(OLPE).convert("RGB"), (610, 560), 110, None, 1.5))
        found.append(("olpe-estimated", Image.open(OLPE).convert("RGB"), (610, 560), 110, None, None))
    else:
        print(f"skipped the Olpe orthophoto: {OLPE} is missing")
    demo = make_demo_map()
    found.append(("demo", demo, (820, 560), 130, None, None))
    found.append(("drawn", drawn_map(demo), (820, 560), 130, "historic", None))
    return found


def render(names, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    chosen = [w for w in WISHES if not names or w[0] in names]
    rows = []
    for key, wish, stroke in chosen:
        cells = []
        for map_name, image, centre, reach, kind, metres_per_pixel in maps_cache:
            mask = stroke_mask(image.size, stroke, centre, reach)
            started = time.perf_counter()
            result = generate(image, mask > 127, wish, GenerationSettings(seed=7),
                              map_kind=kind or "", metres_per_pixel=metres_per_pixel)
            seconds = time.perf_counter() - started
            notes = " | ".join(str(n) for n in result.notes)
            print(f"{map_name:12s} {key:9s} {seconds:5.2f} s  {notes}")
            cells.append(_pair(image, result.image, mask, centre, reach))
        rows.append((f"{key}: {wish}", cells))
    written = []
    for start in range(0, len(rows), ROWS_PER_SHEET):
        sheet = _sheet(rows[start : start + ROWS_PER_SHEET])
        path = out / f"classic-sheet-{start // ROWS_PER_SHEET + 1}.png"
        sheet.save(path)
        written.append(path)
    return written


def _pair(before: Image.Image, after: Image.Image, mask, centre, reach):
    side = int(reach * 2.6)
    box = (centre[0] - side // 2, centre[1] - side // 2, centre[0] + side // 2, centre[1] + side // 2)
    outline = np.zeros_like(mask)
    contours, _ = cv2.findContours((mask > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    marked = np.asarray(before.convert("RGB")).copy()
    cv2.drawContours(marked, contours, -1, (230, 30, 30), 2)
    del outline
    left = Image.fromarray(marked).crop(box).resize((CELL, CELL), Image.Resampling.LANCZOS)
    right = after.convert("RGB").crop(box).resize((CELL, CELL), Image.Resampling.LANCZOS)
    return left, right


def _sheet(rows):
    label_h = 18
    columns = len(rows[0][1]) * 2
    sheet = Image.new("RGB", (columns * CELL + (columns // 2 - 1) * 8, len(rows) * (CELL + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, cells) in enumerate(rows):
        y = r * (CELL + label_h)
        draw.text((4, y + 3), label + "   (each map: before | after)", fill="black")
        for c, (left, right) in enumerate(cells):
            x = c * (2 * CELL + 8)
            sheet.paste(left, (x, y + label_h))
            sheet.paste(right, (x + CELL, y + label_h))
    return sheet


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated wish keys")
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "pictures"))
    args = parser.parse_args()
    maps_cache = maps()
    for path in render({n for n in args.only.split(",") if n}, Path(args.out)):
        print("wrote", path)
