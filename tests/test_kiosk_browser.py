"""The kiosk in a real browser against the real platform.

Debian's Chromium (headless, through Playwright) visits the kiosk served by
daphne, while the django-q2 cluster paints wishes with the offline classic
engine: a visitor picks a World, paints with mouse and finger, wishes in
German, watches the job's progress over its websocket, compares, hands the
result to the gallery, switches the language and walks away. Screenshots of
every step go to test-artifacts/kiosk/.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.live import live_platform
from tooling.launcher import CLUSTER

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "kiosk"
MAP_SIZE = (512, 384)
# The select tool's World: its parcels are large enough on the map to be tapped.
FIELDS_SIZE = (768, 512)
KIOSK = (1920, 1080)
TABLET = (1280, 800)
WISH = "Was wäre, wenn hier ein See wäre?"
BLOCKED_TERM = "Stinkstiefel"
LONG_IDLE = 600
SHORT_IDLE = 5
JOB_SECONDS = 60_000  # milliseconds Playwright waits for a job to finish

SEED = f"""
from django.core.files.base import ContentFile
import io
from inpainting_core import engines
from tooling.demo import make_demo_map
from museum.models import BlockedTerm, SiteSettings, World

def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())

def world(slug, name, size=({MAP_SIZE[0]}, {MAP_SIZE[1]}), **fields):
    world = World(slug=slug, name=name, **fields)
    picture = make_demo_map(width=size[0], height=size[1])
    world.image.save("map.png", png(picture), save=False)
    world.save()

world("olpe-heute", "Olpe heute", description="Die Stadt am Biggesee, wie sie heute ist.", order=1)
world("urkarte", "Urkarte 1830", kind=World.Kind.HISTORIC, map_date="1830", editable=False,
      description="Die preußische Urkatasterkarte.", order=2)
world("entwurf", "Entwurf", visible=False, order=3)
world("felder", "Felder am See", size=({FIELDS_SIZE[0]}, {FIELDS_SIZE[1]}), order=4)
site = SiteSettings.load()
site.idle_reset_seconds = {LONG_IDLE}
site.visitor_engine = engines.CLASSIC
site.prompt_suggestions_de = "{WISH}\\nWas wäre, wenn hier ein Wald wäre?"
site.prompt_suggestions_en = "What if there were a lake here?"
site.save()
BlockedTerm.objects.get_or_create(term="{BLOCKED_TERM}", defaults={{"category": "insult"}})
"""


# --- the platform and the browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_platform("embedded", tmp_path_factory.mktemp("kiosk"), workers=1) as platform:
        platform.manage("shell", "-c", SEED)
        yield platform


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def kiosk(live, browser):
    """A fresh kiosk browser (own cookies and storage) at 1920x1080 with a touchscreen."""
    context = browser.new_context(
        viewport={"width": KIOSK[0], "height": KIOSK[1]}, has_touch=True,
        base_url=live.platform.url("").rstrip("/"),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def database(live) -> sqlite3.Connection:
    return sqlite3.connect(live.profile.database_url.removeprefix("sqlite:///"), timeout=30)


def set_idle_seconds(live, seconds: int) -> None:
    with database(live) as connection:
        connection.execute("UPDATE gallery_sitesettings SET idle_reset_seconds = ?", [seconds])


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


# --- painting helpers -------------------------------------------------------------------


def open_world(page, slug: str = "olpe-heute") -> None:
    page.goto(f"/kiosk/worlds/{slug}/")
    page.wait_for_function(
        "([w, h]) => { const c = document.getElementById('paint-layer');"
        " return c && c.width === w && c.height === h; }",
        arg=list(MAP_SIZE),
    )


def screen_point(page, x: float, y: float) -> tuple[float, float]:
    """Where map pixel (x, y) is on the screen."""
    box = page.locator("#paint-layer").bounding_box()
    return box["x"] + x * box["width"] / MAP_SIZE[0], box["y"] + y * box["height"] / MAP_SIZE[1]


def mouse_stroke(page, points) -> None:
    page.mouse.move(*screen_point(page, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*screen_point(page, *point), steps=4)
    page.mouse.up()


def finger_stroke(page, points) -> None:
    """A finger on the touchscreen: touch events, which Chromium turns into pointer events."""
    cdp = page.context.new_cdp_session(page)
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, point in zip(kinds, points):
        x, y = screen_point(page, *point)
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def circle(cx, cy, radius, count=40) -> list[tuple[float, float]]:
    return [
        (cx + radius * math.cos(2 * math.pi * step / count),
         cy + radius * math.sin(2 * math.pi * step / count))
        for step in range(count + 1)
    ]


def paint_alpha(page, x: int, y: int) -> int:
    return page.evaluate(
        "([x, y]) => document.getElementById('paint-layer').getContext('2d')"
        ".getImageData(x, y, 1, 1).data[3]",
        [x, y],
    )


def record_job_display(page) -> None:
    """Note every text and progress value the job panel shows, however briefly."""
    page.evaluate("""() => {
        window.seen = {messages: [], progress: [], previews: 0};
        const message = document.getElementById('job-message');
        const bar = document.getElementById('job-progress');
        const preview = document.getElementById('job-preview');
        new MutationObserver(() => window.seen.messages.push(message.textContent))
            .observe(message, {childList: true, characterData: true, subtree: true});
        new MutationObserver(() => {
            if (bar.hasAttribute('value')) window.seen.progress.push([bar.value, bar.max]);
        }).observe(bar, {attributes: true});
        new MutationObserver(() => window.seen.previews += 1)
            .observe(preview, {attributes: true, attributeFilter: ['src']});
    }""")


def websocket_messages(page) -> list[str]:
    frames = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda payload: isinstance(payload, str) and frames.append(payload)
    ))
    return frames


def wait_for_frame(page, frames, matches, timeout=15.0) -> dict:
    """The first websocket message (parsed) for which `matches` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in frames:
            message = json.loads(frame)
            if matches(message):
                return message
        page.wait_for_timeout(50)
    raise AssertionError(f"no such websocket message within {timeout} s: {frames}")


def generate_button(page):
    return page.locator("#generate")


# --- tests --------------------------------------------------------------------------------


def test_a_visit_from_the_welcome_to_the_gallery_and_back(live, kiosk):
    page = kiosk
    frames = websocket_messages(page)

    page.goto("/kiosk/")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("#start-button").is_visible()
    shoot(page, "01-start")

    page.locator("#start-button").click()
    page.wait_for_url("**/kiosk/worlds/")
    cards = page.locator(".world-card")
    assert sorted(cards.evaluate_all("cards => cards.map(card => card.dataset.world)")) == [
        "felder", "olpe-heute", "urkarte",
    ]
    assert "1830" in page.locator('[data-world="urkarte"]').inner_text()
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    shoot(page, "02-worlds")

    page.locator('[data-world="olpe-heute"] .world-link').click()
    page.wait_for_url("**/kiosk/worlds/olpe-heute/")
    open_world(page)
    assert generate_button(page).is_disabled()
    shoot(page, "03-paint")

    # A brush stroke with the mouse; an outline with a finger, which fills when it closes.
    mouse_stroke(page, [(60, 300), (120, 320), (200, 310), (260, 330)])
    assert paint_alpha(page, 120, 320) == 255
    finger_stroke(page, circle(330, 150, 70))
    assert paint_alpha(page, 330, 150) == 255, "the closed outline is filled"
    assert paint_alpha(page, 470, 30) == 0, "nothing outside the strokes is painted"
    assert generate_button(page).is_disabled(), "no wish yet"

    page.locator("#undo").click()
    assert paint_alpha(page, 330, 150) == 0
    page.locator("#redo").click()
    assert paint_alpha(page, 330, 150) == 255

    # The curators' suggestions are offered while typing.
    suggestions = page.locator("#wish-suggestions option").evaluate_all(
        "options => options.map(option => option.value)"
    )
    assert WISH in suggestions
    page.locator("#wish").fill(WISH)
    assert generate_button(page).is_enabled()
    page.locator("input[name=fidelity][value=exact]").check(force=True)
    shoot(page, "04-wish")

    # Enter generates; the panel shows the job's progress as it arrives. The
    # workers wait until the page watches the job, or the classic engine could
    # finish before the socket opens and there would be no progress to see.
    record_job_display(page)
    live.platform.stop_process(CLUSTER)
    try:
        page.locator("#wish").press("Enter")
        wait_for_frame(page, frames, lambda message: message.get("snapshot"))
        assert generate_button(page).is_disabled(), "one wish at a time"
    finally:
        live.platform.start_process(CLUSTER)
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
    seen = page.evaluate("window.seen")
    kinds = {json.loads(frame).get("type") for frame in frames}
    assert {"progress", "succeeded"} <= kinds, kinds
    assert seen["progress"], "the progress bar moved"
    assert seen["progress"][-1][0] == seen["progress"][-1][1], "it reached its end"
    assert any("AI" in text or "KI" in text for text in seen["messages"]), seen["messages"]
    assert seen["previews"] >= 1, "a preview arrived while painting"
    assert page.locator("#compare").is_visible()
    shoot(page, "05-result")

    # The comparison: keyboard on the range, then a drag on the picture.
    slider = page.locator("#compare-range")
    page.wait_for_function("() => document.getElementById('compare-range').value === '100'")
    slider.focus()
    page.keyboard.press("Home")
    assert slider.input_value() == "0"
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    assert slider.input_value() == "30"
    assert "30%" in page.locator("#compare").get_attribute("style")
    box = page.locator("#compare").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert int(slider.input_value()) in range(73, 78)
    shoot(page, "06-compare")

    # Into the gallery: a title, a first name with consent, and the code for the phone.
    page.locator("#to-gallery").click()
    page.locator("#gallery-title-input").fill("Der Olpesee")
    page.locator("#gallery-name").fill("Mia")
    page.locator("#gallery-consent").check()
    shoot(page, "07-gallery-form")
    page.locator("#gallery-submit").click()
    page.locator("#qr-code svg").wait_for(state="visible")
    shoot(page, "08-qr")
    with database(live) as connection:
        rows = connection.execute(
            "SELECT title, visitor_name, consent, status, slug FROM gallery_creation"
        ).fetchall()
    assert [row[:4] for row in rows] == [("Der Olpesee", "Mia", 1, "pending")]
    assert rows[0][4] in page.locator("#qr-code").get_attribute("data-url")
    with database(live) as connection:
        maps = connection.execute(
            "SELECT input_image, painted_world_id, world_id FROM inpainting_inpaintjob"
        ).fetchall()
    assert len(maps) == 1 and maps[0][0] == "", "the kiosk sent no copy of the World's map"
    assert maps[0][1] is not None and maps[0][1] == maps[0][2]

    # English, without losing the visit; then the visitor walks away.
    set_idle_seconds(live, SHORT_IDLE)
    page.locator("#language-form button[value=en]").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    page.locator("#result-panel").wait_for(state="visible")
    assert page.locator("#result-title").inner_text() == "Here is your picture!"
    assert page.locator("#compare").is_visible()
    shoot(page, "09-english")

    dialog = page.locator("#idle-dialog")
    dialog.wait_for(state="visible", timeout=(SHORT_IDLE + 5) * 1000)
    assert page.locator("#idle-seconds").inner_text().isdigit()
    shoot(page, "10-still-there")
    page.locator("#idle-continue").click()
    assert not dialog.is_visible()
    assert page.locator("#result-panel").is_visible(), "continuing keeps the visit"

    page.wait_for_url("**/kiosk/", timeout=(SHORT_IDLE * 2 + 15) * 1000)
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.evaluate("window.sessionStorage.length") == 0
    shoot(page, "11-reset")
    set_idle_seconds(live, LONG_IDLE)

    # Nothing of the previous visit is left for the next visitor.
    open_world(page)
    assert paint_alpha(page, 330, 150) == 0
    assert page.locator("#wish").input_value() == ""
    assert page.locator("#compare").is_hidden()
    assert page.locator("#result-panel").is_hidden()
    assert generate_button(page).is_disabled()


def test_generate_waits_for_both_a_drawing_and_a_wish(kiosk):
    page = kiosk
    open_world(page)
    page.locator("#wish").fill(WISH)
    assert generate_button(page).is_disabled(), "a wish alone is not enough"
    assert page.locator("#generate-hint").inner_text().strip(), "the hint says what is missing"

    mouse_stroke(page, [(100, 100), (180, 120)])
    assert generate_button(page).is_enabled()

    # Erasing every trace of paint takes the permission away again.
    page.locator("label.tool:has(input[value=eraser])").click()
    page.locator("label.size:has(input[value='96'])").click()
    mouse_stroke(page, [(80, 90), (200, 130), (80, 130), (200, 90)])
    assert paint_alpha(page, 140, 110) == 0
    page.wait_for_function("() => document.getElementById('generate').disabled")

    page.locator("#undo").click()
    assert generate_button(page).is_enabled()
    page.locator("#wish").fill("   ")
    assert generate_button(page).is_disabled(), "blanks are no wish"

    # The area tool fills whatever outline it draws, closed or not.
    page.locator("label.tool:has(input[value=shape])").click()
    mouse_stroke(page, [(300, 250), (420, 250), (420, 350), (300, 350)])
    assert paint_alpha(page, 360, 300) == 255


def test_a_world_for_viewing_only_cannot_be_painted(kiosk):
    page = kiosk
    page.goto("/kiosk/worlds/urkarte/")
    page.wait_for_function("() => document.getElementById('map-image').complete")
    assert page.locator("#paint-layer").count() == 0
    assert page.locator("#tools").count() == 0
    assert page.locator("#wish").count() == 0
    assert page.locator("#view-only-title").is_visible()
    box = page.locator("#map-image").bounding_box()
    page.mouse.move(box["x"] + 50, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + 250, box["y"] + 150, steps=5)
    page.mouse.up()
    assert page.locator("canvas").count() == 0
    shoot(page, "12-view-only")


def test_a_blocked_wish_is_explained_and_the_drawing_stays(kiosk):
    page = kiosk
    open_world(page)
    mouse_stroke(page, [(200, 200), (260, 220)])
    page.locator("#wish").fill(f"Was wäre, wenn hier ein {BLOCKED_TERM} wohnte?")
    page.locator("#generate").click()
    error = page.locator("#wish-error")
    error.wait_for(state="visible")
    assert error.inner_text().strip()
    assert page.locator("#job-status").is_hidden()
    assert paint_alpha(page, 230, 210) == 255, "the drawing is kept"
    assert generate_button(page).is_enabled(), "the visitor may change the wish and try again"
    shoot(page, "13-blocked")


def test_the_job_survives_a_web_server_restart_and_the_result_becomes_the_map(live, kiosk):
    """The socket drops while the wish waits; it reconnects, and the result still arrives.

    Then the visitor keeps painting on the result, and undo brings the old map back.
    """
    page = kiosk
    live.platform.stop_process(CLUSTER)
    try:
        open_world(page)
        world_map = page.locator("#map-image").get_attribute("src")
        mouse_stroke(page, [(100, 200), (200, 220), (300, 200)])
        page.locator("#wish").fill("Ein Wald")
        page.locator("#generate").click()
        page.wait_for_function(
            "() => /next|waiting|nächste|wartet/i"
            ".test(document.getElementById('job-message').textContent)"
        )
        assert page.locator("#cancel-job").is_enabled()
        assert generate_button(page).is_disabled(), "one wish at a time"
        web = live.platform.web_names[0]
        live.platform.stop_process(web)
        page.locator("#job-connection").wait_for(state="visible")
        shoot(page, "14-reconnecting")
        live.platform.start_process(web)
        live.platform.wait_until_ready()
    finally:
        live.platform.start_process(CLUSTER)
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
    assert page.locator("#job-connection").is_hidden()

    page.locator("#keep-painting").click()
    assert page.locator("#wish-form").is_visible()
    result_map = page.locator("#map-image").get_attribute("src")
    assert result_map != world_map
    assert paint_alpha(page, 200, 220) == 0, "the painted place was used up by the wish"
    mouse_stroke(page, [(400, 100), (450, 120)])
    assert paint_alpha(page, 425, 110) == 255
    page.locator("#undo").click()
    page.locator("#undo").click()
    assert page.locator("#map-image").get_attribute("src") == world_map
    assert paint_alpha(page, 200, 220) == 255, "the old map comes back with its drawing"
    page.locator("#redo").click()
    assert page.locator("#map-image").get_attribute("src") == result_map

    # A wish on the result names the earlier job instead of sending the picture.
    mouse_stroke(page, [(150, 250), (250, 260)])
    page.locator("#wish").fill("Ein See")
    page.locator("#generate").click()
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
    with database(live) as connection:
        latest = connection.execute(
            "SELECT input_image, base_job_id, status FROM inpainting_inpaintjob "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert latest[0] == "" and latest[1] is not None and latest[2] == "succeeded"


def test_a_waiting_wish_can_be_cancelled(live, kiosk):
    page = kiosk
    live.platform.stop_process(CLUSTER)
    try:
        open_world(page)
        mouse_stroke(page, [(100, 100), (150, 150)])
        page.locator("#wish").fill("Ein Schloss")
        page.locator("#generate").click()
        cancel = page.locator("#cancel-job")
        page.wait_for_function("() => !document.getElementById('cancel-job').disabled")
        cancel.click()
        page.locator("#job-status").wait_for(state="hidden")
        assert page.locator("#wish-form").is_visible()
        assert paint_alpha(page, 125, 125) == 255
        assert generate_button(page).is_enabled()
    finally:
        live.platform.start_process(CLUSTER)


def test_the_tablet_layout_keeps_touch_targets_large(live, browser):
    context = browser.new_context(
        viewport={"width": TABLET[0], "height": TABLET[1]}, has_touch=True,
        base_url=live.platform.url("").rstrip("/"),
    )
    page = context.new_page()
    try:
        open_world(page)
        small = page.evaluate(
            """selector => [...document.querySelectorAll(selector)]
                .filter(element => element.offsetParent !== null)
                .map(element => {
                    const box = element.getBoundingClientRect();
                    return [element.id || element.className, box.width, box.height];
                })
                .filter(([, width, height]) => width < 48 || height < 48)""",
            "button, a.button, .tool-face, .choice-face, select, input[type=text], "
            "input[type=range]",
        )
        assert small == [], f"touch targets under 48 px: {small}"
        stage = page.locator("#stage").bounding_box()
        assert stage["width"] * stage["height"] > 0.35 * TABLET[0] * TABLET[1], "the map dominates"
        shoot(page, "15-tablet")
        page.goto("/kiosk/")
        shoot(page, "16-tablet-start")
    finally:
        context.close()


# --- zoom, select, result first (a touchscreen) ----------------------------------------------


def map_point(page, x: float, y: float, size=FIELDS_SIZE) -> tuple[float, float]:
    """Where map pixel (x, y) of a map of `size` is on the screen, at the current zoom."""
    box = page.locator("#paint-layer").bounding_box()
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]


def view_state(page) -> dict:
    return page.evaluate("""() => {
        const style = document.getElementById('stage-content').style;
        return {zoom: Number(style.getPropertyValue('--zoom')),
                x: parseFloat(style.getPropertyValue('--pan-x')),
                y: parseFloat(style.getPropertyValue('--pan-y'))};
    }""")


def two_fingers(page, starts, ends, steps=10) -> None:
    """Two fingers down at `starts`, moved together to `ends`, lifted: Chromium's touch input."""
    cdp = page.context.new_cdp_session(page)

    def points(t):
        return [{"x": a[0] + (b[0] - a[0]) * t, "y": a[1] + (b[1] - a[1]) * t, "id": index}
                for index, (a, b) in enumerate(zip(starts, ends))]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
    for step in range(1, steps + 1):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(step / steps)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def tap(page, x: float, y: float) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def painted(page):
    """The drawing layer's alpha as an H×W array (the mask the kiosk would send)."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    # as the kiosk exports the mask: a PNG of the layer (a list of numbers would be slow)
    url = page.evaluate("() => document.getElementById('paint-layer').toDataURL('image/png')")
    picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return np.asarray(picture.convert("RGBA"))[..., 3]


def field_parcels(count=2):
    """The widest field parcels inside the demo map (not cut by its edge), widest first:
    (mask, deepest point) each, from the demo's own layout."""
    import cv2
    import numpy as np

    from inpainting_core import landcover
    from tooling.demo import LABELS, make_demo_map, make_demo_regions

    _image, cover = make_demo_map(*FIELDS_SIZE, return_labels=True)
    truth = make_demo_regions(*FIELDS_SIZE)
    found = []
    for parcel in np.unique(truth):
        inside = truth == parcel
        if np.bincount(cover[inside]).argmax() != LABELS.index(landcover.FIELD):
            continue
        if inside[0].any() or inside[-1].any() or inside[:, 0].any() or inside[:, -1].any():
            continue
        depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(np.argmax(depth), depth.shape)
        found.append((float(depth.max()), inside, (int(x), int(y))))
    found.sort(key=lambda item: -item[0])
    return [(inside, point) for _depth, inside, point in found[:count]]


def iou(mask, truth) -> float:
    return float((mask & truth).sum() / (mask | truth).sum())


def test_a_visitor_zooms_selects_a_field_and_sees_the_result_first(live, browser):
    """On a touchscreen: pinch to zoom, pan with two fingers, paint a thin line at 4×,
    tap fields to select them (and one away), wish, and see the whole result first."""
    context = browser.new_context(
        viewport={"width": TABLET[0], "height": TABLET[1]}, has_touch=True, is_mobile=True,
        device_scale_factor=1, base_url=live.platform.url("").rstrip("/"),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/kiosk/worlds/felder/")
        page.wait_for_function(
            "([w, h]) => { const c = document.getElementById('paint-layer');"
            " return c && c.width === w && c.height === h; }", arg=list(FIELDS_SIZE))
        # the worker cut the World into regions when it was added; the kiosk fetched them
        page.locator("#paint-screen[data-regions=ready]").wait_for(state="attached", timeout=30_000)
        assert page.locator("#zoom-out").is_disabled() and page.locator("#whole-map").is_disabled()
        shoot(page, "20-touch-whole-map")

        # Pinch: two fingers spread from 100 to 300 px apart around the stage's middle.
        stage = page.locator("#stage").bounding_box()
        cx, cy = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
        anchor = page.evaluate(  # the map point under the fingers' middle, in map pixels
            "([x, y]) => { const b = document.getElementById('paint-layer').getBoundingClientRect();"
            " return [(x - b.left) / b.width, (y - b.top) / b.height]; }", [cx, cy])
        two_fingers(page, [(cx - 50, cy), (cx + 50, cy)], [(cx - 150, cy), (cx + 150, cy)])
        view = view_state(page)
        assert view["zoom"] == pytest.approx(3.0, rel=0.05)
        after = page.evaluate(
            "([x, y]) => { const b = document.getElementById('paint-layer').getBoundingClientRect();"
            " return [(x - b.left) / b.width, (y - b.top) / b.height]; }", [cx, cy])
        assert after == pytest.approx(anchor, abs=0.01), "the place under the fingers stays there"
        assert painted(page).max() == 0, "two fingers do not paint"
        assert page.locator("#whole-map").is_enabled()
        shoot(page, "21-pinched")

        # Pan: two fingers move together, the map follows them.
        two_fingers(page, [(cx - 60, cy), (cx + 60, cy)], [(cx - 60 + 120, cy + 80), (cx + 60 + 120, cy + 80)])
        panned = view_state(page)
        assert panned["zoom"] == pytest.approx(view["zoom"], rel=0.02)
        assert panned["x"] - view["x"] == pytest.approx(120, abs=3)
        assert panned["y"] - view["y"] == pytest.approx(80, abs=3)
        assert painted(page).max() == 0
        shoot(page, "22-panned")

        # At 4× one finger paints a thin line on the right map pixels.
        page.locator("#whole-map").click()
        assert view_state(page)["zoom"] == 1
        two_fingers(page, [(cx - 50, cy), (cx + 50, cy)], [(cx - 200, cy), (cx + 200, cy)])
        assert view_state(page)["zoom"] == pytest.approx(4.0, rel=0.02)
        layer = page.locator("#paint-layer").bounding_box()
        map_per_css = FIELDS_SIZE[0] / layer["width"]
        centre = page.evaluate(
            "([x, y]) => { const b = document.getElementById('paint-layer').getBoundingClientRect();"
            " return [(x - b.left) / b.width, (y - b.top) / b.height]; }", [cx, cy])
        mx, my = round(centre[0] * FIELDS_SIZE[0]), round(centre[1] * FIELDS_SIZE[1])
        page.locator("input[name=size]").first.check(force=True)  # the thinnest brush
        brush_css = float(page.locator("input[name=size]").first.get_attribute("value"))
        finger_stroke_at = [map_point(page, mx - 20 + step, my) for step in range(0, 41, 4)]
        cdp = page.context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [
            {"x": finger_stroke_at[0][0], "y": finger_stroke_at[0][1]}]})
        for x, y in finger_stroke_at[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()
        alpha = painted(page)
        rows = (alpha[:, mx] > 0).nonzero()[0]
        assert alpha[my, mx] == 255 and alpha[my, mx - 15] == 255 and alpha[my, mx + 15] == 255
        # as wide on the map as the brush is on the screen: a quarter of it at 4×
        assert abs(len(rows) - brush_css * map_per_css) <= 2.5, (len(rows), brush_css, map_per_css)
        assert rows.min() >= my - brush_css * map_per_css and rows.max() <= my + brush_css * map_per_css
        assert alpha[my, mx + 30] == 0 and alpha[my - 10, mx] == 0
        shoot(page, "23-painted-at-4x")
        page.locator("#clear").click()
        page.locator("#whole-map").click()

        # Select: one tap, one field, along its edges.
        (first, first_point), (second, second_point) = field_parcels()
        page.locator(".tool:has(input[value=select])").tap()
        tap(page, *map_point(page, *first_point))
        selected = painted(page) > 127
        assert iou(selected, first) >= 0.6, iou(selected, first)
        assert selected.sum() < 0.1 * selected.size, "one field, not half the map"
        shoot(page, "24-one-field-selected")
        tap(page, *map_point(page, *second_point))
        both = painted(page) > 127
        assert iou(both, first | second) >= 0.6
        shoot(page, "25-two-fields-selected")
        tap(page, *map_point(page, *first_point))  # tapped again: taken away
        only = painted(page) > 127
        assert iou(only, second) >= 0.6 and (only & first).sum() < 0.05 * first.sum()
        tap(page, *map_point(page, *first_point))
        # the eraser refines the selection: a stroke across the first field takes a strip out
        ys, xs = first.nonzero()
        row = round(ys.mean())
        left, right = xs[ys == row].min(), xs[ys == row].max()
        page.locator(".tool:has(input[value=eraser])").tap()
        finger_stroke_on_fields = [map_point(page, x, row) for x in range(left - 10, right + 11, 6)]
        cdp = page.context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [
            {"x": finger_stroke_on_fields[0][0], "y": finger_stroke_on_fields[0][1]}]})
        for x, y in finger_stroke_on_fields[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()
        refined = painted(page)
        middle = (left + right) // 2
        assert refined[row, middle] == 0 and refined[max(0, row - 25):row - 12, middle].max() == 255
        shoot(page, "26-field-removed-back-and-erased")

        # The wish, and the result shown whole, then the invitation to drag.
        page.locator("#wish").fill(WISH)
        page.evaluate("""() => { window.nudged = false; window.dividers = [];
            const compare = document.getElementById('compare');
            new MutationObserver(() => {
                if (compare.classList.contains('is-hinting')) window.nudged = true;
                const divider = compare.style.getPropertyValue('--divider');
                if (!compare.hidden && divider && divider !== window.dividers.at(-1)) {
                    window.dividers.push(divider);
                }
            }).observe(compare, {attributes: true}); }""")
        page.locator("#generate").tap()
        page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
        assert page.evaluate("window.dividers[0]") == "100%", "the whole result comes first"
        assert page.locator("#compare").get_attribute("data-hint") == "on"
        shoot(page, "27-result-first")
        page.wait_for_function("() => window.nudged")  # however long the screenshot took
        page.wait_for_function(
            "() => !document.getElementById('compare').classList.contains('is-hinting')"
            " && document.getElementById('compare-range').value === '100'")
        dividers = page.evaluate("window.dividers")
        assert dividers[0] == "100%" and dividers[-1] == "100%" and "84%" in dividers, dividers
        shoot(page, "28-result-after-hint")

        # Painting on: the result gets its own regions, made on the worker when asked.
        page.locator("#keep-painting").tap()
        page.locator("#paint-screen[data-regions=ready]").wait_for(state="attached", timeout=30_000)
        page.locator(".tool:has(input[value=select])").tap()
        tap(page, *map_point(page, *second_point))
        assert painted(page).max() == 255
        shoot(page, "29-select-on-the-result")
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_a_small_change_is_shown_framed_with_the_whole_map_beside_it(live, kiosk):
    """A dab on a few percent of the map: the result opens on the worker's frame of the
    change, the slider works on it, and „Ganze Karte“ shows the whole map."""
    page = kiosk
    page.goto("/kiosk/worlds/felder/")
    page.wait_for_function(
        "([w, h]) => { const c = document.getElementById('paint-layer');"
        " return c && c.width === w && c.height === h; }", arg=list(FIELDS_SIZE))
    start, end = map_point(page, 560, 150), map_point(page, 600, 165)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=4)
    page.mouse.up()
    page.locator("#wish").fill(WISH)
    page.locator("#generate").click()
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)

    compare = page.locator("#compare")
    whole_map = page.locator("#compare-whole-map")
    assert "is-framed" in compare.get_attribute("class")
    assert whole_map.is_visible() and whole_map.get_attribute("aria-pressed") == "false"
    button = whole_map.bounding_box()
    assert button["width"] >= 44 and button["height"] >= 44
    stage, after = compare.bounding_box(), page.locator("#compare-after").bounding_box()
    assert after["width"] >= 1.5 * stage["width"], "the pictures are laid out larger"
    assert after["x"] < stage["x"] and after["y"] <= stage["y"]
    # the dab's middle is on screen, inside the stage
    frame_x = (575 / FIELDS_SIZE[0]) * after["width"] + after["x"]
    assert stage["x"] < frame_x < stage["x"] + stage["width"]
    page.wait_for_function("() => document.getElementById('compare-range').value === '100'")
    shoot(page, "30-small-change-framed")
    page.locator("#compare-range").fill("30")
    clip = page.locator("#compare-after").evaluate("image => getComputedStyle(image).clipPath")
    assert clip.startswith("inset(") and clip != "inset(0px 70% 0px 0px)"  # follows the frame

    whole_map.click()
    assert "is-framed" not in compare.get_attribute("class")
    assert whole_map.get_attribute("aria-pressed") == "true"
    after = page.locator("#compare-after").bounding_box()
    assert abs(after["width"] - stage["width"]) < 2
    shoot(page, "31-small-change-whole-map")
    whole_map.click()
    assert "is-framed" in compare.get_attribute("class")

    page.locator("#keep-painting").click()
    assert "is-framed" not in compare.get_attribute("class") and whole_map.is_hidden()


def test_with_reduced_motion_the_result_stays_still(live, kiosk):
    """prefers-reduced-motion: the whole result, and no nudge."""
    page = kiosk
    page.emulate_media(reduced_motion="reduce")
    open_world(page)
    mouse_stroke(page, [(100, 200), (200, 220), (300, 200)])
    page.locator("#wish").fill("Ein Wald")
    page.locator("#generate").click()
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
    assert page.locator("#compare-range").input_value() == "100"
    assert page.locator("#compare").get_attribute("data-hint") == "off", "no nudge is planned"
    assert "is-hinting" not in page.locator("#compare").get_attribute("class")


def test_a_mouse_zooms_with_the_wheel_and_drags_with_space_or_the_middle_button(kiosk):
    page = kiosk
    open_world(page)
    stage = page.locator("#stage").bounding_box()
    x, y = stage["x"] + stage["width"] * 0.3, stage["y"] + stage["height"] * 0.6
    under = page.evaluate(
        "([x, y]) => { const b = document.getElementById('paint-layer').getBoundingClientRect();"
        " return [(x - b.left) / b.width, (y - b.top) / b.height]; }", [x, y])
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        "() => Number(document.getElementById('stage-content').style.getPropertyValue('--zoom')) > 1.5")
    still = page.evaluate(
        "([x, y]) => { const b = document.getElementById('paint-layer').getBoundingClientRect();"
        " return [(x - b.left) / b.width, (y - b.top) / b.height]; }", [x, y])
    assert still == pytest.approx(under, abs=0.01), "the wheel zooms around the pointer"

    before = view_state(page)
    page.keyboard.down("Space")
    page.mouse.down()
    page.mouse.move(x + 100, y + 50, steps=5)
    page.mouse.up()
    page.keyboard.up("Space")
    after = view_state(page)
    assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((100, 50), abs=2)
    page.mouse.move(x, y)
    page.mouse.down(button="middle")
    page.mouse.move(x - 60, y - 30, steps=5)
    page.mouse.up(button="middle")
    last = view_state(page)
    assert (last["x"] - after["x"], last["y"] - after["y"]) == pytest.approx((-60, -30), abs=2)
    assert page.locator("#clear").is_disabled(), "dragging the map paints nothing"
    page.locator("#zoom-out").click()
    assert view_state(page)["zoom"] == pytest.approx(last["zoom"] / 1.5, rel=0.01)
    page.locator("#whole-map").click()
    assert view_state(page) == {"zoom": 1, "x": 0, "y": 0}
