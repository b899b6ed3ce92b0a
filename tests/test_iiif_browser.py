"""IIIF and deep zoom in a real browser: OpenSeadragon (served from the project's static
files) opens a creation through its manifest and a World through its info.json, and the
kiosk paints on a big World shown from its tiles.

Debian's Chromium (through Playwright) against the real platform (daphne and the
django-q2 cluster, embedded profile), which makes the tile pyramids on its worker. The
big World is a 6000 × 4000 procedural map (tooling/big_maps.py) that this platform paints
by region (OLPE_HUGE_MAP_PIXELS lowered to 4096²), so it takes every step a 16384² scan
takes; the goals for a 16384² World (time to paint, page memory, a wish's time beside a
4096² one) are measured by benchmarks/bench_huge_maps.py. Screenshots go to
test-artifacts/iiif/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from tests.live import live_platform
from tests.test_csp_browser import LISTEN
from tests.test_kiosk_browser import (  # noqa: F401  (fixture: the browser)
    JOB_SECONDS,
    KIOSK,
    WISH,
    browser,
)
from tooling.big_maps import big_map

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "iiif"
BIG = (6000, 4000)
HUGE_PIXELS = 4096 * 4096  # this platform paints maps above it by region
LAYER_PIXELS = 8 * 1024 * 1024  # the kiosk's drawing layer at most (static/js/kiosk/painter.js)

SEED = """
import io, json
import numpy as np
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from gallery.models import Creation
from inpainting_core.generation import GenerationSettings
from inpainting_core.masks import normalise_mask
from inpainting_core.pipeline import generate
from museum.models import SiteSettings, World
from tooling.demo import make_demo_map

def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())

site = SiteSettings.load()
site.idle_reset_seconds = 600
site.save()
before = make_demo_map(1536, 1024, seed=11)
world = World(slug="olpe-heute", name="Olpe heute", map_date="2024")
world.image.save("map.png", png(before), save=False)
world.save()
mask = Image.new("L", before.size)
ImageDraw.Draw(mask).ellipse((560, 330, 980, 690), fill=255)
result = generate(before, normalise_mask(mask), "Was wäre, wenn hier ein See wäre?",
                  GenerationSettings(engine="classic", seed=7))
creation = Creation(world=world, engine="classic", title="Der Olpe-See",
                    prompt_original="Was wäre, wenn hier ein See wäre?",
                    prompt_translated="What if there were a lake here?",
                    status=Creation.Status.APPROVED)
creation.before_image.save("before.png", png(before), save=False)
creation.after_image.save("after.png", png(result.image), save=False)
creation.save()
print(json.dumps({"creation": creation.slug, "world": world.slug}))
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_platform("embedded", tmp_path_factory.mktemp("iiif"), workers=1,
                       env={"OLPE_HUGE_MAP_PIXELS": str(HUGE_PIXELS)}) as platform:
        seeded = json.loads(platform.manage("shell", "-c", SEED).strip().splitlines()[-1])
        added = platform.manage("add_world", str(big_map(*BIG)), "--name", "Olpe gescannt")
        platform.seeded = {**seeded, "big": added.strip().splitlines()[-1]}
        yield platform


@pytest.fixture
def page(live, browser):  # noqa: F811  (the imported fixture)
    """A page whose policy violations, console errors and uncaught exceptions are kept."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": KIOSK[0], "height": KIOSK[1]},
                                  has_touch=True, locale="de-DE",
                                  base_url=live.platform.url("").rstrip("/"))
    problems = []
    context.expose_function("reportViolation", lambda report: problems.append(report))
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: problems.append(f"uncaught {error}"))
    page.on("console", lambda message: message.type == "error" and not message.location.get(
        "url", "").endswith("/favicon.ico") and problems.append(message.text))
    page.tiles = []  # the IIIF image requests the page made, with their answers
    page.on("response", lambda response: "/iiif/3/image/" in response.url
            and "info.json" not in response.url and response.request.resource_type == "image"
            and page.tiles.append((response.url, response.status)))
    yield page
    context.close()
    assert not problems, problems


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def wait_until_fully_loaded(page, item: int = 0) -> None:
    page.wait_for_function(
        "(item) => { const v = document.querySelector('[data-iiif-viewer]').viewer;"
        " return v && v.world.getItemCount() > item && v.world.getItemAt(item).getFullyLoaded(); }",
        arg=item)


# --- OpenSeadragon ------------------------------------------------------------------------


def test_a_creation_opens_through_its_manifest_in_openseadragon(live, page):
    slug = live.seeded["creation"]
    page.goto(f"/c/{slug}/")
    viewer = page.locator("[data-iiif-viewer]")
    page.wait_for_selector("[data-iiif-viewer][data-state=ready]")
    manifest = viewer.get_attribute("data-manifest")
    assert manifest.endswith(f"/iiif/3/creations/{slug}/manifest.json")
    sources = page.evaluate(
        "() => { const w = document.querySelector('[data-iiif-viewer]').viewer.world;"
        " return [0, 1].map((i) => w.getItemAt(i).source['@id'] || w.getItemAt(i).source.id); }")
    assert [source.rsplit("/", 1)[-1] for source in sources] == ["after", "before"]
    assert page.locator(".deep-zoom-choice label").all_inner_texts() == ["Nachher", "Vorher"]
    # Deep zoom: closer in, the tiles of a finer level arrive.
    page.evaluate("() => document.querySelector('[data-iiif-viewer]').viewer.viewport"
                  ".zoomTo(3, null, true)")
    wait_until_fully_loaded(page)
    requested = [url for url, status in page.tiles if status == 200 and f"/{slug}/after/" in url]
    assert len(requested) >= 2, page.tiles
    assert all(status == 200 for _url, status in page.tiles), page.tiles
    page.locator("[data-iiif-viewer]").scroll_into_view_if_needed()
    shoot(page, "creation-through-its-manifest")
    page.locator(".deep-zoom-choice label", has_text="Vorher").click()
    wait_until_fully_loaded(page, 1)
    opacities = page.evaluate(
        "() => { const w = document.querySelector('[data-iiif-viewer]').viewer.world;"
        " return [w.getItemAt(0).getOpacity(), w.getItemAt(1).getOpacity()]; }")
    assert opacities == [0, 1]
    shoot(page, "creation-through-its-manifest-before")
    link = page.locator(".iiif-link")
    assert link.get_attribute("href").startswith(manifest + "?manifest=")


def test_a_world_opens_through_its_info_json_in_openseadragon(live, page):
    slug = live.seeded["world"]
    origin = live.platform.url("").rstrip("/")
    manifest = f"{origin}/iiif/3/worlds/{slug}/manifest.json"
    page.goto(f"/iiif/viewer/?manifest={manifest}")
    page.wait_for_selector("[data-iiif-viewer][data-state=ready]")
    # And OpenSeadragon given the World's info.json alone, as another site would use it.
    info = f"{origin}/iiif/3/image/worlds/{slug}/info.json"
    size = page.evaluate(
        """(info) => new Promise((resolve, reject) => {
            const element = document.createElement("div");
            element.style.width = "800px";
            element.style.height = "600px";
            document.body.append(element);
            const viewer = window.OpenSeadragon({ element, tileSources: info,
                                                   showNavigationControl: false });
            viewer.addHandler("open-failed", (event) => reject(event.message));
            viewer.addHandler("open", () => {
                const item = viewer.world.getItemAt(0);
                const done = () => item.getFullyLoaded()
                    && resolve([item.source.width, item.source.height, item.source.getTileWidth(0)]);
                item.addHandler("fully-loaded-change", done);
                done();
            });
        })""", info)
    assert size == [1536, 1024, 512]
    assert all(status == 200 for _url, status in page.tiles) and page.tiles
    shoot(page, "world-through-its-info-json")


# --- the kiosk on a big World ---------------------------------------------------------------


def wait_for_pyramid(page, live, slug: str) -> None:
    """The worker makes the big World's pyramid after add_world: until then its tiles
    answer 503 (asked from outside the page, whose console would report each)."""
    address = live.platform.url(f"/iiif/3/image/worlds/{slug}/0,0,512,512/512,/0/default.jpg")
    for _attempt in range(240):  # two minutes at most
        if page.request.get(address).status == 200:
            return
        page.wait_for_timeout(500)
    pytest.fail(f"the pyramid of {slug} was not made")


def layer(page) -> dict:
    return page.evaluate("() => { const c = document.getElementById('paint-layer');"
                         " return {width: c.width, height: c.height}; }")


def stroke(page, points) -> None:
    """A mouse stroke through points given as shares (0..1) of the stage shown now."""
    box = page.locator("#stage").bounding_box()
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for u, v in points[1:]:
        page.mouse.move(box["x"] + u * box["width"], box["y"] + v * box["height"], steps=4)
    page.mouse.up()


def tile_levels(page) -> set[int]:
    return set(page.evaluate(
        "() => [...document.querySelectorAll('.tile-layer .tile')].map((t) => +t.dataset.level)"))


def test_the_kiosk_paints_a_big_world_from_its_tiles_and_wishes_by_region(live, page):
    slug = live.seeded["big"]
    wait_for_pyramid(page, live, slug)
    jobs = []  # the wishes' rows, as the server stored them
    page.on("response", lambda response: response.request.method == "POST"
            and response.url.endswith("/api/v1/jobs/") and jobs.append(response.json()["id"]))
    page.goto(f"/kiosk/worlds/{slug}/")
    scale = (LAYER_PIXELS / (BIG[0] * BIG[1])) ** 0.5
    expected = {"width": round(BIG[0] * scale), "height": round(BIG[1] * scale)}
    page.wait_for_function(
        "([w, h]) => { const c = document.getElementById('paint-layer');"
        " return c && c.width === w && c.height === h; }", arg=[expected["width"], expected["height"]])
    assert page.locator("#map-image").get_attribute("src").endswith("/full/!2048,2048/0/default.jpg")
    page.wait_for_selector(".tile-layer[data-complete=true]")
    whole = max(tile_levels(page))
    shoot(page, "kiosk-big-world")

    for _step in range(4):
        page.locator("#zoom-in").click()
    page.wait_for_selector(".tile-layer[data-complete=true]")
    assert max(tile_levels(page)) < whole, "closer in, a finer level of the pyramid"
    stroke(page, [(0.45, 0.45), (0.55, 0.5), (0.5, 0.58), (0.45, 0.45)])
    shoot(page, "kiosk-big-world-zoomed-and-painted")
    page.locator("#wish").fill(WISH)
    page.locator("#generate").click()
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)

    # Only the painted region went to the server, at the map's own resolution.
    first = live.profile.job(jobs[0])
    box = json.loads(first["mask_box"])
    assert box[2] < BIG[0] / 4 and box[3] < BIG[1] / 4, box
    with Image.open(live.data_dir / "media" / first["mask_image"]) as mask:
        assert mask.size == (box[2], box[3]), "the mask has the map's resolution"
    assert first["painted_world_id"] and not first["input_image"], "the map went by reference"
    result_box = json.loads(first["result_box"])
    assert result_box[0] <= box[0] and result_box[2] >= box[2], (result_box, box)
    page.wait_for_function(
        "() => ['compare-before', 'compare-after'].every((id) => {"
        " const i = document.getElementById(id); return i.complete && i.naturalWidth > 0; })")
    sizes = page.evaluate(
        "() => ['compare-before', 'compare-after'].map((id) => {"
        " const i = document.getElementById(id); return [i.naturalWidth, i.naturalHeight]; })")
    assert sizes[0] == sizes[1] and abs(sizes[0][0] / sizes[0][1] - BIG[0] / BIG[1]) < 0.01
    shoot(page, "kiosk-big-world-result")

    page.locator("#keep-painting").click()
    assert page.locator(".patch-layer .patch").count() == 1, "the result lies over the map"
    stroke(page, [(0.2, 0.2), (0.3, 0.25), (0.25, 0.3), (0.2, 0.2)])
    page.locator("#wish").fill("Ein Wald")
    page.locator("#generate").click()
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
    second = live.profile.job(jobs[1])
    assert second["base_job_id"] == first["id"] and second["mask_box"] and second["result_box"]
    page.locator("#keep-painting").click()
    assert page.locator(".patch-layer .patch").count() == 2
    shoot(page, "kiosk-big-world-two-wishes")
    memory = page.context.new_cdp_session(page)
    memory.send("Performance.enable")
    metrics = {item["name"]: item["value"] for item in memory.send("Performance.getMetrics")["metrics"]}
    (ARTIFACTS / "kiosk-big-world.json").write_text(json.dumps({
        "map": BIG, "layer": expected, "js_heap_used_mb": metrics["JSHeapUsedSize"] / 2**20,
        "tiles_requested": len(page.tiles), "mask_box": box,
    }, indent=1))
