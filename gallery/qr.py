"""QR codes that take a creation from the museum to a visitor's phone.

A code encodes the absolute address of the creation's page, `/c/<slug>/`.
The host is normally the one the request came in on. A kiosk or the gallery
wall often reaches the server under a local name (`http://127.0.0.1:8000`,
`http://kiosk.local`) that a phone outside the museum's network cannot
resolve; then set `OLPE_PUBLIC_BASE_URL` to the museum's public address
(for example `https://geschichten.stadtmuseum-olpe.de`) and every code
points there instead.

The page of a creation answers only once a curator has approved it; a code
shown at the kiosk right after submitting leads to a friendly "not public
yet" page until then.
"""

from __future__ import annotations

import io
from functools import lru_cache

import segno
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

# Black on white with a quiet zone: what every phone camera reads best.
DARK = "#000000"
LIGHT = "#ffffff"
QUIET_ZONE = 2


def public_base_url() -> str:
    """The museum's public address without a trailing slash, or "" to use the request's host."""
    return (settings.OLPE_PUBLIC_BASE_URL or "").rstrip("/")


def absolute_url(request, path: str) -> str:
    """`path` as an address a phone can open."""
    base = public_base_url()
    if base:
        return base + path
    return request.build_absolute_uri(path)


def creation_page_url(request, slug: str) -> str:
    return absolute_url(request, reverse("gallery:creation", args=[slug]))


@lru_cache(maxsize=512)
def svg_for(url: str, title: str = "") -> str:
    """An SVG encoding `url`: usable inline in a page and as an image/svg+xml file.

    No fixed size (CSS decides) and a namespace (an <img> needs it). Codes never
    change for a given address, so they are cached; the cache is bounded, and
    the wall and the gallery ask for the same few codes again and again.
    """
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(
        buffer, kind="svg", scale=1, border=QUIET_ZONE, dark=DARK, light=LIGHT,
        omitsize=True, xmldecl=False, nl=False, title=title or None,
        svgclass="qr-code", lineclass=None,
    )
    # role="img" makes screen readers announce the <title> instead of the paths.
    return buffer.getvalue().decode("utf-8").replace("<svg ", '<svg role="img" ', 1)


def creation_qr_svg(request, slug: str) -> str:
    """The code of a creation's page, titled for screen readers."""
    return svg_for(
        creation_page_url(request, slug), gettext("QR code: open this creation on your phone")
    )
