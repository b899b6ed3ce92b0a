"""The IIIF endpoints: image services of Worlds and creations, their manifests, the collection.

Every answer is public and the same for everyone (`published.py`), so each
carries `Access-Control-Allow-Origin: *` and may be cached by browsers and
proxies for OLPE_GALLERY_CACHE_SECONDS (withdrawing an approval takes up to
that long to reach every cache, as for the gallery's pictures). Errors are
JSON with the status the specification asks for, and never cached: 400 for a
bad request, 404 for an identifier that is not published, 503 while a big
picture's pyramid is still being made (with Retry-After).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag
from django.views.decorators.http import require_http_methods, require_safe

from gallery.qr import absolute_url
from iiif import image_api, presentation
from iiif.published import (
    CREATION_PICTURES,
    Picture,
    approved_creations,
    creation_picture,
    visible_worlds,
    world_picture,
)
from inpainting_core.imaging import ImageProblem
from museum import pyramids
from museum.tasks import queue_pyramid

log = logging.getLogger(__name__)

SAFE_METHODS = ["GET", "HEAD", "OPTIONS"]
JSON_LD = 'application/ld+json;profile="{}"'
RETRY_SECONDS = 10  # how soon to ask again while a pyramid is being made


def limits() -> image_api.Limits:
    return image_api.Limits(max_side=settings.OLPE_IIIF_MAX_SIDE)


# --- answers ---------------------------------------------------------------------------------


def with_cors(response):
    response["Access-Control-Allow-Origin"] = "*"
    return response


def preflight():
    """The answer to a CORS preflight (OPTIONS): any origin may read, with any header."""
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = ", ".join(SAFE_METHODS)
    response["Access-Control-Allow-Headers"] = "*"
    response["Access-Control-Max-Age"] = "86400"
    return with_cors(response)


def problem(reason: str, status: int, **headers):
    response = JsonResponse({"error": reason, "status": status}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    patch_cache_control(response, no_store=True)
    return with_cors(response)


def not_found():
    return problem("No published picture has this identifier.", 404)


def cacheable(request, etag_parts, make_response):
    """A public answer, or 304 when the client holds it already (an ETag over `etag_parts`)."""
    etag = quote_etag(hashlib.sha256("\n".join(etag_parts).encode()).hexdigest()[:32])
    response = get_conditional_response(request, etag=etag) or make_response()
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=int(settings.OLPE_GALLERY_CACHE_SECONDS))
    return with_cors(response)


def json_document(request, document: dict, *, profile: str):
    """JSON-LD with its profile, or plain JSON for a client that asks for that (5.1)."""
    accept = request.headers.get("Accept", "")
    plain = "application/json" in accept and "application/ld+json" not in accept
    content_type = "application/json" if plain else JSON_LD.format(profile)
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=1), content_type=content_type)
    response["Vary"] = "Accept"
    return response


# --- the Image API ------------------------------------------------------------------------------


def image_service_of(kind: str, slug: str, which: str = "") -> tuple[Picture | None, str]:
    """The published picture and the base URI path of its image service."""
    if kind == "world":
        return world_picture(slug), reverse("iiif:world-image", args=[slug])
    if which not in CREATION_PICTURES:
        return None, ""
    return creation_picture(slug, which), reverse("iiif:creation-image", args=[slug, which])


@require_http_methods(SAFE_METHODS)
def image_base(request, kind, slug, which=""):
    """The base URI of an image service redirects to its information (baseUriRedirect)."""
    if request.method == "OPTIONS":
        return preflight()
    picture, base = image_service_of(kind, slug, which)
    if picture is None:
        return not_found()
    return with_cors(HttpResponseRedirect(base + "/info.json", status=303))


def image_service(view):
    """An Image API view of a published picture: `view(request, picture, base, source, …)`
    with its pyramid (or file) open; a preflight, or 404 for what is not published."""

    @require_http_methods(SAFE_METHODS)
    @functools.wraps(view)
    def answer(request, kind, slug, which="", **parameters):
        if request.method == "OPTIONS":
            return preflight()
        picture, base = image_service_of(kind, slug, which)
        if picture is None:
            return not_found()
        try:
            source = picture.source
        except FileNotFoundError:
            return not_found()
        return view(request, picture, base, source, **parameters)

    return answer


@image_service
def image_info(request, picture, base, source):
    document = image_api.info(
        absolute_url(request, base), (source.width, source.height), source.levels, limits(),
        rights=settings.OLPE_IIIF_RIGHTS,
    )
    if picture.waiting_for_pyramid:
        queue_pyramid(picture.name)
        # Until the pyramid is made, only the whole picture is offered at its own size.
        document["sizes"] = []
    response = cacheable(
        request, [picture.name, str(source.is_pyramid), request.headers.get("Accept", ""),
                  document["id"]],
        lambda: json_document(request, document, profile=image_api.CONTEXT),
    )
    response["Link"] = f'<{image_api.PROFILE_URI}>;rel="profile"'
    if picture.waiting_for_pyramid:
        patch_cache_control(response, max_age=RETRY_SECONDS)
    return response


@image_service
def image(request, picture, base, source, region, size, rotation, quality, format):
    try:
        wanted = image_api.parse(region, size, rotation, quality, format,
                                 (source.width, source.height), limits())
    except image_api.RequestProblem as bad:
        return problem(bad.reason, bad.status)
    if picture.waiting_for_pyramid:
        queue_pyramid(picture.name)
        if pyramids.is_huge(picture.size) or source.width * source.height > settings.OLPE_MAX_IMAGE_PIXELS:
            return problem("The picture's tiles are being made. Please ask again shortly.", 503,
                           Retry_After=str(RETRY_SECONDS))

    def render():
        try:
            data = source.render(wanted.region, wanted.size, mirror=wanted.mirror,
                                 rotation=wanted.rotation, quality=wanted.quality,
                                 format=wanted.format)
        except ImageProblem:
            log.exception("IIIF: %s cannot be rendered", picture.name)
            return problem("The picture cannot be read right now.", 503,
                           Retry_After=str(RETRY_SECONDS))
        return HttpResponse(data, content_type=wanted.content_type)

    canonical = wanted.canonical((source.width, source.height), limits())
    response = cacheable(request, [picture.name, str(source.is_pyramid), canonical], render)
    if response.status_code == 503:  # not this picture's answer: nothing to keep
        del response["ETag"]
        response["Cache-Control"] = "no-store"
        return response
    response["Link"] = ", ".join([
        f'<{image_api.PROFILE_URI}>;rel="profile"',
        f'<{absolute_url(request, base)}/{canonical}>;rel="canonical"',
    ])
    return response


# --- the Presentation API ----------------------------------------------------------------------


def presentation_answer(request, make_document, etag_parts):
    if request.method == "OPTIONS":
        return preflight()
    document = make_document()
    if document is None:
        return not_found()
    return cacheable(
        request, [*etag_parts, json.dumps(document, sort_keys=True),
                  request.headers.get("Accept", "")],
        lambda: json_document(request, document, profile=presentation.CONTEXT),
    )


@require_http_methods(SAFE_METHODS)
def creation_manifest(request, slug):
    return presentation_answer(
        request, lambda: presentation.creation_manifest(request, slug), ["creation", slug])


@require_http_methods(SAFE_METHODS)
def world_manifest(request, slug):
    return presentation_answer(
        request, lambda: presentation.world_manifest(request, slug), ["world", slug])


@require_http_methods(SAFE_METHODS)
def collection(request, page=None):
    return presentation_answer(
        request, lambda: presentation.gallery_collection(request, page), ["collection", str(page)])


@require_http_methods(SAFE_METHODS)
def worlds(request):
    return presentation_answer(
        request, lambda: presentation.worlds_collection(request), ["worlds"])


# --- a viewer page ------------------------------------------------------------------------------


@require_safe
def viewer(request):
    """One of this site's manifests in deep zoom (`?manifest=<its address>`), e.g. a World's."""
    match = manifest_route(request, request.GET.get("manifest", ""))
    title = None
    if match is not None and match.url_name == "world-manifest":
        world = visible_worlds().filter(slug=match.kwargs["slug"]).first()
        title = world.name if world else None
    elif match is not None:
        creation = approved_creations().filter(slug=match.kwargs["slug"]).first()
        title = presentation.creation_title(creation) if creation else None
    if title is None:
        return render(request, "iiif/viewer_missing.html", status=404)
    path = reverse(f"iiif:{match.url_name}", kwargs=match.kwargs)
    return render(request, "iiif/viewer.html",
                  {"title": title, "manifest_url": absolute_url(request, path)})


def manifest_route(request, address: str):
    """The route of one of this site's manifests named by `address` (absolute, on this
    site's host or its public address, or a path), or None."""
    parts = urlsplit(address)
    own = {request.get_host(), urlsplit(absolute_url(request, "/")).netloc}
    if parts.netloc and parts.netloc not in own:
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.namespace != "iiif" or match.url_name not in ("world-manifest", "creation-manifest"):
        return None
    return match
