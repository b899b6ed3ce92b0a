"""Huge Worlds on the kiosk: a 16384² World beside a 4096² one, in Chromium, against the
real platform (daphne and one django-q2 worker, embedded profile), in one run.

Each World is a procedural map (tooling/big_maps.py, JPEG) added with `manage.py
add_world`; its tile pyramid is made on the worker (a 16384² map is painted by region:
a lossless pyramid). Then, per World and round, a fresh kiosk page (1920 × 1080):

* paintable: from the start of the navigation until the drawing layer has its size and
  the tools are enabled (a stroke would be drawn), read from the page's own clock
  (`performance.now()`), and until the tiles of the view have all arrived;
* a wish: a stroke in the middle of the view, "Ein See", from the click on "Paint my
  wish" until the result is shown (the comparison's pictures decoded);
* page memory after the result: the renderer process's unique memory (USS, psutil; its
  pid from CDP's SystemInfo.getProcessInfo) and its JS heap (CDP Performance metrics).

Goals (issue 21), on this machine: a 16384² World paintable within 2 s of opening its
page, the page's memory under 400 MB, and a wish on it as fast as on a 4096² World.

    .venv/bin/python benchmarks/bench_huge_maps.py [--sizes 4096,16384] [--rounds 3]
                                                  [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_web
import psutil
from playwright.sync_api import sync_playwright

from tooling.big_maps import big_map
from tooling.launcher import Platform

SIZES = (4096, 16384)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1920, "height": 1080}
GOALS = {"paintable_s": 2.0, "memory_mb": 400.0}

# The map is shown and the drawing layer has its size (drawing.js marks the screen when it
# shows a map), and the tools are on: a stroke now is drawn and kept.
PAINTABLE = """() => {
    const screen = document.getElementById('paint-screen');
    const tool = document.querySelector('input[name=tool]');
    return screen && screen.dataset.regions && screen.dataset.state === 'painting'
        && tool && !tool.disabled ? performance.now() : false;
}"""


def run_manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(bench_web.ROOT / "manage.py"), *args], env={**os.environ, **env},
        cwd=bench_web.ROOT, check=True, capture_output=True, text=True, timeout=1800,
    ).stdout


def wait_for_tiles(base_url: str, slug: str, timeout: float = 1800) -> float:
    """Seconds until the World's first tile answers (its pyramid is made)."""
    started = time.monotonic()
    with bench_web.http_client(base_url) as client:
        while client.get(f"/iiif/3/image/worlds/{slug}/0,0,512,512/512,/0/default.jpg").status_code != 200:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"no tiles for {slug}")
            time.sleep(0.5)
    return time.monotonic() - started


def renderer_memory_mb(browser) -> float:
    """The unique memory of the browser's renderer processes (one page open), in MiB."""
    session = browser.new_browser_cdp_session()
    processes = session.send("SystemInfo.getProcessInfo")["processInfo"]
    session.detach()
    total = 0
    for process in processes:
        if process["type"] == "renderer":
            try:
                total += psutil.Process(process["id"]).memory_full_info().uss
            except psutil.NoSuchProcess:
                pass
    return total / 2**20


def blank_page_memory_mb(browser) -> float:
    """A blank page's renderer: what any page costs before its own content."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto("about:blank")
    memory = renderer_memory_mb(browser)
    context.close()
    return memory


def renderer_count(browser) -> int:
    session = browser.new_browser_cdp_session()
    processes = session.send("SystemInfo.getProcessInfo")["processInfo"]
    session.detach()
    return sum(process["type"] == "renderer" for process in processes)


def wait_for_no_page(browser) -> None:
    """Until the renderers of closed pages have gone, so that one page's memory is measured."""
    deadline = time.monotonic() + 30
    while renderer_count(browser) and time.monotonic() < deadline:
        time.sleep(0.1)


def wish(page, zoom: float = 1.0) -> float:
    """A closed stroke around the middle of the view (zoomed in `zoom` times with the mouse
    wheel, as view.js reads it) and "Ein See": seconds from the click on "Paint my wish"
    until the result is shown."""
    box = page.locator("#stage").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if zoom != 1.0:
        page.mouse.move(cx, cy)
        page.mouse.wheel(0, -math.log(zoom) / WHEEL_SPEED)
        page.wait_for_selector(".tile-layer[data-complete=true]")
    page.mouse.move(cx - 40, cy - 30)
    page.mouse.down()
    for dx, dy in ((40, -30), (50, 20), (0, 45), (-45, 20), (-40, -30)):
        page.mouse.move(cx + dx, cy + dy, steps=3)
    page.mouse.up()
    page.locator("#wish").fill("Ein See")
    clicked = time.monotonic()
    page.locator("#generate").click()
    page.locator("#result-panel").wait_for(state="visible")
    page.wait_for_function("() => document.getElementById('compare-after').complete")
    return time.monotonic() - clicked


# The wheel zooms by exp(-deltaY × this) (static/js/kiosk/view.js): on a map 4 times the
# side, zoomed in 4 times, the same stroke covers as many map pixels as on a 4096² map.
WHEEL_SPEED = 0.0015
SAME_AREA_SIDE = 4096


def one_round(browser, base_url: str, slug: str, side: int) -> dict:
    wait_for_no_page(browser)
    context = browser.new_context(viewport=VIEWPORT, has_touch=True, locale="de-DE",
                                  base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"/kiosk/worlds/{slug}/", wait_until="commit")
    paintable = page.wait_for_function(PAINTABLE, polling="raf").json_value() / 1000
    page.wait_for_function(
        "() => { const tiles = document.querySelector('.tile-layer');"
        " return !tiles || tiles.dataset.complete === 'true' || !document.querySelector('.tile'); }",
        polling=50)
    tiles = page.evaluate("() => performance.now()") / 1000
    opened_memory = renderer_memory_mb(browser)
    whole_view = wish(page)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    metrics = {item["name"]: item["value"] for item in cdp.send("Performance.getMetrics")["metrics"]}
    figures = {
        "paintable_s": round(paintable, 3), "tiles_s": round(tiles, 3),
        "wish_s": round(whole_view, 3),
        "opened_uss_mb": round(opened_memory, 1),
        "renderer_uss_mb": round(renderer_memory_mb(browser), 1),
        "js_heap_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1),
        "tiles_loaded": page.locator(".tile-layer .tile").count(),
    }
    if side > SAME_AREA_SIDE:  # the same map area as on the small map: anew, zoom in, wish
        page.goto(f"/kiosk/worlds/{slug}/")
        page.wait_for_function(PAINTABLE, polling="raf")
        figures["wish_same_area_s"] = round(wish(page, side / SAME_AREA_SIDE), 3)
    else:
        figures["wish_same_area_s"] = figures["wish_s"]
    context.close()
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    sizes = [int(side) for side in options.sizes.split(",")]
    maps = {}
    for side in sizes:
        started = time.monotonic()
        maps[side] = big_map(side, side)
        print(f"map {side}²: {maps[side].stat().st_size / 2**20:.1f} MiB JPEG "
              f"({time.monotonic() - started:.1f} s)", flush=True)
    rows, setup = [], {}
    with tempfile.TemporaryDirectory(prefix="olpe-huge-maps-") as directory:
        work_dir = Path(directory)
        env = bench_web.child_env(work_dir, {"LOG_LEVEL": "INFO"})
        bench_web.migrate(env)
        platform = Platform(ports=[bench_web.free_port()], workers=1, env=env,
                            log_dir=work_dir / "logs", grace_seconds=5)
        platform.start(timeout=90)
        base_url = platform.url("").rstrip("/")
        try:
            slugs = {}
            for side in sizes:
                started = time.monotonic()
                output = run_manage(env, "add_world", str(maps[side]), "--name", f"Karte {side}")
                added = time.monotonic() - started
                slugs[side] = output.strip().splitlines()[-1]
                ready = wait_for_tiles(base_url, slugs[side])
                setup[side] = {"add_world_s": round(added, 1), "tiles_ready_s": round(ready, 1)}
                print(f"{side}²: add_world {added:.1f} s, tiles {ready:.1f} s later", flush=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=CHROMIUM_ARGS)
                setup["blank_page_uss_mb"] = round(blank_page_memory_mb(browser), 1)
                print(f"a blank page's renderer: {setup['blank_page_uss_mb']} MiB", flush=True)
                for round_number in range(options.rounds + 1):  # round 0 warms up each World
                    for side in sizes:
                        figures = one_round(browser, base_url, slugs[side], side)
                        row = {"map": side, "round": round_number, **figures}
                        print(f"  {side:>5}² round {round_number}: {figures}", flush=True)
                        if round_number:
                            rows.append(row)
                browser.close()
        except BaseException:
            bench_web.print_log_tails(work_dir / "logs")
            raise
        finally:
            platform.stop()
            for line in (work_dir / "logs" / "cluster.log").read_text(errors="replace").splitlines():
                if " painted by " in line or "Pyramid of" in line:
                    print("   worker:", line.split(": ", 1)[-1], flush=True)
    summary = []
    for side in sizes:
        group = [row for row in rows if row["map"] == side]
        summary.append({"map": side, **setup[side], **{
            key: round(statistics.median(row[key] for row in group), 2)
            for key in ("paintable_s", "tiles_s", "wish_s", "wish_same_area_s", "opened_uss_mb",
                        "renderer_uss_mb", "js_heap_mb")}})
    print(f"\nA blank page's renderer: {setup.get('blank_page_uss_mb')} MiB USS.")
    print("\n| map | add_world | tiles ready after | paintable | all tiles of the view | "
          "wish, whole view | wish, same map area | renderer USS opened | … after the wish "
          "| JS heap |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in summary:
        print(f"| {row['map']}² | {row['add_world_s']} s | {row['tiles_ready_s']} s | "
              f"{row['paintable_s']:.2f} s | {row['tiles_s']:.2f} s | {row['wish_s']:.2f} s | "
              f"{row['wish_same_area_s']:.2f} s | "
              f"{row['opened_uss_mb']:.0f} MiB | {row['renderer_uss_mb']:.0f} MiB | "
              f"{row['js_heap_mb']:.0f} MiB |")
    if options.json:
        options.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
