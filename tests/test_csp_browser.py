"""The Content-Security-Policy in a real browser: every page works under it, with no violation.

Debian's Chromium (through Playwright) visits the platform that daphne and the
django-q2 cluster serve (the kiosk tests' platform, tests/live.py), with a
listener for `securitypolicyviolation` installed before any of the page's own
scripts run, and with the browser's console errors and uncaught exceptions
recorded. Each page is used a little, the way it is meant to be: the kiosk
paints a wish and hands it to the gallery, the wall connects its websocket and
shows a creation, a curator logs in to the admin. Not one violation may occur.
A last test checks that the listener does see what the policy refuses.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.test_kiosk_browser import (  # noqa: F401  (fixtures: the platform and the browser)
    JOB_SECONDS,
    KIOSK,
    MAP_SIZE,
    WISH,
    browser,
    circle,
    live,
    mouse_stroke,
    open_world,
    paint_alpha,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CURATOR = ("kuratorin", "CSP-Test-Passwort-2024")

# The approved creation the gallery, the creation page and the wall show, and the curator.
SEED = f"""
import io, json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from gallery.models import Creation
from tooling.demo import make_demo_map
from museum.models import World

def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())

curator = get_user_model().objects.create_user(
    {CURATOR[0]!r}, password={CURATOR[1]!r}, is_staff=True)
curator.groups.add(Group.objects.get(name="Curators"))
before = make_demo_map(width=320, height=240, seed=4)
after = before.copy()
after.paste((40, 90, 140), (80, 60, 240, 180))
creation = Creation(world=World.objects.get(slug="olpe-heute"), engine="classic",
                    prompt_original="Was wäre, wenn hier ein See wäre?", title="Der Olpe-See",
                    status=Creation.Status.APPROVED)
creation.before_image.save("before.png", png(before), save=False)
creation.after_image.save("after.png", png(after), save=False)
creation.save()
print(json.dumps({{"pk": creation.pk, "slug": creation.slug}}))
"""

# Runs in every document before its own scripts: each violation goes to the test at once
# (a binding survives navigation, where a variable of the page would not).
LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
    window.reportViolation({
        page: document.location.pathname,
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        source: event.sourceFile + ":" + event.lineNumber,
        sample: event.sample,
    });
}, true);
"""


@pytest.fixture(scope="module")
def creation(live):
    return json.loads(live.manage("shell", "-c", SEED).strip().splitlines()[-1])


class Watched:
    """A browser page whose violations, console errors and exceptions are recorded."""

    def __init__(self, browser, live):
        self.context = browser.new_context(
            viewport={"width": KIOSK[0], "height": KIOSK[1]}, has_touch=True, locale="de-DE",
            base_url=live.platform.url("").rstrip("/"),
        )
        self.violations: list[dict] = []
        self.console_errors: list[str] = []
        self.frames: list[str] = []
        self.context.expose_function("reportViolation", self._violation)
        self.context.add_init_script(LISTEN)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(
            f"{self.page.url}: uncaught {error}"))
        self.page.on("websocket", lambda socket: socket.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, str):
            self.frames.append(payload)

    def _violation(self, report: dict) -> None:
        self.violations.append(report)

    def _console(self, message) -> None:
        source = message.location.get("url", "")
        # The browser asks for /favicon.ico by itself; the site has none (not a policy matter).
        if message.type == "error" and not source.endswith("/favicon.ico"):
            self.console_errors.append(f"{self.page.url}: {message.text} ({source})")

    def problems(self) -> list:
        return self.violations + self.console_errors

    def wait_for_frame(self, kind: str, timeout: float = 15.0) -> dict:
        """The first websocket message with `kind` set, received by any socket of the page."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames:
                message = json.loads(frame)
                if message.get(kind) or message.get("type") == kind:
                    return message
            self.page.wait_for_timeout(50)
        raise AssertionError(f"no {kind!r} message within {timeout} s: {self.frames}")


@pytest.fixture
def watched(live, browser):
    watched = Watched(browser, live)
    yield watched
    watched.context.close()


def all_pictures_loaded(page) -> None:
    page.wait_for_function(
        "() => [...document.images].every(image => image.complete && image.naturalWidth > 0)"
    )


# --- the pages -------------------------------------------------------------------------


def test_the_home_page_gallery_and_a_creation_page_run_under_the_policy(watched, creation):
    page = watched.page
    page.goto("/")
    assert page.evaluate("document.documentElement.lang") == "de"
    # The language switch: a form posted to this site (form-action 'self'), then a redirect.
    page.locator(".language-switch button[value=en]").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    page.locator(".language-switch button[value=de]").click()
    page.wait_for_function("() => document.documentElement.lang === 'de'")

    page.goto("/gallery/")
    all_pictures_loaded(page)
    assert page.locator(f"a[href*='{creation['slug']}']").count() >= 1

    page.goto(f"/c/{creation['slug']}/")
    # compare.js (a script file) enhances the pictures with a divider; the keyboard moves it.
    page.locator(".compare.is-enhanced .compare-range").wait_for()
    all_pictures_loaded(page)
    page.locator(".compare-range").focus()
    page.keyboard.press("Home")
    split = page.evaluate(
        "getComputedStyle(document.querySelector('.compare')).getPropertyValue('--split')"
    )
    assert split.strip() == "0%"
    assert page.locator(".qr svg").count() == 1

    assert watched.problems() == []


def test_the_kiosk_paints_a_wish_under_the_policy(watched, live):
    page = watched.page
    page.goto("/kiosk/")
    page.locator("#start-button").click()
    page.wait_for_url("**/kiosk/worlds/")
    all_pictures_loaded(page)

    # A map for looking only: its aspect ratio comes from map-ratio.js, not a style attribute.
    page.goto("/kiosk/worlds/urkarte/")
    page.wait_for_function(
        "ratio => getComputedStyle(document.getElementById('paint-screen'))"
        ".getPropertyValue('--map-ratio').trim() === ratio",
        arg=f"{MAP_SIZE[0]} / {MAP_SIZE[1]}",
    )

    open_world(page)  # the map arrives as a blob: URL, the canvas takes its size
    assert page.locator("#map-image").get_attribute("src").startswith("blob:")
    mouse_stroke(page, [(60, 300), (120, 320), (200, 310), (260, 330)])
    assert paint_alpha(page, 120, 320) == 255
    page.locator("#wish").fill(WISH)
    page.locator("#wish").press("Enter")
    # The job's websocket (connect-src 'self' is ws:// here), its previews (data: URLs)
    # and the result.
    watched.wait_for_frame("snapshot")
    page.locator("#result-panel").wait_for(state="visible", timeout=JOB_SECONDS)
    page.locator("#compare").wait_for(state="visible")
    page.locator("#compare-range").focus()
    page.keyboard.press("End")

    # Into the gallery: the QR code arrives as SVG markup.
    page.locator("#to-gallery").click()
    page.locator("#gallery-title-input").fill("Ein See unter Aufsicht")
    page.locator("#gallery-submit").click()
    page.locator("#qr-code svg").wait_for(state="visible")

    assert watched.problems() == []


def test_the_wall_connects_its_websocket_under_the_policy(watched, creation):
    page = watched.page
    page.goto("/wall/?seconds=8")
    snapshot = watched.wait_for_frame("snapshot")
    assert snapshot, "the wall's websocket connected and sent its first playlist"
    page.wait_for_function(
        """() => {
            const slide = document.querySelector(".wall-slide.is-visible");
            const qr = slide && slide.querySelector(".wall-qr img");
            return qr !== null && qr.complete && qr.naturalWidth > 0;
        }""",
        timeout=30_000,
    )
    assert page.locator(".wall-slide.is-visible .wall-title").inner_text() == "Der Olpe-See"
    assert watched.problems() == []


def test_a_curator_works_in_the_admin_under_the_policy(watched, creation):
    page = watched.page
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", CURATOR[0])
    page.fill("#id_password", CURATOR[1])
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto("/admin/gallery/creation/")
    page.locator("#result_list").wait_for()
    all_pictures_loaded(page)
    # The admin's scripts run: ticking a row updates the action counter.
    page.check(f"input.action-select[value='{creation['pk']}']")
    page.wait_for_function(
        "() => document.querySelector('.action-counter').textContent.trim().startsWith('1')"
    )

    page.goto(f"/admin/gallery/creation/{creation['pk']}/change/")
    page.locator(".olpe-compare-slider").wait_for()
    page.locator(".olpe-compare-slider").fill("20")
    split = page.evaluate(
        "getComputedStyle(document.querySelector('.olpe-compare')).getPropertyValue('--split')"
    )
    assert split.strip() == "20%"
    page.goto("/admin/museum/world/")
    all_pictures_loaded(page)
    page.goto("/admin/inpainting/inpaintjob/")
    page.locator("#changelist").wait_for()

    assert watched.problems() == []


def test_the_api_docs_render_under_their_own_allowance(watched):
    page = watched.page
    page.goto("/api/v1/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 5
    assert watched.problems() == []


# --- the listener sees what the policy refuses ------------------------------------------


def test_what_the_policy_refuses_is_blocked_and_reported(watched):
    page = watched.page
    page.goto("/gallery/")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.appendChild(script);
        document.body.insertAdjacentHTML("beforeend", '<p id="styled" style="color: red">x</p>');
        try { new WebSocket("ws://elsewhere.invalid/"); } catch (error) { /* refused */ }
    }""")
    deadline = time.monotonic() + 10
    while len({violation["directive"] for violation in watched.violations}) < 3:
        assert time.monotonic() < deadline, watched.violations
        page.wait_for_timeout(50)

    assert page.evaluate("window.inlineRan") is None
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != (
        "rgb(255, 0, 0)"
    )
    directives = {violation["directive"] for violation in watched.violations}
    assert {"script-src-elem", "style-src-attr", "connect-src"} <= directives
