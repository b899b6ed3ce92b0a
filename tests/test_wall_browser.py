"""The gallery wall in a real browser, against the real web process.

daphne runs as a subprocess (pytest-django's live server speaks no
websockets) on a fresh SQLite database in a data directory of its own. A
curator approves pending creations with the admin's bulk action in one
page; a second page showing `/wall/` must show each of them without a
reload. Screenshots of each stage land in `test-artifacts/` for a human look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.test import override_settings
from PIL import Image

from inpainting_core import masks
from inpainting_core.generation import GenerationSettings
from inpainting_core.pipeline import generate
from tests.live import free_port
from tooling.demo import make_demo_map
from tooling.launcher import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
VIEWPORT = {"width": 1920, "height": 1080}
CURATOR = ("kuratorin", "Wand-Test-Passwort-2024")
COUNT_ELEMENTS = "document.getElementsByTagName('*').length"
SECONDS_PER_SLIDE = 8
WIPE_STARTS = SECONDS_PER_SLIDE * 0.3  # as wall.js sets it
WIPE_SECONDS = min(2.5, SECONDS_PER_SLIDE * 0.25)

WISHES = {
    "lake": {"title": "Ein See mitten in Olpe", "wish": "Was wäre, wenn hier ein See wäre?",
             "name": "Mira", "seed": 7},
    "forest": {"title": "", "wish": "Was wäre, wenn die Stadt ein Wald wäre?",
               "name": "", "seed": 11},
}

# Runs inside the server's environment (`manage.py shell -c`): the curator, a
# World and the pending creations, whose pictures the test process painted.
SEED_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files import File
from gallery.models import Creation
from museum.models import World

wishes = json.loads({wishes!r})
curator = get_user_model().objects.create_user({username!r}, password={password!r}, is_staff=True)
curator.groups.add(Group.objects.get(name="Curators"))
world = World(slug="olpe-heute", name="Olpe heute")
with open(wishes["lake"]["before"], "rb") as picture:
    world.image.save("map.png", File(picture), save=True)
made = {{}}
for key, wish in wishes.items():
    creation = Creation(
        world=world, prompt_original=wish["wish"], engine="classic", title=wish["title"],
        visitor_name=wish["name"], consent=bool(wish["name"]),
    )
    for field, name in ((creation.before_image, "before"), (creation.after_image, "after")):
        with open(wish[name], "rb") as picture:
            field.save(name + ".png", File(picture), save=False)
    creation.save()
    made[key] = {{"pk": creation.pk, "slug": creation.slug}}
print(json.dumps(made))
"""


def paint_wish(directory: Path, key: str, wish: str, seed: int) -> dict:
    """A demo map and what the classic engine makes of the wish on a painted patch."""
    width, height = 960, 640
    before = make_demo_map(width=width, height=height, seed=seed)
    alpha = np.zeros((height, width), np.uint8)
    centre = (int(width * 0.38), int(height * 0.45))
    cv2.ellipse(alpha, centre, (int(width * 0.15), int(height * 0.17)), 15, 0, 360, 255, -1)
    strokes = np.dstack([np.full((height, width, 3), 255, np.uint8), alpha])
    mask = masks.normalise_mask(Image.fromarray(strokes, "RGBA"))
    after = generate(before, mask, wish, GenerationSettings(engine="classic", seed=seed)).image
    paths = {"before": directory / f"{key}-before.png", "after": directory / f"{key}-after.png"}
    before.save(paths["before"])
    after.save(paths["after"])
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """daphne on a free port, its database migrated and seeded; stopped afterwards."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (scripts/test does)")
    data_dir = tmp_path_factory.mktemp("wall")
    with override_settings(OLPE_TRANSLATION_ENABLED=False):  # offline: the glossary translates
        wishes = {
            key: {**wish, **paint_wish(data_dir, key, wish["wish"], wish["seed"])}
            for key, wish in WISHES.items()
        }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "olpe_site.settings",
        "OLPE_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
        "REDIS_URL": "",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OLPE_TRANSLATION_ENABLED": "false",
        "LANGUAGE_CODE": "de",
    }

    def manage(*args: str) -> str:
        completed = subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
            env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=180,
        )
        assert completed.returncode == 0, completed.stderr[-4000:]
        return completed.stdout

    manage("migrate", "--noinput")
    script = SEED_SCRIPT.format(
        wishes=json.dumps(wishes), username=CURATOR[0], password=CURATOR[1]
    )
    made = json.loads(manage("shell", "-c", script).strip().splitlines()[-1])
    platform = Platform(ports=[free_port()], env=env, log_dir=data_dir / "logs", grace_seconds=5)
    platform.start(cluster=False)  # the wall needs no workers
    try:
        yield platform, made
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def log_in(page, platform) -> None:
    page.goto(platform.url("/admin/login/?next=/admin/gallery/creation/"))
    page.fill("#id_username", CURATOR[0])
    page.fill("#id_password", CURATOR[1])
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/gallery/creation/")


def approve_in_admin(page, platform, pk: int) -> None:
    """The bulk action, as a curator uses it: tick the row, choose the action, Go."""
    page.goto(platform.url("/admin/gallery/creation/?status__exact=pending"))
    page.check(f"input.action-select[value='{pk}']")
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")


def wait_for_slide(wall, heading: str) -> None:
    wall.wait_for_function(
        """heading => {
            const title = document.querySelector(".wall-slide.is-visible .wall-title");
            return title !== null && title.textContent === heading;
        }""",
        arg=heading, timeout=30000,
    )


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_a_wall_shows_creations_as_curators_approve_them(server, browser):
    platform, made = server
    context = browser.new_context(viewport=VIEWPORT, locale="de-DE")
    try:
        wall = context.new_page()
        problems = []
        wall.on("pageerror", lambda error: problems.append(str(error)))
        wall.goto(platform.url(f"/wall/?seconds={SECONDS_PER_SLIDE}"))
        wall.evaluate("window.loadedOnce = true")  # gone if the page ever reloads
        wall.wait_for_selector(".wall-empty", state="visible")
        screenshot(wall, "wall-empty.png")

        curator = context.new_page()
        log_in(curator, platform)
        approve_in_admin(curator, platform, made["lake"]["pk"])
        wait_for_slide(wall, WISHES["lake"]["title"])
        shown_at = time.monotonic()
        elements = wall.evaluate(COUNT_ELEMENTS)
        assert wall.is_hidden(".wall-empty")
        caption = wall.inner_text(".wall-slide.is-visible .wall-caption")
        assert WISHES["lake"]["wish"] in caption and "Mira" in caption and "Olpe heute" in caption
        # The slide's timeline: crossfade, the before picture, a wipe to the after picture.
        for name, moment in (("before-wipe", 1.4), ("mid-wipe", WIPE_STARTS + WIPE_SECONDS / 2),
                             ("after-wipe", WIPE_STARTS + WIPE_SECONDS + 0.4)):
            wall.wait_for_timeout(max(0.0, shown_at + moment - time.monotonic()) * 1000)
            screenshot(wall, f"wall-approved-{name}.png")

        # A second approval is shown next, while the first one is on screen.
        approve_in_admin(curator, platform, made["forest"]["pk"])
        wait_for_slide(wall, WISHES["forest"]["wish"])  # no title: the wish is the heading
        wall.wait_for_timeout((WIPE_STARTS + WIPE_SECONDS + 0.4) * 1000)
        screenshot(wall, "wall-second-approval.png")

        assert wall.evaluate("window.loadedOnce") is True
        assert wall.evaluate(COUNT_ELEMENTS) == elements  # slides reuse their elements
        qr_loaded = wall.evaluate(
            "document.querySelector('.wall-slide.is-visible .wall-qr img').naturalWidth"
        )
        assert qr_loaded > 0
        assert problems == []
    finally:
        context.close()


def test_a_wall_reconnects_after_the_server_restarts(server, browser):
    platform, _made = server
    context = browser.new_context(viewport=VIEWPORT)
    try:
        wall = context.new_page()
        snapshots = []
        wall.on("websocket", lambda socket: socket.on(
            "framereceived",
            lambda payload: snapshots.append(payload) if '"snapshot"' in str(payload) else None,
        ))
        wall.goto(platform.url(f"/wall/?seconds={SECONDS_PER_SLIDE}"))
        wall.evaluate("""() => {
            window.loadedOnce = true;  // gone if the page ever reloads
            window.sawLost = false;
            const status = document.querySelector(".wall-status");
            new MutationObserver(() => { if (status.textContent) window.sawLost = true; })
                .observe(status, {childList: true, characterData: true, subtree: true});
        }""")
        wait_until(wall, lambda: len(snapshots) == 1)

        platform.restart(platform.web_names[0])

        wait_until(wall, lambda: len(snapshots) == 2)  # a new socket, a fresh snapshot
        assert wall.evaluate("window.sawLost") is True
        wall.wait_for_function("document.querySelector('.wall-status').textContent === ''")
        assert wall.evaluate("window.loadedOnce") is True
    finally:
        context.close()


def wait_until(page, condition, timeout_s: float = 30) -> None:
    """Poll `condition`; Playwright delivers events to Python only while it is called."""
    for _ in range(int(timeout_s * 4)):
        if condition():
            return
        page.wait_for_timeout(250)
    raise AssertionError("condition not met in time")
