"""What the REST API accepts and answers.

A wish arrives in one of two shapes: multipart with the map and the mask as
files (scripts, `olpe_client`), or JSON with both pictures as base64 text or
data URLs (browsers, whose canvas hands out data URLs). Both shapes share the
generation parameters and end up as the same `submit_job` call; deciding
whether a picture is a usable map or mask stays with the service.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inpainting.models import InpaintJob
from inpainting.protocol import JobState
from inpainting_core.engines import ENGINE_NAMES
from inpainting_core.generation import GenerationSettings
from museum.models import World

# "data:image/png;base64," and the like; parameters such as ";charset=..." allowed.
DATA_URL_PREFIX = re.compile(r"^data:(?P<media_type>[^;,]*)(?P<parameters>(?:;[^;,]*)*),", re.ASCII)
WHITESPACE = re.compile(r"\s+", re.ASCII)


def job_links(job_id) -> dict:
    """Where to read a job and where to watch it (paths; the host is the caller's)."""
    return {
        "url": reverse("inpainting:api:job-detail", args=[str(job_id)]),
        "websocket_url": f"/ws/jobs/{job_id}/",
    }


def upload_limit() -> int:
    """The most bytes one picture may take, in whatever encoding it arrives."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def limit_in_megabytes() -> str:
    return f"{upload_limit() / (1024 * 1024):.0f}"


def decode_base64_picture(text: str) -> bytes:
    """Bytes of a picture sent as plain base64 or as a base64 data URL.

    Line breaks (MIME-style wrapping) are tolerated; any other character
    outside the base64 alphabet, a wrong padding or a data URL that is not
    base64 is refused. Raises ValueError with the reason's key.
    """
    match = DATA_URL_PREFIX.match(text)
    if match:
        if ";base64" not in match.group("parameters").lower():
            raise ValueError("not_base64_data_url")
        text = text[match.end():]
    payload = WHITESPACE.sub("", text)
    if not payload:
        raise ValueError("blank")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("invalid") from None


@extend_schema_field(OpenApiTypes.STR)  # base64 or a data URL: not strictly "format: byte"
class EncodedPictureField(serializers.Field):
    """A picture as base64 text or a data URL, decoded to bytes.

    The length is checked before decoding, so an oversized string costs no
    decoding work and never doubles in memory.
    """

    default_error_messages = {
        "not_text": _("Send the picture as base64 text or as a data URL."),
        "blank": _("The picture is empty."),
        "too_large": _("The picture is too large: at most %(megabytes)s MB."),
        "invalid": _("The picture is not valid base64."),
        "not_base64_data_url": _("Only base64 data URLs are accepted."),
    }

    def to_internal_value(self, data) -> bytes:
        if not isinstance(data, str):
            self.fail("not_text")
        if len(data) > upload_limit():
            raise serializers.ValidationError(
                self.error_messages["too_large"] % {"megabytes": limit_in_megabytes()},
                code="too_large",
            )
        try:
            return decode_base64_picture(data)
        except ValueError as problem:
            self.fail(str(problem))

    def to_representation(self, value):
        return base64.b64encode(value).decode("ascii")


class UploadedPictureField(serializers.FileField):
    """A picture uploaded as a file of a multipart request."""

    default_error_messages = {
        "too_large": _("The picture is too large: at most %(megabytes)s MB."),
    }

    def to_internal_value(self, data):
        upload = super().to_internal_value(data)
        if upload.size > upload_limit():
            raise serializers.ValidationError(
                self.error_messages["too_large"] % {"megabytes": limit_in_megabytes()},
                code="too_large",
            )
        return upload


# --- strict types: JSON's types are taken at their word --------------------------------
#
# REST framework coerces: `true` becomes 1.0 for a float, a number becomes text
# for a string, `1.5` becomes the World 1. Text from a form (multipart) is
# still read as numbers, because a form has nothing but text.


class StrictCharField(serializers.CharField):
    """Text only: a number, a boolean, a list or an object is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# An error message repeats at most this much of what was sent.
ECHO_CHARS = 100


def echo(value) -> str:
    """`value` as an error message may repeat it: as text, and cut to ECHO_CHARS."""
    text = str(value)
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, given as text (a boolean or a number is no name)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data in self.choice_strings_to_values:
            return self.choice_strings_to_values[data]
        self.fail("invalid_choice", input=echo(data))


class StrictIntegerField(serializers.IntegerField):
    """A whole number, or its digits as text; never a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A number, or its digits as text; never a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


# A World's id fits a 64-bit column; longer digits are a slug that no World has.
MAX_ID_DIGITS = 18


@extend_schema_field(OpenApiTypes.STR)  # an id or a slug
class WorldField(serializers.RelatedField):
    """A visible World, named by its id (a whole number or its digits) or by its slug."""

    default_error_messages = {
        "does_not_exist": _("There is no World “%(value)s”."),
        "incorrect_type": _("Name the World by its id or its slug."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type")
        text = str(data).strip()
        # An id is ASCII digits: "²", "①" or "１" are digits to str.isdigit(), and no id.
        is_id = text.isascii() and text.isdecimal() and len(text) <= MAX_ID_DIGITS
        lookup = {"pk": int(text)} if is_id else {"slug": text}
        world = self.get_queryset().filter(**lookup).first() if text else None
        if world is None:
            raise serializers.ValidationError(
                self.error_messages["does_not_exist"] % {"value": echo(text)},
                code="does_not_exist",
            )
        return world

    def to_representation(self, value):
        return value.pk


@extend_schema_field(OpenApiTypes.UUID)
class BaseJobField(serializers.Field):
    """An earlier job, by its id, whose result the new wish paints on."""

    default_error_messages = {
        "does_not_exist": _("There is no such earlier job."),
    }

    def to_internal_value(self, data):
        try:
            job_id = uuid.UUID(str(data)) if isinstance(data, str) else None
        except ValueError:
            job_id = None
        job = InpaintJob.objects.filter(pk=job_id).select_related("world").first() if job_id else None
        if job is None:
            self.fail("does_not_exist")
        return job

    def to_representation(self, value):
        return str(value.pk)


@extend_schema_field({"type": "string", "pattern": r"^\d{1,7},\d{1,7},\d{1,7},\d{1,7}$",
                      "example": "4096,2048,1200,900"})
class MaskBoxField(serializers.Field):
    """x,y,width,height: four whole numbers, as "x,y,w,h" or a JSON list (checked against
    the map by the service)."""

    default_error_messages = {
        "invalid": _("Give the mask's place as four whole numbers: x,y,width,height."),
    }

    def to_internal_value(self, data):
        parts = data.split(",") if isinstance(data, str) else data
        if not isinstance(parts, (list, tuple)) or len(parts) != 4:
            self.fail("invalid")
        values = []
        for part in parts:
            if isinstance(part, bool) or not isinstance(part, (int, str)):
                self.fail("invalid")
            text = str(part).strip()
            if not text.isascii() or not text.isdigit() or len(text) > 7:
                self.fail("invalid")
            values.append(int(text))
        return tuple(values)

    def to_representation(self, value):
        return list(value)


def _range_field(field_class, value_range, help_text, **kwargs):
    low, high = value_range
    return field_class(
        required=False, allow_null=True, min_value=low, max_value=high, help_text=help_text,
        **kwargs,
    )


class GenerationParametersSerializer(serializers.Serializer):
    """The wish and how to fulfil it; every parameter but the wish is optional."""

    # Its length limit is the prompt module's (a setting), checked by the service.
    prompt = StrictCharField(
        help_text=_('The wish, in German, English or Dutch, e.g. "Was wäre, wenn hier ein See wäre?"'),
    )
    engine = StrictChoiceField(
        choices=ENGINE_NAMES, required=False, allow_null=True,
        help_text=_(
            "The engine; the server's default engine when left out (see /engines/). Only "
            "token clients, and visitors where the curators allow it, may choose another."
        ),
    )
    style = StrictChoiceField(
        choices=(), required=False, default="none", help_text=_("A style preset (see /styles/)."),
    )
    steps = _range_field(
        StrictIntegerField, GenerationSettings.STEPS_RANGE, _("Denoising steps.")
    )
    guidance = _range_field(
        StrictFloatField, GenerationSettings.GUIDANCE_RANGE, _("How closely to follow the wish.")
    )
    strength = _range_field(
        StrictFloatField, GenerationSettings.STRENGTH_RANGE,
        _("How much of the painted region to change."),
    )
    seed = _range_field(
        StrictIntegerField, GenerationSettings.SEED_RANGE,
        _("Fixes the randomness for a repeatable result."),
    )
    world = WorldField(
        queryset=World.objects.filter(visible=True), required=False, allow_null=True,
        help_text=_(
            "The World (map) to paint on, by id or slug (see /api/v1/worlds/): without "
            "`image`, the job paints on the World's map and only the mask travels; with "
            "`image`, it names the World the uploaded map came from."
        ),
    )
    base_job = BaseJobField(
        required=False, allow_null=True,
        help_text=_(
            "An earlier job of yours whose result to paint on, instead of `image`."
        ),
    )

    mask_box = MaskBoxField(
        required=False, allow_null=True,
        help_text=_(
            "Where the mask lies on the map, as x,y,width,height in the map's pixels (a "
            "string, or a list of four integers in JSON): send only the region you painted, "
            "at the map's resolution. Left out, the mask covers the whole map (at any "
            "resolution of the map's aspect)."
        ),
    )

    NO_MAP = _("Send a map, or name a World or an earlier job to paint on.")

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as problem:
            # A missing map is said with the other fields' problems, not after them.
            named = any(
                data.get(name) not in (None, "") for name in ("image", "world", "base_job")
            ) if hasattr(data, "get") else True
            if not named and isinstance(problem.detail, dict):
                problem.detail.setdefault("image", [serializers.ErrorDetail(
                    str(self.NO_MAP), code="no_map")])
            raise

    def validate(self, attrs):
        """One map: an upload (with `world`, the World it came from), a World, or an
        earlier result (whose World the new job keeps)."""
        if attrs.get("base_job") is not None:
            other = next((name for name in ("image", "world") if attrs.get(name) is not None), None)
            if other:
                raise serializers.ValidationError(
                    {other: [_("Send one map only: an image, a World or an earlier job.")]},
                    code="too_many_maps",
                )
        elif attrs.get("image") is None and attrs.get("world") is None:
            raise serializers.ValidationError(
                {"image": [self.NO_MAP]},
                code="no_map",
            )
        return attrs

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Style presets are looked up per request: they may come from settings.
        from inpainting_core.styles import style_choices

        self.fields["style"].choices = style_choices()

    def generation_settings(self) -> GenerationSettings:
        """The validated parameters as the one shape the service carries to the engine."""
        values = self.validated_data
        return GenerationSettings(
            style=values.get("style") or "none",
            steps=values.get("steps"),
            guidance=values.get("guidance"),
            strength=values.get("strength"),
            seed=values.get("seed"),
            engine=values.get("engine"),
        )


class JobUploadSerializer(GenerationParametersSerializer):
    """A new job as multipart/form-data."""

    image = UploadedPictureField(
        required=False, allow_null=True,
        help_text=_("The map, PNG, JPEG or WebP; leave it out to name a `world` or `base_job`."),
    )
    mask = UploadedPictureField(
        help_text=_("Where to repaint: strokes on transparency, or white on black.")
    )


class JobJsonSerializer(GenerationParametersSerializer):
    """A new job as JSON, the pictures as base64 text or data URLs."""

    image = EncodedPictureField(
        required=False, allow_null=True,
        help_text=_(
            "The map as base64 or a data URL (PNG, JPEG or WebP); leave it out to name a "
            "`world` or `base_job`."
        ),
    )
    mask = EncodedPictureField(
        help_text=_("The mask as base64 or a data URL: strokes on transparency, or white on black.")
    )


# --- answers -------------------------------------------------------------------------


class JobStateSerializer(JobState):
    """A snapshot of a job (`protocol.JobState`); `websocket_url` streams every change of it."""

    url = serializers.CharField()
    websocket_url = serializers.CharField()


class JobSummarySerializer(serializers.ModelSerializer):
    """One line of the curators' job list: no queue position, so no query per job."""

    url = serializers.SerializerMethodField()

    class Meta:
        model = InpaintJob
        fields = [
            "id", "status", "engine", "requested_engine", "style", "prompt_original",
            "error_message", "notice", "attempts", "worker", "created_at", "started_at",
            "finished_at", "url",
        ]

    def get_url(self, job) -> str:
        return job_links(job.pk)["url"]


class EngineSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    usable = serializers.BooleanField()
    reason = serializers.CharField(help_text=_("Why the engine cannot run now; empty if it can."))
    default = serializers.BooleanField()


class EngineListSerializer(serializers.Serializer):
    default = serializers.CharField(help_text=_("The engine used when a request names none."))
    engines = EngineSerializer(many=True)


class StyleSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """One error: `inpainting_core.problems.error_body`."""

    code = serializers.CharField(
        help_text=_("Stable, for programs: for example empty_mask, too_large, blocked, "
                    "throttled, not_found, unavailable.")
    )
    message = serializers.CharField(help_text=_("For people, in the request's language."))


class DetailSerializer(serializers.Serializer):
    """An error about the request as a whole."""

    detail = ErrorSerializer(many=True)
