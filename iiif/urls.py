"""Routes of the IIIF APIs, mounted at /iiif/ (names `iiif:...`): version 3 under 3/,
and a viewer page.

Image services (Image API 3.0): `image/worlds/<slug>` and
`image/creations/<slug>/<before|after>`, each with `info.json` and
`{region}/{size}/{rotation}/{quality}.{format}`; presentation (Presentation
API 3.0): `worlds/<slug>/manifest.json`, `creations/<slug>/manifest.json`,
`collection.json`, `collection/<n>.json` and `worlds.json`.
"""

from django.urls import path, register_converter

from iiif import views

app_name = "iiif"


class Segment:
    """One segment of an image request (a region, size or rotation): no slash."""

    regex = r"[^/]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(Segment, "iiif")

IMAGE = "<iiif:region>/<iiif:size>/<iiif:rotation>/<slug:quality>.<slug:format>"


def image_routes(prefix: str, name: str, **fixed):
    return [
        path(prefix, views.image_base, fixed, name=name),
        path(f"{prefix}/info.json", views.image_info, fixed, name=f"{name}-info"),
        path(f"{prefix}/{IMAGE}", views.image, fixed, name=f"{name}-request"),
    ]


urlpatterns = [
    *image_routes("3/image/worlds/<slug:slug>", "world-image", kind="world"),
    *image_routes("3/image/creations/<slug:slug>/<slug:which>", "creation-image", kind="creation"),
    path("3/worlds/<slug:slug>/manifest.json", views.world_manifest, name="world-manifest"),
    path("3/creations/<slug:slug>/manifest.json", views.creation_manifest,
         name="creation-manifest"),
    path("3/collection.json", views.collection, name="collection"),
    path("3/collection/<int:page>.json", views.collection, name="collection-page"),
    path("3/worlds.json", views.worlds, name="worlds"),
    path("viewer/", views.viewer, name="viewer"),
]
