"""What clients see of a job: one definition for the REST API and the websocket.

`JobState` is a job's snapshot: the REST API answers it (with the job's links
added by the API, `JobStateSerializer`), and a websocket's first message
carries it under `"job"`. `EVENTS` gives the payload of each live event kind.
`events.publish` refuses a payload with a field not named here, the OpenAPI
schema is generated from these serializers, and `tests/test_protocol.py`
checks that the protocol in `inpainting/consumers.py`'s docstring lists
exactly these fields: a new field is written here once, or nowhere.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inpainting.models import InpaintJob

Status = InpaintJob.Status

# --- event kinds ---------------------------------------------------------------------

QUEUED = "queued"
STARTED = "started"
PROGRESS = "progress"
PREVIEW = "preview"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

# Every message carries these beside its kind's payload; a snapshot adds `SNAPSHOT`.
ENVELOPE = ("type", "event_id", "job_id", "at")
SNAPSHOT = ("snapshot", "job")


# --- where a job's pictures are -------------------------------------------------------


def result_url(job: InpaintJob) -> str | None:
    if job.status != Status.SUCCEEDED or not job.result_image:
        return None
    return _api_url("job-result", job.pk)


def result_box(job: InpaintJob) -> list[int] | None:
    """Where a result on a huge map lies on it ([x, y, width, height]); None: the whole map."""
    return list(job.result_box) if result_url(job) and job.result_box else None


def before_url(job: InpaintJob) -> str | None:
    """The map under a region result as it was before the wish (huge maps only)."""
    return _api_url("job-before", job.pk) if result_box(job) else None


def preview_url(job: InpaintJob) -> str | None:
    return _api_url("job-preview", job.pk) if job.preview_image else None


def _api_url(name: str, job_id) -> str | None:
    try:
        return reverse(f"inpainting:api:{name}", args=[str(job_id)])
    except NoReverseMatch:  # the API is not mounted (e.g. a worker-only deployment)
        return None


# --- the snapshot ---------------------------------------------------------------------


class PromptsSerializer(serializers.Serializer):
    original = serializers.CharField(source="prompt_original")
    translated = serializers.CharField(source="prompt_translated")
    final = serializers.CharField(source="prompt_final")
    negative = serializers.CharField(source="negative_prompt")
    translation_source = serializers.CharField()
    land_covers = serializers.ListField(
        child=serializers.CharField(), help_text=_("Land covers the wish names, e.g. water.")
    )


class ProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField(source="progress_step")
    total = serializers.IntegerField(source="progress_total")


class FrameSerializer(serializers.Serializer):
    """inpainting_core.framing.Frame.as_dict: boxes are [left, top, right, bottom] in map pixels."""

    box = serializers.ListField(
        child=serializers.IntegerField(), min_length=4, max_length=4,
        help_text=_("The part of the map to show first: the change, grown for context, 4:3."),
    )
    change = serializers.ListField(
        child=serializers.IntegerField(), min_length=4, max_length=4,
        help_text=_("The painted region and the pixels that changed."),
    )
    size = serializers.ListField(
        child=serializers.IntegerField(), min_length=2, max_length=2,
        help_text=_("The map's width and height in pixels."),
    )


def _frame_field(**kwargs):
    return FrameSerializer(
        allow_null=True,
        help_text=_("Set once the job succeeded: where the result changed the map, and the "
                    "part of it to show first."),
        **kwargs,
    )


def _result_box_field(**kwargs):
    return serializers.ListField(
        child=serializers.IntegerField(), allow_null=True,
        help_text=_(
            "On a huge map, the result is only the region the wish repainted: its place on "
            "the map, [x, y, width, height]. Null: the result is the whole map."
        ),
        **kwargs,
    )


class JobState(serializers.Serializer):
    """A job as its clients see it (read from an `InpaintJob`)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Status.choices)
    engine = serializers.CharField()
    requested_engine = serializers.CharField()
    style = serializers.CharField()
    notice = serializers.CharField(
        help_text=_("For example, that the job fell back to another engine.")
    )
    world = serializers.IntegerField(
        source="world_id", allow_null=True,
        help_text=_("The gallery world (map) the wish was made on, if any."),
    )
    prompts = PromptsSerializer(source="*")
    progress = ProgressSerializer(source="*")
    position = serializers.IntegerField(
        source="queue_position", help_text=_("Place in the queue; 0 once no longer waiting.")
    )
    cancel_requested = serializers.BooleanField()
    error = serializers.SerializerMethodField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    result_url = serializers.SerializerMethodField(
        help_text=_("Set once the job succeeded.")
    )
    result_box = serializers.SerializerMethodField()
    before_url = serializers.SerializerMethodField(
        help_text=_("With `result_box`: the same region of the map before the wish (PNG).")
    )
    preview_url = serializers.SerializerMethodField()
    frame = serializers.SerializerMethodField()

    def get_error(self, job) -> str | None:
        return job.error_message or None

    def get_result_url(self, job) -> str | None:
        return result_url(job)

    @extend_schema_field(_result_box_field())
    def get_result_box(self, job) -> list[int] | None:
        return result_box(job)

    def get_before_url(self, job) -> str | None:
        return before_url(job)

    def get_preview_url(self, job) -> str | None:
        return preview_url(job)

    @extend_schema_field(FrameSerializer(allow_null=True))
    def get_frame(self, job) -> dict | None:
        return job.frame if job.status == Status.SUCCEEDED else None


# --- the live events ------------------------------------------------------------------


class QueuedEvent(serializers.Serializer):
    position = serializers.IntegerField(help_text=_("Place in the queue; 1 is next."))
    retry = serializers.BooleanField(
        required=False, help_text=_("Set when the job waits again after a failed attempt.")
    )
    reason = serializers.CharField(required=False, help_text=_("Why it waits again."))


class StartedEvent(serializers.Serializer):
    attempt = serializers.IntegerField()
    engine = serializers.CharField()


class ProgressEvent(serializers.Serializer):
    step = serializers.IntegerField()
    total = serializers.IntegerField()


class PreviewEvent(serializers.Serializer):
    step = serializers.IntegerField()
    data_url = serializers.CharField(help_text=_("A small JPEG of the picture so far."))


class SucceededEvent(serializers.Serializer):
    result_url = serializers.CharField()
    result_box = _result_box_field()
    before_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)
    engine = serializers.CharField()
    notice = serializers.CharField()
    frame = _frame_field()


class FailedEvent(serializers.Serializer):
    reason = serializers.CharField()


class CancelledEvent(serializers.Serializer):
    pass


EVENTS: dict[str, type[serializers.Serializer]] = {
    QUEUED: QueuedEvent,
    STARTED: StartedEvent,
    PROGRESS: ProgressEvent,
    PREVIEW: PreviewEvent,
    SUCCEEDED: SucceededEvent,
    FAILED: FailedEvent,
    CANCELLED: CancelledEvent,
}


def event_fields(kind: str) -> frozenset[str]:
    """The payload fields an event of `kind` may carry."""
    return frozenset(EVENTS[kind]().fields)


def check_event(kind: str, payload: dict) -> None:
    """Raise ValueError for a kind or a payload field the protocol does not document."""
    if kind not in EVENTS:
        raise ValueError(f"{kind!r} is not an event kind of the job protocol")
    undocumented = set(payload) - event_fields(kind)
    if undocumented:
        raise ValueError(
            f"{kind!r} events do not document {sorted(undocumented)}: add them to "
            "inpainting/protocol.py and the protocol in inpainting/consumers.py"
        )


def job_state(job: InpaintJob) -> dict:
    """The job's snapshot as plain JSON-ready data."""
    return JobState(job).data


def snapshot_payload(job: InpaintJob, state: dict) -> dict:
    """What a socket's first message says beside the state: its kind's payload from `state`."""
    if job.status == Status.QUEUED:
        return {"position": state["position"]}
    if job.status == Status.RUNNING:
        return dict(state["progress"])
    if job.status == Status.SUCCEEDED:
        return {name: state[name] for name in event_fields(SUCCEEDED)}
    if job.status == Status.FAILED:
        return {"reason": state["error"]}
    return {}
