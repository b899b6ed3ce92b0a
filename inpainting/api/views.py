"""The REST API: submit a wish, watch its job, fetch the result, learn what the server can do.

The web tier never generates anything: a POST stores the job and answers
202 Accepted at once, a worker process does the work, and clients follow it
over the websocket (`websocket_url`) or by reading the job. Everything the
service refuses becomes a 400 with field messages in the client's language.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import (
    APIException,
    ErrorDetail,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from inpainting import huge_maps, jobs
from inpainting.api import serializers as api
from inpainting.api.parsers import DepthLimitedJSONParser
from inpainting.api.throttling import AnonThrottle, JobCreationThrottle, OwnerThrottle, UserThrottle
from inpainting.models import InpaintJob
from inpainting_core import engines
from inpainting_core.engines.base import EngineError
from inpainting_core.styles import style_choices
from inpainting_core.problems import Problem, error_body

Status = InpaintJob.Status



# --- request handling ---------------------------------------------------------------


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self):
        message = _("The request is too large: at most %(megabytes)s MB.")
        super().__init__(message % {"megabytes": api.limit_in_megabytes()})


class ErrorsAsJSONNegotiation(DefaultContentNegotiation):
    """For views that answer pictures: errors are JSON whatever the client accepts.

    An <img> or a client asking for image/png only would otherwise get a 406
    instead of the reason why there is no picture.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JobPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiView:
    """Public reads: throttled by IP address (anonymous) or by account (tokens).

    A body above DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413: the JSON
    parser reads `request.body`, where Django enforces that limit.
    """

    throttle_classes = [AnonThrottle, UserThrottle]

    def handle_exception(self, exc):
        if isinstance(exc, RequestDataTooBig):
            exc = RequestTooLarge()
        return super().handle_exception(exc)


def kiosk_session_key(request) -> str:
    """The browser session that submits a wish, so that the same browser may cancel it.

    Clients with an API token are identified by their account instead; an
    anonymous client without a session gets one (and its cookie) here.
    """
    if request.auth is not None:
        return ""
    session = request.session
    if session.session_key is None:
        session.save()
        session.modified = True  # makes SessionMiddleware send the cookie
    return session.session_key


def owns_job(request, job: InpaintJob) -> bool:
    """Curators, the token user who made the wish, or the browser session that made it
    (`jobs.may_change`, the rule the websocket uses too).

    They may cancel the job, and read it, its result and previews without the
    public read limit (OwnerThrottle instead).
    """
    return jobs.may_change(job, user=request.user, session_key=request.session.session_key)


def service_problem_errors(problem: Problem) -> dict:
    """`{"mask": [ErrorDetail]}` for a problem the service raised, keeping its code."""
    field = problem.field or api_settings.NON_FIELD_ERRORS_KEY
    return {field: [ErrorDetail(str(problem.message), code=problem.code)]}


def api_job_state(job: InpaintJob) -> dict:
    return {**jobs.job_state(job), **api.job_links(job.pk)}


# --- schema pieces ---------------------------------------------------------------------

FIELD_ERRORS = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=_(
        "The wish was refused: per field (or `non_field_errors`), a list of errors, each "
        "with a stable `code` for programs and a translated `message` for people."
    ),
    examples=[
        OpenApiExample(
            "Empty mask",
            value={"mask": [{
                "code": "empty_mask",
                "message": "Nothing is painted on the mask. Paint the region the wish should change.",
            }]},
        )
    ],
)
JOB_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
SERVICE_UNAVAILABLE = OpenApiResponse(
    response=api.DetailSerializer,
    description="The database is briefly unavailable; `Retry-After` says when to try again.",
)


def detail_response(description) -> OpenApiResponse:
    return OpenApiResponse(response=api.DetailSerializer, description=description)


# --- jobs ------------------------------------------------------------------------------


class JobListCreateView(ApiView, generics.ListAPIView):
    """Submit a wish (anyone), or list the jobs (curators)."""

    serializer_class = api.JobSummarySerializer
    pagination_class = JobPagination
    parser_classes = [DepthLimitedJSONParser, MultiPartParser]

    def get_permissions(self):
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAdminUser()]

    def get_throttles(self):
        # A new job counts against job creation only: reads keep their own budget.
        if self.request.method == "POST":
            return [JobCreationThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        queryset = InpaintJob.objects.order_by("-created_at")
        wanted = self.request.query_params.get("status")
        if wanted is None:
            return queryset
        if wanted not in Status.values:
            message = _("Unknown status “%(status)s”.") % {"status": api.echo(wanted)}
            raise ValidationError({"status": [ErrorDetail(message, code="invalid_choice")]})
        return queryset.filter(status=wanted)

    @extend_schema(
        summary="List jobs (curators only)",
        parameters=[
            OpenApiParameter("status", enum=Status.values, description="Only jobs in this state.")
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Submit a wish",
        description=(
            "Stores the job and answers at once; a worker generates the picture. Follow the "
            "job at `websocket_url` or by reading `url`, then fetch `result_url`: whoever "
            "made the job reads it without the public rate limit.\n\n"
            "Map and mask need at least 64 pixels a side (`OLPE_MIN_IMAGE_SIDE`); JSON may "
            "nest at most 32 levels (`OLPE_MAX_JSON_DEPTH`) and its types are not coerced "
            "(`true` is no number, a number no text). Only token clients, and visitors where "
            "the curators allow it, may name an engine other than the museum's. A request "
            "with a session cookie must send Django's CSRF token in `X-CSRFToken`."
        ),
        request={
            "multipart/form-data": api.JobUploadSerializer,
            "application/json": api.JobJsonSerializer,
        },
        responses={
            202: OpenApiResponse(
                api.JobStateSerializer, description="Accepted; `Location` names the job."
            ),
            400: FIELD_ERRORS,
            403: detail_response(
                "A browser session (session cookie) sent no valid CSRF token in `X-CSRFToken`."
            ),
            413: detail_response("The request is larger than the server accepts."),
            429: detail_response(
                "Too many new jobs; `Retry-After` says when to try again. Job creation has "
                "a budget of its own: reading jobs and everything else is not affected."
            ),
            503: SERVICE_UNAVAILABLE,
        },
    )
    def post(self, request, *args, **kwargs):
        serializer_class = self._input_serializer_class(request)
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        job = self._submit(request, serializer)
        state = api_job_state(job)
        return Response(
            state, status=status.HTTP_202_ACCEPTED,
            headers={"Location": request.build_absolute_uri(state["url"])},
        )

    @staticmethod
    def _input_serializer_class(request):
        if request.content_type.startswith("multipart/"):
            return api.JobUploadSerializer
        return api.JobJsonSerializer

    @staticmethod
    def _submit(request, serializer) -> InpaintJob:
        values = serializer.validated_data
        base_job = values.get("base_job")
        if base_job is not None and not owns_job(request, base_job):
            raise ValidationError({"base_job": [ErrorDetail(str(_(
                "Only whoever made the earlier wish may paint on its result."
            )), code="not_yours")]})
        new_session = request.auth is None and request.session.session_key is None
        try:
            return jobs.submit_job(
                image=values.get("image"),
                base_job=base_job,
                mask=values["mask"],
                mask_box=values.get("mask_box"),
                wish=values["prompt"],
                generation=serializer.generation_settings(),
                world=values.get("world"),
                kiosk_session=kiosk_session_key(request),
                api_user=request.user,
                client_ip=request.META.get("REMOTE_ADDR"),
            )
        except Problem as problem:
            if new_session:  # a refused wish leaves no session behind, nor its cookie
                request.session.flush()
            raise ValidationError(service_problem_errors(problem)) from problem


class OwnJobView(ApiView):
    """A view of one job: its owner has a bucket of its own, everyone else reads publicly.

    The job is looked up once, before the throttles, and never raises there:
    a request for a job that does not exist counts as a public read, so
    guessing ids stays throttled.
    """

    _job = None

    def get_throttles(self):
        job = self.find_job()
        if job is not None and owns_job(self.request, job):
            return [OwnerThrottle()]
        return super().get_throttles()

    def find_job(self) -> InpaintJob | None:
        if self._job is None:
            self._job = InpaintJob.objects.filter(pk=self.kwargs["pk"]).first()
        return self._job

    def get_job(self) -> InpaintJob:
        job = self.find_job()
        if job is None:
            raise NotFound()
        return job


class JobDetailView(OwnJobView, APIView):
    """Read a job's state; cancel it."""

    @extend_schema(
        summary="A job's state", parameters=[JOB_ID],
        responses={200: api.JobStateSerializer, 404: detail_response("No such job.")},
    )
    def get(self, request, pk):
        return Response(api_job_state(self.get_job()))

    @extend_schema(
        summary="Cancel a job",
        description=(
            "A waiting job is cancelled at once; a running job stops at its next step. "
            "Allowed for curators, the token user who made the wish and the browser "
            "session that made it."
        ),
        parameters=[JOB_ID],
        responses={
            202: OpenApiResponse(
                api.JobStateSerializer, description="Cancelled, or asked to stop."
            ),
            403: detail_response("Neither a curator nor whoever made the wish."),
            404: detail_response("No such job."),
            409: detail_response(
                "The job has already succeeded or failed (cancelling a cancelled job is a 202)."
            ),
        },
    )
    def delete(self, request, pk):
        job = self.get_job()
        if not owns_job(request, job):
            raise PermissionDenied(_("Only whoever made this wish, or a curator, may cancel it."))
        if not job.is_finished:
            job = jobs.cancel_job(job)
        if job.status in (Status.SUCCEEDED, Status.FAILED):
            return already_finished(job)
        return Response(api_job_state(job), status=status.HTTP_202_ACCEPTED)


def already_finished(job: InpaintJob) -> Response:
    return Response(
        {**error_body(_("The job has already finished."), code="finished"), "status": job.status},
        status=status.HTTP_409_CONFLICT,
    )


class NotFoundWithStatus(NotFound):
    """404 that also says the job's state, so a client knows whether to wait."""

    def __init__(self, detail, job_status):
        super().__init__(detail, code="not_ready")
        self.job_status = job_status  # added to the body by the exception handler


class JobPictureView(OwnJobView, APIView):
    """A picture of a job, read from storage: media files are never served directly."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJSONNegotiation
    content_type: str
    cache_control: str

    def get(self, request, pk):
        picture = self.available_picture(self.get_job())
        # Read whole, not streamed: under ASGI Django reads a FileResponse's file
        # whole anyway (with a warning per response), and these are our own PNGs.
        with picture.open("rb") as source:
            response = HttpResponse(source.read(), content_type=self.content_type)
        response["Cache-Control"] = self.cache_control
        return response

    def available_picture(self, job: InpaintJob):
        raise NotImplementedError


class JobResultView(JobPictureView):
    content_type = "image/png"
    # A result never changes; the URL itself is the secret, so no shared caches.
    cache_control = "private, max-age=86400, immutable"

    NOT_READY = {
        Status.QUEUED: _("The job is still waiting for a worker."),
        Status.RUNNING: _("The job is still running."),
        Status.FAILED: _("The job failed; there is no result."),
        Status.CANCELLED: _("The job was cancelled; there is no result."),
    }

    @extend_schema(
        summary="The repainted map (PNG)", parameters=[JOB_ID],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            404: detail_response("No such job, or no result (yet); `status` says which."),
        },
    )
    def get(self, request, pk):
        return super().get(request, pk)

    def available_picture(self, job):
        if job.status == Status.SUCCEEDED and job.result_image:
            return job.result_image
        reason = self.NOT_READY.get(job.status, _("The job has no result."))
        raise NotFoundWithStatus(reason, job.status)


class JobBeforeView(JobResultView):
    """The map under a result on a huge map, as it was before the wish."""

    @extend_schema(
        summary="The map under a result on a huge map, before the wish (PNG)",
        description=(
            "A wish on a huge map (more than OLPE_HUGE_MAP_PIXELS) has as its result only "
            "the region it repainted, placed on the map by `result_box`; this is the same "
            "region of the map as it was before. Other jobs have none (404)."
        ),
        parameters=[JOB_ID],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            404: detail_response("No such job, no result (yet) or a result of the whole map."),
        },
    )
    def get(self, request, pk):
        job = self.get_job()
        self.available_picture(job)  # the result's own reasons while there is none
        if not job.result_box:
            raise NotFoundWithStatus(_("This result is the whole map; it has no before region."),
                                     job.status)
        try:
            data = huge_maps.before_png(job)
        except EngineError as error:
            raise NotFoundWithStatus(error.message, job.status) from error
        response = HttpResponse(data, content_type="image/png")
        response["Cache-Control"] = self.cache_control
        return response


class JobPreviewView(JobPictureView):
    content_type = "image/jpeg"
    cache_control = "no-cache"  # replaced while the job runs

    @extend_schema(
        summary="The latest preview of a running job (JPEG)", parameters=[JOB_ID],
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            404: detail_response("No such job, or no preview yet."),
        },
    )
    def get(self, request, pk):
        return super().get(request, pk)

    def available_picture(self, job):
        if job.preview_image:
            return job.preview_image
        raise NotFoundWithStatus(_("There is no preview of this job (yet)."), job.status)


# --- what the server offers ------------------------------------------------------------


class EngineListView(ApiView, APIView):
    @extend_schema(summary="Engines, whether each can run now, and why not",
                   responses=api.EngineListSerializer)
    def get(self, request):
        default = jobs.default_engine()
        return Response(
            {
                "default": default,
                "engines": [
                    {"name": status_.name, "label": str(status_.label), "usable": status_.usable,
                     "reason": str(status_.reason), "default": status_.name == default}
                    for status_ in engines.statuses()
                ],
            }
        )


class StyleListView(ApiView, APIView):
    @extend_schema(summary="Style presets", responses=api.StyleSerializer(many=True))
    def get(self, request):
        return Response([{"key": key, "label": str(label)} for key, label in style_choices()])
