"""The visitor kiosk: start, choose a World, paint and wish, watch, take the result home.

The pages are rendered here; painting, watching the job and the result live
in the paint page's JavaScript, which talks to the REST API (`/api/v1/jobs/`)
and the job's websocket like any other client. The API stores the browser's
session key with each job, and that key is what makes a job "this kiosk's":
only jobs of the current session may go to the gallery from here, and the
idle reset starts a new session, so the next visitor cannot publish the
previous visitor's picture.

Every kiosk page is `never_cache`: a page that the browser's back/forward
cache or a proxy kept could show the previous visitor's work.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import constant_time_compare
from django.utils.translation import get_language, gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from gallery import qr
from gallery.creations import CreationProblem, create_creation
from gallery.models import Creation
from gallery.views import picture_not_found, send_picture
from inpainting.models import InpaintJob
from inpainting_core.wishes import max_wish_chars
from kiosk import options, regions
from inpainting_core.problems import error_body
from kiosk.forms import GallerySubmissionForm
from kiosk.language import german_first, set_language_cookie
from museum import pyramids
from museum.models import SiteSettings, World
from museum.tasks import request_world_segmentation

# --- pages ------------------------------------------------------------------------------


@require_safe
@never_cache
@german_first
def start(request):
    """The welcome screen: what a visitor can do here, and one big button to begin."""
    showcase = World.objects.filter(visible=True).exclude(image="").first()
    return render(
        request, "kiosk/start.html", {"showcase": showcase, "kiosk": kiosk_config(request)}
    )


@require_safe
@never_cache
@german_first
def choose_world(request):
    """The visible Worlds with their pictures; non-editable ones open for viewing only."""
    worlds = World.objects.filter(visible=True)
    return render(
        request, "kiosk/worlds.html", {"worlds": worlds, "kiosk": kiosk_config(request)}
    )


@require_safe
@never_cache
@german_first
def paint(request, slug):
    """Paint a region of one World and make a wish; view only when the World is not editable."""
    world = get_object_or_404(World, slug=slug, visible=True)
    site = SiteSettings.load()
    language = get_language()
    fidelity = options.fidelity_levels()
    offered_engines = options.visitor_engines(site)
    context = {
        "world": world,
        "world_size": world_size(world),
        "editable": world.editable,
        "styles": options.offered_styles(),
        "fidelity_levels": fidelity,
        "default_fidelity": options.DEFAULT_FIDELITY,
        "suggestions": site.suggestions(language),
        "engines": offered_engines,
        "selected_engine": options.preselected_engine(site, offered_engines),
        "brush_sizes": options.brush_size_choices(),
        "default_brush_size": options.DEFAULT_BRUSH_SIZE,
        "gallery_form": GallerySubmissionForm(),
        "max_wish_chars": max_wish_chars(),
        "kiosk": kiosk_config(
            request,
            site,
            world={
                "id": world.pk,
                "slug": world.slug,
                "regionsUrl": reverse("kiosk:world-regions", args=[world.slug]),
                **world_pictures(world),
            },
            fidelity={level.key: level.guidance for level in fidelity},
        ),
    }
    return render(request, "kiosk/paint.html", context)


# A World's map with more pixels than a visitor's upload may have is shown from its tile
# pyramid (static/js/kiosk/tiles.js): an overview this big, and the tiles the view needs.
OVERVIEW_SIDE = 2048


def is_tiled(size) -> bool:
    return size is not None and (
        size[0] * size[1] > settings.OLPE_MAX_IMAGE_PIXELS or pyramids.is_huge(size))


def world_pictures(world: World) -> dict:
    """How the paint page shows a World's map: the whole picture, or for a big map an
    overview and its IIIF image service (`tiles`), with the map's size either way."""
    size = world_size(world)
    if not is_tiled(size):
        return {"imageUrl": reverse("gallery:world-image", args=[world.slug]), "tiles": None,
                "width": size and size[0], "height": size and size[1]}
    service = reverse("iiif:world-image", args=[world.slug])
    return {"imageUrl": f"{service}/full/!{OVERVIEW_SIDE},{OVERVIEW_SIDE}/0/default.jpg",
            "tiles": service, "width": size[0], "height": size[1]}


def world_size(world: World) -> tuple[int, int] | None:
    """The map's size in pixels, so the page can lay out the map before it has loaded."""
    try:
        return world.image.width, world.image.height
    except (OSError, ValueError):  # a missing file shows as a broken picture, not an error page
        return None


def kiosk_config(request, site: SiteSettings | None = None, **extra) -> dict:
    """What the kiosk's JavaScript needs, rendered into the page with `json_script`."""
    site = site or SiteSettings.load()
    idle = int(site.idle_reset_seconds)
    return {
        "idleSeconds": idle,
        "countdownSeconds": options.countdown_seconds(idle),
        "language": get_language(),
        "defaultLanguage": settings.LANGUAGE_CODE,
        "urls": {
            "jobs": reverse("inpainting:api:job-list"),
            # The script puts the job's id in place of the zeros.
            "gallery": reverse("kiosk:gallery", args=[uuid.UUID(int=0)]),
            "jobRegions": reverse("kiosk:job-regions", args=[uuid.UUID(int=0)]),
        },
        **extra,
    }


# --- actions ----------------------------------------------------------------------------


@require_POST
@never_cache
def reset(request):
    """Forget the visitor: a new session, German again, back to the start screen.

    Flushing the session also ends the visitor's claim on their jobs, so
    nothing they made can be reached from this kiosk any more.
    """
    request.session.flush()
    response = redirect("kiosk:start")
    set_language_cookie(response, settings.LANGUAGE_CODE)
    return response


@require_POST
@never_cache
def submit_to_gallery(request, job_id):
    """Hand a finished result of this kiosk session to the gallery; answer with its QR code.

    Answers 404 for a job of another session (as for an unknown job, so ids
    cannot be probed), 409 when the job has no result, 400 for an invalid
    form or a refused title or name (the blocklist). Submitting the same job
    again answers the creation already made, so a double tap creates nothing twice.
    """
    job = own_job(request, job_id)
    if job is None:
        return error_response(gettext("This picture is not from this visit."), code="not_found", status=404)
    if job.status != InpaintJob.Status.SUCCEEDED or not job.result_image:
        return error_response(gettext("This wish has no finished picture yet."), code="not_finished",
                              status=409)
    existing = Creation.objects.filter(job=job).first()
    if existing is not None:
        return creation_response(request, existing, status=200)
    form = GallerySubmissionForm(request.POST)
    if not form.is_valid():
        return JsonResponse(coded(form.errors.get_json_data()), status=400)
    try:
        creation = create_creation(
            job,
            title=form.cleaned_data["title"],
            visitor_name=form.cleaned_data["visitor_name"],
            consent=form.cleaned_data["consent"],
            world=job.world,
        )
    except CreationProblem as problem:
        return problem_response(problem)
    return creation_response(request, creation, status=201)


@require_safe
def world_regions(request, slug):
    """The World's regions for the select tool (museum.tasks): 200 with the label
    picture, 202 while a worker makes them (a World from before the select tool gets
    them queued here, once), 404 for no such paintable World."""
    world = World.objects.filter(slug=slug, visible=True, editable=True).first()
    if world is None or not world.image:
        return picture_not_found()
    if not world.segmentation_is_current():
        request_world_segmentation(world.pk)
        return regions_pending()
    return send_picture(request, world.segmentation.open, "image/png", public=True,
                        etag=world.segmentation.name)


def regions_pending() -> JsonResponse:
    response = JsonResponse({"detail": gettext("The regions are being made.")}, status=202)
    response["Retry-After"] = "1"
    add_never_cache_headers(response)
    return response


@require_safe
def job_regions(request, job_id):
    """A result's regions, for painting on it again: 200 with the label picture when
    made, 202 after queueing them on a worker (ask again), 404 for another visit's job."""
    job = own_job(request, job_id)
    if job is None or job.status != InpaintJob.Status.SUCCEEDED or not job.result_image:
        return picture_not_found()
    if regions.result_regions_ready(job):
        name = regions.result_regions_name(job)
        return send_picture(request, lambda: job.result_image.storage.open(name), "image/png",
                            public=False, etag=name)
    regions.request_result_regions(job)
    return regions_pending()


def own_job(request, job_id) -> InpaintJob | None:
    """The job if this browser session submitted it, else None."""
    session_key = request.session.session_key
    job = InpaintJob.objects.filter(pk=job_id).first()
    if job is None or not session_key or not job.kiosk_session:
        return None
    return job if constant_time_compare(job.kiosk_session, session_key) else None


def creation_response(request, creation: Creation, status: int) -> JsonResponse:
    """The creation's address and QR code, inline.

    The code is part of the answer rather than a link to `/c/<slug>/qr.svg`,
    which (like the page) only answers once a curator has approved it.
    """
    return JsonResponse(
        {
            "slug": creation.slug,
            "status": creation.status,
            "url": qr.creation_page_url(request, creation.slug),
            "qr_svg": qr.creation_qr_svg(request, creation.slug),
        },
        status=status,
    )


def coded(form_errors: dict) -> dict:
    """A form's errors in the API's shape: `{"field": [{"code", "message"}]}`."""
    return {
        field: [{"code": error["code"] or "invalid", "message": error["message"]}
                for error in errors]
        for field, errors in form_errors.items()
    }


def error_response(message: str, *, code: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(message, code=code), status=status)


def problem_response(problem: CreationProblem) -> JsonResponse:
    """A refused submission (a blocked title, say) in the form errors' shape, 400."""
    return JsonResponse(problem.error_body(), status=400)
