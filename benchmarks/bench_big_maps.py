"""Big maps: a 512-pixel wish on 1024² … 8192² Worlds, by reference and uploaded,
beside the design before (the whole map uploaded, decoded and re-encoded by the web
tier, a full-size PNG at level 6 written by the worker, the broker polled every 0.5 s).

It starts the real platform (daphne + one django-q2 worker, embedded profile:
SQLite, ORM broker) through `tooling.launcher.Platform`, once per design, adds
each map as a World with `manage.py add_world`, and for every map size and way
of sending measures

* POST: how long `POST /api/v1/jobs/` takes to answer 202;
* start: from the POST until the job's `started_at` (the broker's pick-up);
* ready: from the POST until the job has succeeded (its result is stored and
  `result_url` answers);
* the worker's peak resident memory (VmHWM of the process that ran the job,
  cumulative over the run: sizes go up, and the worker keeps decoded Worlds).

Ways of sending: "reference" (`world` + mask, this design: the worker crops
from the World's map it decoded once; the first wish on a World decodes it,
"reference, cold"), "upload" (the map's bytes with the wish, stored as they
came) and "before" (the design this replaced, kept reachable here only: a
settings module for the benchmark patches the web tier back to decoding and
re-encoding the upload as PNG at Pillow's default level, sets result PNGs to
level 6 and the ORM broker's poll to 0.5 s).

    .venv/bin/python benchmarks/bench_big_maps.py [--sizes 1024,2048,4096,8192]
                                                  [--repeat 2] [--json PATH]

The wish is a round stroke 512 pixels across in the map's middle, the classic
engine paints it. The mask is sent as each design's kiosk sends it: as large
as the map before, at most 2048 pixels a side now (`static/js/kiosk/wish.js`
scales it down; the worker scales it back to the map).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_web  # noqa: E402  (its django.setup(), platform and HTTP helpers)
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from tooling.demo import make_demo_map  # noqa: E402
from tooling.launcher import Platform  # noqa: E402

SIZES = (1024, 2048, 4096, 8192)
WISH_DIAMETER = 512
# The kiosk sends masks of larger maps scaled to this side (static/js/kiosk/wish.js).
KIOSK_MASK_MAX_SIDE = 2048
POLL_S = 0.05  # how often the benchmark reads a job it waits for (up to 50 ms late)
GOALS_S = {"reference": 2.5, "upload": 5.0}  # 4096² result ready, from the issue

# The design before, reachable only from this benchmark: the web tier decodes the
# upload and stores it re-encoded as PNG at Pillow's default level (6), as
# `jobs.submit_job` did; the worker writes results at level 6 and the broker is
# polled every 0.5 s (OLPE_RESULT_PNG_LEVEL, OLPE_QUEUE_POLL in the environment).
BEFORE_APP = '''\
from django.apps import AppConfig


class BeforeConfig(AppConfig):
    name = "bench_before"

    def ready(self):
        from inpainting import jobs
        from inpainting_core.compositing import to_png_bytes
        from inpainting_core.imaging import PictureInfo, min_image_side, open_image

        def decode_and_reencode(source, **_options):
            image = open_image(source, min_side=min_image_side())
            return PictureInfo(data=to_png_bytes(image), format="PNG", size=image.size)

        jobs.inspect_picture = decode_and_reencode
'''
BEFORE_ENV = {"OLPE_RESULT_PNG_LEVEL": "6", "OLPE_QUEUE_POLL": "0.5"}


def map_png(side: int) -> bytes:
    """The demo map at `side`² (painted at up to 2048², scaled beyond), PNG level 1."""
    painted = min(side, 2048)
    image = make_demo_map(width=painted, height=painted, seed=3)
    if painted != side:
        image = image.resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def round_mask(side: int, sent_side: int | None = None) -> bytes:
    """Red paint on transparency, a disc WISH_DIAMETER map pixels across in the middle (the
    kiosk's form), drawn `sent_side` pixels a side (the map's side unless given)."""
    sent_side = sent_side or side
    mask = Image.new("RGBA", (sent_side, sent_side), (0, 0, 0, 0))
    diameter = WISH_DIAMETER * sent_side // side
    low, high = (sent_side - diameter) // 2, (sent_side + diameter) // 2
    ImageDraw.Draw(mask).ellipse((low, low, high, high), fill=(255, 0, 0, 255))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Run:
    """One platform (one design) with its Worlds."""

    def __init__(self, work_dir: Path, design: str, sizes, env: dict[str, str]):
        self.work_dir, self.design, self.sizes = work_dir, design, sizes
        self.env = bench_web.child_env(work_dir, env)
        self.platform: Platform | None = None
        self.base_url = ""
        self.worlds: dict[int, str] = {}

    def __enter__(self):
        bench_web.migrate(self.env)
        self.platform = Platform(ports=[bench_web.free_port()], workers=1, env=self.env,
                                 log_dir=self.work_dir / "logs", grace_seconds=5)
        try:
            self.platform.start(timeout=90)
        except BaseException:
            bench_web.print_log_tails(self.work_dir / "logs")
            self.platform.stop()
            raise
        self.base_url = self.platform.url("").rstrip("/")
        return self

    def __exit__(self, *exc_info):
        if exc_info[0] is not None:
            bench_web.print_log_tails(self.work_dir / "logs")
        self.platform.stop()

    def add_world(self, side: int, path: Path) -> str:
        output = subprocess.run(
            [sys.executable, str(bench_web.ROOT / "manage.py"), "add_world", str(path),
             "--name", f"Bench {side}", "--kind", "satellite"],
            env={**os.environ, **self.env}, cwd=bench_web.ROOT, check=True,
            capture_output=True, text=True, timeout=600,
        ).stdout
        return output.strip().splitlines()[-1]

    def wish(self, client, side: int, mask: bytes, *, world: str | None = None,
             image: bytes | None = None, seed: int = 1) -> dict:
        fields = {"prompt": "Ein See", "engine": "classic", "seed": str(seed)}
        files = {"mask": ("mask.png", mask, "image/png")}
        if world is not None:
            fields["world"] = world
        if image is not None:
            files["image"] = ("map.png", image, "image/png")
        posted = time.time()
        response = client.post("/api/v1/jobs/", data=fields, files=files)
        answered = time.time()
        if response.status_code != 202:
            raise RuntimeError(f"{side}²: POST answered {response.status_code}: "
                               f"{response.text[:300]}")
        state, ready = wait_until_finished(client, response.json()["url"])
        if state["status"] != "succeeded":
            raise RuntimeError(f"{side}²: the job failed: {state['error']}")
        started = datetime.fromisoformat(state["started_at"]).timestamp()
        worker = bench_web_job_worker(self.work_dir, state["id"])
        return {
            "post_s": round(answered - posted, 3),
            "start_s": round(started - posted, 3),
            "ready_s": round(ready - posted, 3),
            "worker_peak_mb": round(peak_rss_mb(worker), 1) if worker else None,
        }


def wait_until_finished(client, url: str, timeout: float = 600) -> tuple[dict, float]:
    """The finished job's state and when it was seen finished. Read every POLL_S: reading
    back to back would take a core of this machine from the worker being measured."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(url).json()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return state, time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {url} stuck in {state['status']}")
        time.sleep(POLL_S)


def bench_web_job_worker(work_dir: Path, job_id: str) -> int | None:
    """The pid of the worker that ran the job (`worker` is host:pid)."""
    with sqlite3.connect(work_dir / "data" / "db.sqlite3", timeout=30) as connection:
        row = connection.execute("SELECT worker FROM inpainting_inpaintjob WHERE id = ?",
                                 [uuid.UUID(job_id).hex]).fetchone()
    if not row or not row[0]:
        return None
    return int(row[0].rsplit(":", 1)[1])


def measure(design: str, sizes, repeat: int, maps: dict[int, Path], masks: dict[int, bytes],
            root: Path) -> list[dict]:
    env = {"OLPE_MAX_IMAGE_PIXELS": str(max(sizes) ** 2),
           "OLPE_MAX_UPLOAD_BYTES": str(512 * 1024 * 1024)}
    work_dir = root / design
    work_dir.mkdir()
    if design == "before":
        env.update(BEFORE_ENV)
    run = Run(work_dir, design, sizes, env)  # writes the benchmark's settings module
    if design == "before":
        install_the_design_before(work_dir)
    rows = []
    with run:
        with bench_web.http_client(run.base_url) as client:
            for side in sizes:
                upload = maps[side].read_bytes()
                if design == "after":
                    world = run.add_world(side, maps[side])
                    ways = [("reference, cold", {"world": world}, 1),
                            ("reference", {"world": world}, repeat),
                            ("upload", {"image": upload}, repeat)]
                else:
                    ways = [("before (upload)", {"image": upload}, repeat)]
                for way, fields, times in ways:
                    for attempt in range(times):
                        figures = run.wish(client, side, masks[side][design], seed=attempt + 1,
                                           **fields)
                        rows.append({"design": design, "map": side, "way": way, **figures})
                        print(f"  {side:>5}²  {way:<16} POST {figures['post_s']:6.2f} s  "
                              f"start {figures['start_s']:6.2f} s  ready {figures['ready_s']:6.2f} s"
                              f"  worker peak {figures['worker_peak_mb']} MiB", flush=True)
    return rows


def install_the_design_before(work_dir: Path) -> None:
    """The app that patches the web tier back, beside the benchmark's settings module."""
    (work_dir / "settings" / "bench_before.py").write_text(BEFORE_APP)
    settings_file = work_dir / "settings" / "bench_settings.py"
    settings_file.write_text(settings_file.read_text() + (
        '\nINSTALLED_APPS = [*INSTALLED_APPS, "bench_before.BeforeConfig"]\n'))


def summarise(rows: list[dict]) -> list[dict]:
    """Median per (map, way): POST, start, ready; the worker's peak after the last one."""
    table = {}
    for row in rows:
        table.setdefault((row["map"], row["way"]), []).append(row)
    summary = []
    for (side, way), group in sorted(table.items()):
        summary.append({
            "map": side, "way": way, "runs": len(group),
            **{key: round(float(np.median([row[key] for row in group])), 2)
               for key in ("post_s", "start_s", "ready_s")},
            # Other work on the machine only ever adds time: the best run is the cleanest.
            "ready_best_s": round(min(row["ready_s"] for row in group), 2),
            "worker_peak_mb": group[-1]["worker_peak_mb"],
        })
    return summary


def print_table(summary: list[dict]) -> None:
    print("\n| map | way | runs | POST answered | start | result ready (median) | "
          "result ready (best) | worker peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for row in summary:
        print(f"| {row['map']}² | {row['way']} | {row['runs']} | {row['post_s']:.2f} s | "
              f"{row['start_s']:.2f} s | {row['ready_s']:.2f} s | {row['ready_best_s']:.2f} s | "
              f"{row['worker_peak_mb']} MiB |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-before", action="store_true", help="Skip the design before.")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    sizes = [int(side) for side in options.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="olpe-big-maps-") as directory:
        root = Path(directory)
        maps, masks = {}, {}
        for side in sizes:
            maps[side] = root / f"map-{side}.png"
            maps[side].write_bytes(map_png(side))
            masks[side] = {"before": round_mask(side),
                           "after": round_mask(side, min(side, KIOSK_MASK_MAX_SIDE))}
            print(f"map {side}²: {maps[side].stat().st_size / 2**20:.1f} MiB PNG", flush=True)
        rows = []
        designs = ["after"] if options.no_before else ["after", "before"]
        for design in designs:  # medians and best runs are taken per design, per map
            print(f"{design}:", flush=True)
            rows += measure(design, sizes, options.repeat, maps, masks, root)
    summary = summarise(rows)
    print_table(summary)
    if options.json:
        options.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
