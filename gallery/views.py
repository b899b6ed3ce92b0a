"""The gallery's public pages and every picture of a creation or a World.

Nothing here is a plain media file: MEDIA_URL is not served in production,
and each view decides who may see what. Anonymous visitors see approved
creations and visible Worlds only; curators (the `moderate_creation`
permission for creations, `view_world` for Worlds) see everything, with
`private, no-store` answers so no shared cache keeps what is not public.
A creation that is missing and one that is not public answer the same 404,
so slugs cannot be probed.
"""

from __future__ import annotations

import logging
import posixpath

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import (
    add_never_cache_headers,
    get_conditional_response,
    patch_cache_control,
)
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe
from PIL import Image, UnidentifiedImageError

from gallery import pictures, qr
from gallery import wall as wall_state
from gallery.models import Creation
from inpainting_core import engines
from inpainting_core.imaging import ImageProblem
from museum.models import World

logger = logging.getLogger(__name__)

MODERATE_PERMISSION = "gallery.moderate_creation"
VIEW_WORLD_PERMISSION = "museum.view_world"

CREATIONS_PER_PAGE = 24
PICTURES = {"before": "before_image", "after": "after_image"}

# The wall's pace: seconds per slide, overridable per screen with ?seconds=.
WALL_SECONDS_RANGE = (4, 120)


# --- who sees what ----------------------------------------------------------------------


def may_moderate(user) -> bool:
    return user.is_authenticated and user.has_perm(MODERATE_PERMISSION)


def public_creations() -> QuerySet:
    """Approved creations, featured first, newest first (the model's ordering)."""
    return Creation.objects.filter(status=Creation.Status.APPROVED).select_related("world")


def creations_visible_to(user) -> QuerySet:
    if may_moderate(user):
        return Creation.objects.select_related("world")
    return public_creations()


def worlds_visible_to(user) -> QuerySet:
    if user.is_authenticated and user.has_perm(VIEW_WORLD_PERMISSION):
        return World.objects.all()
    return World.objects.filter(visible=True)


def visible_creation(request, slug: str) -> Creation | None:
    return creations_visible_to(request.user).filter(slug=slug).first()


def cache_seconds() -> int:
    """How long browsers and proxies may keep a public picture.

    Withdrawing an approval takes up to this long to reach every cache.
    """
    return int(settings.OLPE_GALLERY_CACHE_SECONDS)


def mark_cacheable(response, public: bool):
    if public:
        patch_cache_control(response, public=True, max_age=cache_seconds())
    else:
        patch_cache_control(response, private=True, no_store=True)
    return response


def not_public(request):
    """The friendly 404 of a creation that does not exist or is not (yet) public."""
    response = render(request, "gallery/not_public.html", status=404)
    add_never_cache_headers(response)  # it may become public any minute
    return response


def picture_not_found():
    response = HttpResponseNotFound(b"", content_type="text/plain")
    add_never_cache_headers(response)
    return response


# --- pages ------------------------------------------------------------------------------


@require_safe
def gallery_index(request):
    """Approved creations, featured first, in pages; optionally of one World."""
    worlds = list(World.objects.filter(visible=True))
    chosen_world = next((w for w in worlds if w.slug == request.GET.get("world")), None)
    creations = public_creations()
    if chosen_world is not None:
        creations = creations.filter(world=chosen_world)
    page = Paginator(creations, CREATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "gallery/index.html",
        {"page": page, "worlds": worlds, "chosen_world": chosen_world},
    )


@require_safe
def creation_detail(request, slug):
    """One creation: what the QR code opens on a visitor's phone.

    It opens on the frame of the change; `?view=map` shows the whole map with the
    painted region outlined. Both compare before and after with a slider.
    """
    creation = visible_creation(request, slug)
    if creation is None:
        return not_public(request)
    frame = pictures.frame_of(creation)
    whole_map = frame.is_whole or request.GET.get("view") == "map"
    response = render(
        request,
        "gallery/creation.html",
        {
            "creation": creation,
            "qr_svg": qr.creation_qr_svg(request, creation.slug),
            "page_url": qr.creation_page_url(request, creation.slug),
            "postcard_url": request.build_absolute_uri(
                reverse("gallery:postcard", args=[creation.slug])
            ),
            "postcard_size": pictures.POSTCARD_SIZE,
            "engine_label": engine_label(creation.engine),
            "frame": frame,
            "whole_map": whole_map,
            # the pictures' shape, for the page's layout before they arrive
            "shown": frame.size if whole_map else (frame.box[2] - frame.box[0],
                                                   frame.box[3] - frame.box[1]),
            "outline": map_outline(creation, frame) if whole_map and not frame.is_whole else None,
        },
    )
    if not creation.is_public:  # a curator's preview
        mark_cacheable(response, public=False)
    return response


def map_outline(creation: Creation, frame) -> dict:
    """What the whole map's view draws over the pictures: the frame and the painted outline,
    in the map's pixels (an SVG with the map's viewBox lies on the pictures)."""
    try:
        polygons = pictures.outline(creation)
    except (OSError, ImageProblem):
        polygons = []
    left, top, right, bottom = frame.box
    return {
        "width": frame.size[0], "height": frame.size[1],
        "box": {"x": left, "y": top, "width": right - left, "height": bottom - top},
        "polygons": [" ".join(f"{x},{y}" for x, y in polygon) for polygon in polygons],
    }


def engine_label(engine: str) -> str:
    """The engine as curators name it in the settings ("own model"), else its plain name."""
    return engines.short_label(engine)


@require_safe
def wall(request):
    """The gallery wall: a fullscreen slideshow for a screen in the exhibition.

    The first playlist is part of the page, so the wall starts at once even
    before its websocket connects; the socket then keeps it current.
    """
    return render(
        request,
        "gallery/wall.html",
        {
            "playlist": wall_state.playlist(),
            "seconds": wall_seconds(request.GET.get("seconds")),
            "max_slides": wall_state.max_slides(),
            "reload_hours": wall_state.reload_hours(),
            "sync_seconds": wall_state.sync_seconds(),
        },
    )


def wall_seconds(requested) -> int:
    low, high = WALL_SECONDS_RANGE
    default = int(settings.OLPE_WALL_SECONDS)
    try:
        return min(max(int(requested), low), high)
    except (TypeError, ValueError):
        return default


# --- pictures of creations ----------------------------------------------------------------


@require_safe
def creation_picture(request, slug, which):
    """The before or after picture; `?download=1` offers it as a file to save."""
    creation = visible_creation(request, slug)
    picture = getattr(creation, PICTURES[which], None) if creation else None
    if not picture:
        return picture_not_found()
    download = request.GET.get("download") == "1"
    return send_picture(
        # A "before" may be the World's map or an upload as it came (JPEG, WebP).
        request, picture.open, picture_content_type,
        public=creation.is_public,
        etag=f"{creation.slug}-{which}",  # a creation's pictures never change
        download_name=f"olpe-{creation.slug}-{which}.png" if download else None,
    )


@require_safe
def creation_thumbnail(request, slug, kind="thumb"):
    """A picture made from the before or after picture (gallery.pictures.KINDS): the framed
    thumbnails of lists and cards, the frame's and the whole map's pictures of the page.
    `?download=1` offers it as a file to save."""
    creation = visible_creation(request, slug)
    if creation is None or not creation.after_image or not creation.before_image:
        return picture_not_found()
    download = request.GET.get("download") == "1"
    made = pictures.KINDS[kind]
    return send_made_picture(
        request, creation, lambda: pictures.open_picture(creation, kind), made.content_type,
        # the frame is part of the name: a frame filled in later is a new version
        etag=lambda: f"{creation.slug}-{posixpath.basename(pictures.name_of(creation, kind))}",
        download_name=f"olpe-{creation.slug}-{kind}.{made.extension}" if download else None,
    )


@require_safe
def creation_postcard(request, slug):
    """The share picture (Open Graph preview, and a download): gallery.pictures.Postcard."""
    creation = visible_creation(request, slug)
    if creation is None or not creation.after_image or not creation.before_image:
        return picture_not_found()
    download = request.GET.get("download") == "1"
    return send_made_picture(
        request, creation, lambda: pictures.open_postcard(creation), "image/jpeg",
        etag=lambda: f"{creation.slug}-{posixpath.basename(pictures.postcard_name(creation))}",
        download_name=f"olpe-{creation.slug}-postkarte.jpg" if download else None,
    )


def send_made_picture(request, creation, open_file, content_type, *, etag, download_name):
    """A picture made from the creation's pictures; a 404 (never a 500) when they are gone."""
    try:
        return send_picture(request, open_file, content_type, public=creation.is_public,
                            etag=etag(), download_name=download_name)
    except (OSError, ImageProblem, UnidentifiedImageError, Image.DecompressionBombError) as error:
        logger.warning("No picture made from creation %s: %s", creation.slug, error)
        return picture_not_found()


@require_safe
def creation_qr(request, slug):
    creation = visible_creation(request, slug)
    if creation is None:
        return picture_not_found()
    svg = qr.creation_qr_svg(request, creation.slug)
    response = HttpResponse(svg, content_type="image/svg+xml")
    return mark_cacheable(response, creation.is_public)


def send_picture(request, open_file, content_type, *, public: bool, etag: str,
                 download_name: str | None = None):
    """A stored picture, or 304 Not Modified when the client holds this version already.

    Walls show the same pictures for days: after their cache time runs out,
    the revalidation costs a header instead of megabytes.
    """
    etag = quote_etag(etag)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        handle = open_file()
        response = FileResponse(
            handle, content_type=content_type(handle) if callable(content_type) else content_type,
            as_attachment=download_name is not None, filename=download_name,
        )
    response["ETag"] = etag
    return mark_cacheable(response, public)


# --- pictures of Worlds --------------------------------------------------------------------


@require_safe
def world_image(request, slug):
    world = worlds_visible_to(request.user).filter(slug=slug).first()
    if world is None or not world.image:
        return picture_not_found()
    # A new upload gets a new random name, so the name tells the version.
    return send_picture(
        request, world.image.open, picture_content_type,
        public=world.visible, etag=world.image.name,
    )


def picture_content_type(handle) -> str:
    """The type of the picture itself: a World's file is named .png whatever was uploaded."""
    try:
        with Image.open(handle) as image:  # reads the header only
            content_type = Image.MIME.get(image.format, "application/octet-stream")
    except (OSError, Image.DecompressionBombError):
        content_type = "application/octet-stream"
    handle.seek(0)
    return content_type
