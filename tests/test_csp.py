"""The Content-Security-Policy header, page by page (fast, in process).

Every page the museum serves carries the strict policy of
`CONTENT_SECURITY_POLICY`, and its HTML needs nothing the policy refuses: no
inline script (a `json_script` data block is not executed, so it may stay), no
<style> element, no style="" or on...="" attribute. Only the API's Swagger UI
loosens the policy, for styles on its own page. The nginx configuration sends
the same policy with the static files it serves itself. Whether browsers agree
is tests/test_csp_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse

from gallery.models import Creation
from museum.models import World
from tests.test_gallery_public import new_creation, new_world, picture_pair

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"
SITE_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    # and the one <style> block OpenSeadragon adds (deep zoom), by its hash
    "style-src": {"'self'", settings.OPENSEADRAGON_STYLE},
    "img-src": {"'self'", "data:", "blob:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
NGINX = Path(settings.BASE_DIR) / "deploy" / "nginx"


def directives(header: str) -> dict[str, set[str]]:
    parsed = {}
    for part in filter(None, (piece.strip() for piece in header.split(";"))):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice in {header!r}"
        parsed[name] = set(sources)
    return parsed


class InlineCode(HTMLParser):
    """What a page has that the strict policy would refuse."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.data_blocks = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            kind = (values.get("type") or "").lower()
            if kind == "application/json":
                self.data_blocks += 1
            elif "src" not in values:
                self._in_script = True

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline script: {data.strip()[:60]!r}")


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


# --- the pages --------------------------------------------------------------------------


@pytest.fixture
def site(curator):
    """A World to paint on, one to look at, an approved and a pending creation."""
    world = new_world("olpe-heute", name="Olpe heute")
    historic = World(slug="urkarte", name="Urkarte 1830", editable=False)
    historic.image.save("map.png", ContentFile(picture_pair(seed=5)[0]), save=False)
    historic.save()
    approved = new_creation(world=world)
    pending = new_creation(Creation.Status.PENDING, world=world, title="Noch nicht")
    return {"world": world, "historic": historic, "approved": approved, "pending": pending,
            "curator": curator}


def visitor_pages(site) -> dict[str, str]:
    return {
        "home": reverse("inpainting:home"),
        "kiosk start": reverse("kiosk:start"),
        "kiosk worlds": reverse("kiosk:worlds"),
        "kiosk paint": reverse("kiosk:paint", args=[site["world"].slug]),
        "kiosk view only": reverse("kiosk:paint", args=[site["historic"].slug]),
        "gallery": reverse("gallery:index"),
        "creation": reverse("gallery:creation", args=[site["approved"].slug]),
        "wall": reverse("gallery:wall"),
        "admin login": reverse("admin:login"),
    }


def curator_pages(site) -> dict[str, str]:
    creation = site["pending"]
    return {
        "admin index": reverse("admin:index"),
        "creations": reverse("admin:gallery_creation_changelist"),
        "creation change": reverse("admin:gallery_creation_change", args=[creation.pk]),
        "pending creation page": reverse("gallery:creation", args=[creation.slug]),
        "worlds": reverse("admin:museum_world_changelist"),
        "world change": reverse("admin:museum_world_change", args=[site["world"].pk]),
        "jobs": reverse("admin:inpainting_inpaintjob_changelist"),
        "site settings": reverse("admin:museum_sitesettings_changelist"),
    }


def test_every_visitor_page_carries_the_strict_policy_and_needs_nothing_it_refuses(client, site):
    for name, path in visitor_pages(site).items():
        response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        assert directives(response[HEADER]) == SITE_POLICY, name
        found = inline_code(response.content.decode()).found
        assert found == [], f"{name} ({path}): {found}"


def test_every_curator_page_carries_the_strict_policy_and_needs_nothing_it_refuses(client, site):
    client.force_login(site["curator"])
    for name, path in curator_pages(site).items():
        response = client.get(path, follow=True)
        assert response.status_code == 200, (name, response.status_code)
        assert directives(response[HEADER]) == SITE_POLICY, name
        found = inline_code(response.content.decode()).found
        assert found == [], f"{name} ({path}): {found}"


def test_data_blocks_stay_as_json_script(client, site):
    """The kiosk's and the wall's configuration: JSON in <script type="application/json">."""
    for name in ("kiosk paint", "wall"):
        html = client.get(visitor_pages(site)[name]).content.decode()
        assert inline_code(html).data_blocks == 1, name


def test_the_kiosk_lays_out_the_map_without_a_style_attribute(client, site):
    html = client.get(reverse("kiosk:paint", args=[site["world"].slug])).content.decode()
    assert 'data-map-ratio="160 / 120"' in html
    assert "js/kiosk/map-ratio.js" in html
    # The brush sizes' dots: SVG sizes, growing with the brush.
    dots = [int(size) for size in re.findall(r'<svg class="size-dot" width="(\d+)"', html)]
    assert len(dots) == 4 and dots == sorted(dots) and dots[0] < dots[-1]


def test_answers_other_than_pages_carry_it_too(client, site):
    """API answers and static files: harmless there, and a browser never sees a page without it."""
    for path in (reverse("inpainting:api:style-list"), settings.STATIC_URL + "css/site.css",
                 reverse("gallery:creation", args=["gibt-es-nicht"])):
        response = client.get("/" + path.lstrip("/"))
        assert directives(response[HEADER]) == SITE_POLICY, path


# --- the one page with an exception ------------------------------------------------------


def test_the_api_docs_allow_inline_styles_on_their_page_only(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    policy = directives(response[HEADER])
    # The site's hash would make browsers ignore 'unsafe-inline': the page replaces the list.
    assert policy == {**SITE_POLICY, "style-src": {"'self'", "'unsafe-inline'"}}
    html = response.content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("swagger-ui-bundle" in src for src in scripts)
    # Its own script comes as a file, so scripts stay strict.
    [own] = [src for src in scripts if "script=" in src]
    found = [item for item in inline_code(html).found if item != "<style> element"]
    assert found == []

    script = client.get(own.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert reverse("inpainting:api:schema") in script.content.decode()


def test_the_api_docs_are_still_found_under_their_name():
    assert reverse("inpainting:api:docs") == reverse("api-docs") == "/api/v1/docs/"


# --- nginx -----------------------------------------------------------------------------------


def test_nginx_sends_the_same_policy_with_the_static_files_it_serves(client):
    site_header = client.get(reverse("inpainting:home"))[HEADER]
    config = (NGINX / "olpe-proxy.conf").read_text(encoding="utf-8")
    static = re.search(r"location /static/ \{(.*?)\n\}", config, re.S)
    assert static, "no static location in olpe-proxy.conf"
    [header] = re.findall(r'add_header Content-Security-Policy "([^"]+)" always;', static.group(1))
    assert directives(header) == directives(site_header) == SITE_POLICY
    # Pages come from Django with their own header (the docs' exception included):
    # nginx must not add a second one, which browsers would enforce as well.
    assert config.count("add_header Content-Security-Policy") == 1
    for name in ("olpe.conf", "compose.conf", "olpe-proxy-headers.conf"):
        assert "add_header Content-Security-Policy" not in (NGINX / name).read_text(
            encoding="utf-8"
        )


# --- OpenSeadragon ---------------------------------------------------------------------------


def test_the_policy_allows_exactly_the_style_block_of_the_vendored_openseadragon():
    """OpenSeadragon adds one fixed <style> element; the policy names its hash, so an update
    of the vendored file that changes the block fails here, not in a visitor's browser."""
    script = (Path(settings.BASE_DIR) / "static/vendor/openseadragon/openseadragon.min.js").read_text(
        encoding="utf-8")
    blocks = re.findall(r'createElement\("style"\);.*?\.textContent="([^"]*)"', script)
    assert len(blocks) == 1, "OpenSeadragon adds one style block"
    digest = base64.b64encode(hashlib.sha256(blocks[0].encode()).digest()).decode()
    assert settings.OPENSEADRAGON_STYLE == f"'sha256-{digest}'"
