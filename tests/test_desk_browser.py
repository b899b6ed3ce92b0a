"""The curators' review desk in a real browser, and every place a creation is shown framed.

daphne runs as a subprocess on a SQLite database copied from the test run's
migrated template. Visitors' creations are painted by the classic engine with
`manage.py demo_creations`: four on a 2048² World (three approved, for the
gallery, a creation's page and the wall; one waiting), nineteen on a 1024²
World. A curator then reviews all twenty waiting creations with the keyboard
alone: approve, reject with a kept reason or a note, feature, skip, undo.

Screenshots go to test-artifacts/desk/: the desk, its reasons, the empty desk,
the admin's home and list, the gallery, a creation's page on a phone (framed
and whole map) and the wall after its move into the frame.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.live import database_template, free_port
from tooling.demo import make_demo_map
from tooling.launcher import Platform

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "desk"
CURATOR = ("kuratorin", "Pult-Test-Passwort-2024")
WAITING = 20

CURATOR_SCRIPT = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
user = get_user_model().objects.create_user({CURATOR[0]!r}, password={CURATOR[1]!r}, is_staff=True)
user.groups.add(Group.objects.get(name="Curators"))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    data_dir = tmp_path_factory.mktemp("desk")
    database_url = f"sqlite:///{data_dir / 'db.sqlite3'}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "olpe_site.settings",
        "OLPE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OLPE_TRANSLATION_ENABLED": "false",
        "LANGUAGE_CODE": "de",
    }
    database_template(database_url, {"DATABASE_URL": database_url, "REDIS_URL": ""}).copy_to(
        database_url
    )

    def manage(*args: str) -> str:
        completed = subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
            env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=240,
        )
        assert completed.returncode == 0, completed.stderr[-4000:]
        return completed.stdout

    manage("migrate", "--noinput")  # the template may lag behind this branch's migrations
    manage("shell", "-c", CURATOR_SCRIPT)
    for side, name, count, approve in ((2048, "Olpe heute", 4, 3), (1024, "Olpe klein", 19, 0)):
        picture = data_dir / f"map-{side}.png"
        make_demo_map(width=side, height=side).save(picture)
        slug = manage("add_world", str(picture), "--name", name).strip().splitlines()[-1]
        manage("demo_creations", "--world", slug, "--count", str(count), "--approve", str(approve))
    platform = Platform(ports=[free_port()], env=env, log_dir=data_dir / "logs", grace_seconds=5)
    platform.start(cluster=False)  # nothing here paints: the creations are made
    try:
        yield platform, database_url.removeprefix("sqlite:///")
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(server, browser):
    platform, _database = server
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="de-DE",
                                  base_url=platform.url("").rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def rows(database: str, query: str, *parameters) -> list:
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute(query, parameters).fetchall()


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", CURATOR[0])
    page.fill("#id_password", CURATOR[1])
    page.press("#id_password", "Enter")
    page.wait_for_url("**/admin/")


def shown(page) -> int:
    return int(page.locator("#desk").get_attribute("data-shown") or 0)


def press_and_wait(page, keys: list[str], *, moves_on: bool = True) -> int:
    """Press the keys; when they decide, wait until another creation is on the desk."""
    before = shown(page)
    for key in keys:
        page.keyboard.press(key)
    if moves_on:
        page.wait_for_function(
            "before => { const desk = document.getElementById('desk');"
            " return desk.dataset.state === 'empty'"
            " || (desk.dataset.shown && desk.dataset.shown !== String(before)); }",
            arg=before,
        )
    return shown(page)


# --- the public side, framed (before the desk decides: only the 2048² World's are public) --


def test_the_gallery_the_page_and_the_wall_show_the_frame_first(server, browser):
    platform, database = server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE",
                                  base_url=platform.url("").rstrip("/"))
    try:
        page = context.new_page()
        page.goto("/gallery/")
        cards = page.locator(".creation-card")
        assert cards.count() >= 3
        page.wait_for_function("() => [...document.images].every(image => image.complete)")
        thumb = page.locator(".creation-card .card-after").first
        assert thumb.evaluate("image => image.naturalWidth") < 2048 / 2  # a frame, not the map
        shoot(page, "06-gallery")

        slug = rows(database, "SELECT slug FROM gallery_creation WHERE title = 'Burg Olpe' "
                              "AND status = 'approved'")[0][0]
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="de-DE",
                                    device_scale_factor=2, is_mobile=True, has_touch=True,
                                    base_url=platform.url("").rstrip("/"))
        try:
            mobile = phone.new_page()
            mobile.goto(f"/c/{slug}/")
            mobile.wait_for_function("() => [...document.images].every(image => image.complete)")
            assert mobile.locator(".view-switch [aria-current=page]").inner_text() == "Veränderung"
            assert mobile.locator(".compare.is-enhanced").count() == 1
            shoot(mobile, "07-creation-phone")
            mobile.locator(".view-switch a", has_text="Ganze Karte").click()
            mobile.wait_for_function("() => [...document.images].every(image => image.complete)")
            assert mobile.locator(".compare-outline polygon").count() >= 1
            shoot(mobile, "08-creation-phone-whole-map")
        finally:
            phone.close()

        wall = context.new_page()
        wall.set_viewport_size({"width": 1920, "height": 1080})
        wall.goto("/wall/?seconds=12")
        wall.wait_for_selector(".wall-slide.is-visible .wall-frame.is-framed")
        # Each moment of the slide, held still: the whole map, the move, the frame, the wipe.
        for name, moment in (("09-wall-whole-map", 900), ("10-wall-moving", 2600),
                             ("11-wall-framed", 4500), ("12-wall-after", 8000)):
            wall.evaluate("""at => { for (const animation of document.getAnimations()) {
                animation.pause(); animation.currentTime = at; } }""", moment)
            wall.wait_for_timeout(200)
            wall.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        frame = wall.locator(".wall-slide.is-visible .wall-frame").bounding_box()
        assert abs(frame["width"] / frame["height"] - 4 / 3) < 0.02  # the frame's shape
    finally:
        context.close()


def test_under_reduced_motion_the_wall_shows_the_frame_without_moving(server, browser):
    platform, _database = server
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="de-DE",
                                  reduced_motion="reduce", base_url=platform.url("").rstrip("/"))
    try:
        wall = context.new_page()
        wall.goto("/wall/?seconds=12")
        wall.wait_for_selector(".wall-slide.is-visible .wall-frame.is-framed")
        moving = wall.evaluate("""() => document.getAnimations().filter(
            animation => animation.animationName === 'wall-zoom').length""")
        assert moving == 0
        canvas = wall.locator(".wall-slide.is-visible .wall-canvas")
        assert canvas.evaluate("element => getComputedStyle(element).transform") != "none"
        wall.wait_for_function(  # the slide's fade (a fade, not a move) is over
            "() => getComputedStyle(document.querySelector('.wall-slide.is-visible')).opacity"
            " === '1'")
        wall.screenshot(path=str(ARTIFACTS / "13-wall-reduced-motion.png"))
    finally:
        context.close()


# --- the desk -----------------------------------------------------------------------------


def test_a_curator_reviews_twenty_creations_by_keyboard_alone(server, page):
    platform, database = server
    log_in(page)
    assert "Stadtmuseum Olpe" in page.title()
    assert page.locator(".olpe-pending strong").inner_text() == str(WAITING)
    shoot(page, "01-admin-home")
    page.goto("/admin/gallery/creation/?status__exact=pending")
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    shoot(page, "02-admin-list")

    page.goto("/admin/gallery/creation/desk/")
    page.wait_for_function("() => document.getElementById('desk').dataset.shown")
    order = [row[0] for row in rows(
        database,
        "SELECT id FROM gallery_creation WHERE status = 'pending' ORDER BY created_at, id")]
    assert shown(page) == order[0], "the longest waiting first"
    assert page.locator("#desk-wish").inner_text().startswith("„")
    assert page.locator("#desk-before").evaluate("image => image.naturalWidth") > 0
    # The single-key shortcuts can be turned off (WCAG 2.1.4): then A decides nothing.
    page.locator("#desk-keys").uncheck()
    page.keyboard.press("a")
    assert page.locator("#desk-status").inner_text() == "" and shown(page) == order[0]
    page.locator("#desk-keys").check()

    decided, skipped, shots = {}, [], set()
    step = 0
    while page.locator("#desk").get_attribute("data-state") != "empty":
        current = shown(page)
        wish = page.locator("#desk-wish").inner_text()
        if page.locator("#desk-world").inner_text() == "Olpe heute" and "desk" not in shots:
            shots.add("desk")
            shoot(page, "03-desk")
            page.keyboard.press("o")  # the outline off and on again
            assert page.locator("#desk").evaluate("desk => desk.classList.contains('hide-outline')")
            page.keyboard.press("o")
        kind = step % 6
        step += 1
        if kind == 0:
            press_and_wait(page, ["a"])
            decided[current] = ("approved", 0, "")
        elif kind == 1:
            press_and_wait(page, ["r"], moves_on=False)
            page.locator("#desk-reject-dialog").wait_for(state="visible")
            page.keyboard.press("2")
            if "reasons" not in shots:
                shots.add("reasons")
                shoot(page, "04-reasons")
            press_and_wait(page, ["Enter"])
            decided[current] = ("rejected", 0, "Anstößiger oder verletzender Inhalt")
        elif kind == 2:
            press_and_wait(page, ["f"])
            decided[current] = ("approved", 1, "")
        elif kind == 3 and step < WAITING // 2:  # skipped: it comes again after the others
            press_and_wait(page, ["s"])
            skipped.append(current)
        elif kind == 4:  # approved by mistake, undone, then rejected with a note
            after_approval = press_and_wait(page, ["a"])
            assert after_approval != current
            back = press_and_wait(page, ["u"])
            assert back == current and page.locator("#desk-wish").inner_text() == wish
            press_and_wait(page, ["r"], moves_on=False)
            page.locator("#desk-reject-dialog").wait_for(state="visible")
            while page.evaluate("document.activeElement.id") != "desk-reason-text":
                page.keyboard.press("Tab")  # past the kept reasons to the note
            page.keyboard.type("Zeigt ein Autokennzeichen")
            press_and_wait(page, ["Enter"])
            decided[current] = ("rejected", 0, "Zeigt ein Autokennzeichen")
        else:
            press_and_wait(page, ["Escape", "r", "Escape", "a"])  # a rejection thought better of
            decided[current] = ("approved", 0, "")

    shoot(page, "05-desk-empty")
    assert page.locator("#desk-empty").is_visible()
    assert page.locator("#desk-count").inner_text().startswith("0 ")
    assert shots == {"desk", "reasons"} and skipped
    assert set(skipped) <= set(decided), "every skipped creation came again and was decided"
    assert len(decided) == WAITING
    marks = ",".join("?" * len(decided))
    stored = {
        row[0]: tuple(row[1:4]) for row in rows(
            database, "SELECT id, status, featured, rejection_reason FROM gallery_creation "
            f"WHERE id IN ({marks})", *decided)
    }
    assert stored == decided
    deciders = rows(database, "SELECT DISTINCT u.username FROM gallery_creation c JOIN auth_user u "
                              f"ON u.id = c.moderated_by_id WHERE c.id IN ({marks})", *decided)
    assert deciders == [(CURATOR[0],)]
    timings = page.evaluate("window.deskTimings")
    assert len(timings) >= WAITING
    print("desk: next creation shown after (ms):", [round(t["ms"]) for t in timings])
