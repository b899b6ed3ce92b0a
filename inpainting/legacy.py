"""The prototype's endpoint, `POST /inpainting/`, kept so its clients keep working.

The prototype took one JSON request and answered it with the finished PNG,
running the model inside the request. The contract stays; the design does
not: the request becomes an ordinary job for the workers, and this view waits
for it asynchronously, so a waiting client holds no server thread and other
requests are served meanwhile.

Request: `{"prompt": str, "image": data URL, "mask": data URL, "model": 0 | 1,
"guidance_scale": number}` with model 0 = the own model, 1 = OpenAI.
Answer: the repainted map as `image/png`; an empty mask answers the map
unchanged, as the prototype did. Errors are JSON `{"detail": ...}`; a
database that is down answers 503 with `Retry-After`.

The prototype let its client pick the model; here the museum's curators
decide (site settings), so the engine that painted may not be the one asked
for. The picture's answer says which, in headers a cross-origin client may read:

* `X-Olpe-Engine`: the engine that painted (`classic`, `diffusers`, `openai`);
* `X-Olpe-Requested-Engine`: the engine the request's `model` named;
* `X-Olpe-Notice`: why they differ, in the request's language, percent-encoded
  UTF-8 (`decodeURIComponent` in JavaScript); absent when they do not.

The prototype's frontend posted from another origin without a CSRF token, so
this one endpoint is CSRF-exempt and allows any origin. Its jobs belong to no
user or session and it changes nothing else, so a forged request can do no
more than an honest one; the job-creation rate limit applies as in the API.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from inpainting import jobs
from inpainting.api.exceptions import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    database_unavailable_message,
    log_database_problem,
)
from inpainting.api.parsers import JSONTooDeep, load_json
from inpainting.api.serializers import decode_base64_picture
from inpainting.api.throttling import JobCreationThrottle
from inpainting.models import InpaintJob
from inpainting_core import compositing, engines, imaging, masks
from inpainting_core.generation import GenerationSettings
from inpainting_core.wishes import PromptProblem

logger = logging.getLogger(__name__)

# The prototype's model numbers.
MODEL_ENGINES = {0: engines.OWN_MODEL, 1: engines.OPENAI}
REQUIRED_FIELDS = ("prompt", "image", "mask")
POLL_SECONDS = 0.25

ENGINE_HEADER = "X-Olpe-Engine"
REQUESTED_ENGINE_HEADER = "X-Olpe-Requested-Engine"
NOTICE_HEADER = "X-Olpe-Notice"

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Expose-Headers": ", ".join(
        (ENGINE_HEADER, REQUESTED_ENGINE_HEADER, NOTICE_HEADER, "Retry-After")
    ),
    "Access-Control-Max-Age": "86400",
}


class LegacyError(Exception):
    """Ends the request with `{"detail": message}` and the given status."""

    def __init__(self, status: int, message, headers: dict | None = None):
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class LegacyRequest:
    prompt: str
    image: bytes
    mask: bytes
    engine: str
    guidance: float | None


def timeout_seconds() -> float:
    return float(settings.OLPE_LEGACY_TIMEOUT)


@csrf_exempt
async def inpainting(request):
    """Answer the prototype's request with the finished picture, waiting without a thread."""
    if request.method == "OPTIONS":
        return with_cors(HttpResponse(status=204))
    if request.method != "POST":
        response = error_response(LegacyError(405, _("Only POST is supported.")))
        response["Allow"] = "POST, OPTIONS"
        return response
    try:
        await sync_to_async(check_rate)(request)
        # Decoding megabytes of JSON and base64 is CPU work: off the event loop,
        # and off the thread that Django's synchronous views share.
        wish = await sync_to_async(parse_request, thread_sensitive=False)(request)
        job = await sync_to_async(submit)(request, wish)
        if job is None:  # an empty mask: the map comes back unchanged
            return png_response(await sync_to_async(unchanged_map_png)(wish.image))
        job = await wait_for(job)
        return with_engine_headers(png_response(await sync_to_async(read_result)(job)), job)
    except LegacyError as error:
        return error_response(error)
    except DATABASE_UNAVAILABLE as error:
        log_database_problem(error, request.path)
        return error_response(LegacyError(
            503, database_unavailable_message(), {"Retry-After": str(RETRY_AFTER_SECONDS)}
        ))


# --- steps ---------------------------------------------------------------------------


def parse_request(request) -> LegacyRequest:
    try:
        payload = load_json(request.body)
    except RequestDataTooBig:
        raise LegacyError(413, _("The request is too large.")) from None
    except JSONTooDeep as problem:
        raise LegacyError(400, problem.message) from None
    except ValueError:  # also UnicodeDecodeError
        raise LegacyError(400, _("The request is not valid JSON.")) from None
    if not isinstance(payload, dict):
        raise LegacyError(400, _("The request is not valid JSON."))
    missing = [name for name in REQUIRED_FIELDS if not payload.get(name)]
    if missing:
        raise LegacyError(400, _("Missing fields: %(fields)s.") % {"fields": ", ".join(missing)})
    if not isinstance(payload["prompt"], str):
        raise LegacyError(400, _("The prompt must be text."))
    return LegacyRequest(
        prompt=payload["prompt"],
        image=decode_picture(payload["image"], "image"),
        mask=decode_picture(payload["mask"], "mask"),
        engine=engine_for_model(payload.get("model", 0)),
        guidance=guidance_from(payload.get("guidance_scale")),
    )


def decode_picture(value, field: str) -> bytes:
    if not isinstance(value, str):
        raise LegacyError(400, _("“%(field)s” must be a data URL.") % {"field": field})
    try:
        return decode_base64_picture(value)
    except ValueError:
        raise LegacyError(
            400, _("“%(field)s” is not a valid base64 data URL.") % {"field": field}
        ) from None


def engine_for_model(model) -> str:
    # bool is an int in Python; the prototype never sent one.
    if isinstance(model, bool) or model not in MODEL_ENGINES:
        raise LegacyError(400, _("“model” must be 0 (own model) or 1 (OpenAI)."))
    return MODEL_ENGINES[model]


def guidance_from(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LegacyError(400, _("“guidance_scale” must be a number."))
    return float(value)


def check_rate(request) -> None:
    """Legacy wishes count against the same budget as the API's, checked before any decoding."""
    throttle = JobCreationThrottle()
    if not throttle.allow_request(request, None):
        wait = throttle.wait()
        headers = {"Retry-After": str(int(wait) + 1)} if wait is not None else {}
        raise LegacyError(429, _("Too many wishes at once; please try again shortly."), headers)


def submit(request, wish: LegacyRequest) -> InpaintJob | None:
    """Create the job; None for an empty mask, which the prototype answered with the map."""
    try:
        return jobs.submit_job(
            image=wish.image, mask=wish.mask, wish=wish.prompt,
            generation=GenerationSettings(engine=wish.engine, guidance=wish.guidance),
            client_ip=request.META.get("REMOTE_ADDR"),
            engine_is_a_wish=True,
        )
    except masks.EmptyMask:
        return None
    except imaging.ImageProblem as problem:
        raise LegacyError(400, problem.message) from problem
    except PromptProblem as problem:
        raise LegacyError(422, problem.message) from problem
    except jobs.JobProblem as problem:
        # The engine cannot run here (no key, say): the service, not the request, is at fault.
        status = 503 if problem.field == "engine" else 400
        raise LegacyError(status, problem.message) from problem


async def wait_for(job: InpaintJob) -> InpaintJob:
    """Poll the job until it finishes, yielding the event loop between looks.

    A client that gives up (timeout or disconnect) no longer wants the
    picture, and nobody else knows the job, so it is cancelled to free the worker.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds()
    try:
        while True:
            status = await current_status(job)
            if status is None or status in InpaintJob.FINISHED:
                break
            if loop.time() >= deadline:
                logger.warning("Legacy request for job %s timed out; cancelling it", job.pk)
                await sync_to_async(jobs.cancel_job)(job)
                raise LegacyError(504, _("The picture was not ready in time; please try again."))
            await asyncio.sleep(POLL_SECONDS)
    except asyncio.CancelledError:
        await sync_to_async(jobs.cancel_job)(job)
        raise
    job = await InpaintJob.objects.filter(pk=job.pk).afirst()
    if job is None:  # a curator deleted it meanwhile
        raise LegacyError(503, _("The job was cancelled."))
    if job.status == InpaintJob.Status.FAILED:
        raise LegacyError(503, job.error_message or _("The generation failed."))
    if job.status == InpaintJob.Status.CANCELLED:
        raise LegacyError(503, _("The job was cancelled."))
    return job


async def current_status(job: InpaintJob) -> str | None:
    return await InpaintJob.objects.filter(pk=job.pk).values_list("status", flat=True).afirst()


def read_result(job: InpaintJob) -> bytes:
    with job.result_image.open("rb") as result:
        return result.read()


def unchanged_map_png(image: bytes) -> bytes:
    return compositing.to_png_bytes(imaging.open_image(image))


# --- answers -----------------------------------------------------------------------------


def with_cors(response: HttpResponse) -> HttpResponse:
    for header, value in CORS_HEADERS.items():
        response[header] = value
    return response


def png_response(data: bytes) -> HttpResponse:
    return with_cors(HttpResponse(data, content_type="image/png"))


def with_engine_headers(response: HttpResponse, job: InpaintJob) -> HttpResponse:
    """Which engine painted, which was asked for, and why they differ (see the module)."""
    response[ENGINE_HEADER] = job.engine
    response[REQUESTED_ENGINE_HEADER] = job.requested_engine
    if job.notice:
        response[NOTICE_HEADER] = quote(job.notice, safe=" ,.;:!?()'/")
    return response


def error_response(error: LegacyError) -> HttpResponse:
    response = JsonResponse({"detail": str(error.message)}, status=error.status)
    for header, value in error.headers.items():
        response[header] = value
    return with_cors(response)
