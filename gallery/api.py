"""The gallery's REST API: approved creations and visible Worlds, read-only, for anyone.

Mounted at `/api/v1/gallery/` and `/api/v1/worlds/` (names `gallery:api:...`),
throttled like the rest of the API. It shows exactly what the public pages
show, also to curators: what is pending or rejected stays in admin.
"""

from __future__ import annotations

from typing import Optional

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination

from gallery.models import Creation
from gallery.views import public_creations
from inpainting.api.serializers import DetailSerializer
from inpainting.protocol import FrameSerializer
from inpainting.api.views import ApiView
from inpainting_core.framing import Frame
from museum.models import World


def absolute(request, path: str) -> str:
    """A full address when the request is known (API clients often live elsewhere)."""
    return request.build_absolute_uri(path) if request is not None else path


# --- serializers ------------------------------------------------------------------------


class WorldSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = World
        fields = ["id", "slug", "name", "kind"]


class WorldSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = World
        fields = ["id", "slug", "name", "kind", "description", "map_date", "editable", "order",
                  "image_url"]

    def get_image_url(self, world) -> str:
        path = reverse("gallery:world-image", args=[world.slug])
        return absolute(self.context.get("request"), path)


class CreationSerializer(serializers.ModelSerializer):
    """A published creation; the visitor's first name only if they agreed to show it."""

    visitor_name = serializers.SerializerMethodField(
        help_text=_("The visitor's first name; empty unless they agreed to show it."),
    )
    wish = serializers.CharField(
        source="prompt_original", help_text=_("The visitor's wish as typed."),
    )
    wish_translated = serializers.CharField(
        source="prompt_translated", help_text=_("The wish in English, if it was translated."),
    )
    world = WorldSummarySerializer(allow_null=True)
    created = serializers.DateTimeField(source="created_at")
    url = serializers.SerializerMethodField(
        help_text=_("The creation's page (what its QR code opens)."),
    )
    before_url = serializers.SerializerMethodField()
    after_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField(
        help_text=_("A small JPEG of the after picture, framed on the change."),
    )
    thumbnail_before_url = serializers.SerializerMethodField(
        help_text=_("A small JPEG of the before picture, framed on the change."),
    )
    frame = serializers.SerializerMethodField(
        help_text=_("Where the after picture differs from the before picture, and the part "
                    "of the map the thumbnails show."),
    )
    frame_before_url = serializers.SerializerMethodField(
        help_text=_("The before picture's frame at full resolution (JPEG)."),
    )
    frame_after_url = serializers.SerializerMethodField(
        help_text=_("The after picture's frame at full resolution (JPEG)."),
    )
    postcard_url = serializers.SerializerMethodField(
        help_text=_("A share picture: before and after side by side, the title, the wish, "
                    "the museum and the date (JPEG, 1200 × 630)."),
    )
    qr_url = serializers.SerializerMethodField(help_text=_("A QR code of the page, as SVG."))

    class Meta:
        model = Creation
        fields = [
            "slug", "title", "visitor_name", "wish", "wish_translated", "world", "engine",
            "created", "featured", "url", "before_url", "after_url", "thumbnail_url",
            "thumbnail_before_url", "frame", "frame_before_url", "frame_after_url",
            "postcard_url", "qr_url",
        ]

    def _link(self, name: str, creation) -> str:
        return absolute(self.context.get("request"), reverse(name, args=[creation.slug]))

    def get_visitor_name(self, creation) -> str:
        return creation.visitor_name if creation.consent else ""

    def get_url(self, creation) -> str:
        return self._link("gallery:creation", creation)

    def get_before_url(self, creation) -> str:
        return self._link("gallery:before", creation)

    def get_after_url(self, creation) -> str:
        return self._link("gallery:after", creation)

    def get_thumbnail_url(self, creation) -> str:
        return self._link("gallery:thumb", creation)

    def get_thumbnail_before_url(self, creation) -> str:
        return self._link("gallery:thumb-before", creation)

    @extend_schema_field(FrameSerializer(allow_null=True))
    def get_frame(self, creation) -> Optional[dict]:
        frame = Frame.from_dict(creation.frame)
        return frame.as_dict() if frame else None

    def get_frame_before_url(self, creation) -> str:
        return self._link("gallery:frame-before", creation)

    def get_frame_after_url(self, creation) -> str:
        return self._link("gallery:frame-after", creation)

    def get_postcard_url(self, creation) -> str:
        return self._link("gallery:postcard", creation)

    def get_qr_url(self, creation) -> str:
        return self._link("gallery:qr", creation)


# --- views ------------------------------------------------------------------------------


class GalleryPagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


NOT_FOUND = OpenApiResponse(DetailSerializer, description="No such creation, or not public.")
WORLD_FILTER = OpenApiParameter(
    "world", OpenApiTypes.STR, description="Only creations made on the World with this slug.",
)
FEATURED_FILTER = OpenApiParameter(
    "featured", OpenApiTypes.BOOL,
    description="Only featured (true) or only other (false) creations.",
)


@extend_schema_view(
    get=extend_schema(
        summary="Published creations, featured first, newest first",
        parameters=[WORLD_FILTER, FEATURED_FILTER],
    )
)
class CreationListView(ApiView, generics.ListAPIView):
    serializer_class = CreationSerializer
    pagination_class = GalleryPagination

    def get_queryset(self):
        creations = public_creations()
        world = self.request.query_params.get("world")
        if world:
            creations = creations.filter(world__slug=world)
        featured = self.request.query_params.get("featured")
        if featured in ("true", "1"):
            creations = creations.filter(featured=True)
        elif featured in ("false", "0"):
            creations = creations.filter(featured=False)
        return creations


@extend_schema_view(
    get=extend_schema(
        summary="One published creation", responses={200: CreationSerializer, 404: NOT_FOUND},
    )
)
class CreationDetailView(ApiView, generics.RetrieveAPIView):
    serializer_class = CreationSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return public_creations()


@extend_schema_view(get=extend_schema(summary="Visible Worlds: maps and scenarios to start from"))
class WorldListView(ApiView, generics.ListAPIView):
    serializer_class = WorldSerializer
    pagination_class = None  # a handful, curated

    def get_queryset(self):
        return World.objects.filter(visible=True)


@extend_schema_view(
    get=extend_schema(
        summary="One visible World",
        responses={200: WorldSerializer,
                   404: OpenApiResponse(DetailSerializer, description="No such visible World.")},
    )
)
class WorldDetailView(ApiView, generics.RetrieveAPIView):
    serializer_class = WorldSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return World.objects.filter(visible=True)
