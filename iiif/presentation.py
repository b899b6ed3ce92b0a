"""IIIF Presentation API 3.0 documents: a manifest per approved creation and per visible
World, and the gallery as a collection, built with iiif-prezi3.

A creation's manifest has one canvas, the size of its pictures, painted with a
`Choice` of two images: the after picture first (what a viewer shows), the
before picture as the alternative. Each image carries its Image API service
(`views.image`), so viewers show it in deep zoom. Labels and everything the
museum says are given in German and English; what a visitor typed (a title, a
wish) and names are given as they are, without a language (`none`), as are
curators' texts about a World (German, the museum's language).

The gallery's collection (`/iiif/3/collection.json`) lists the Worlds'
manifests and then the creations in pages of OLPE_IIIF_COLLECTION_PAGE
(`/iiif/3/collection/<n>.json`), in the gallery's order: featured first,
newest first.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from django.urls import reverse
from django.utils import formats, translation
from django.utils.translation import gettext as _
from iiif_prezi3 import (
    Annotation,
    AnnotationBody,
    AnnotationPage,
    Canvas,
    Choice,
    Collection,
    CollectionRef,
    Homepage,
    KeyValueString,
    LinkedResource,
    Manifest,
    ManifestRef,
    Provider,
    ServiceV3,
)

from gallery.qr import absolute_url
from iiif import image_api
from iiif.published import Picture, approved_creations, creation_picture, visible_worlds
from inpainting_core.pyramids import FORMATS

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
LANGUAGES = ("de", "en")
MUSEUM = "Stadtmuseum Olpe"
THUMBNAIL_SIDE = 480
JPEG = FORMATS["jpg"]


def in_languages(make) -> dict:
    """A IIIF language map of what `make()` says in each of LANGUAGES (German first)."""
    texts = {}
    for language in LANGUAGES:
        with translation.override(language):
            texts[language] = [str(make())]
    return texts


def as_is(*texts) -> dict:
    """A language map of text in no known language: a visitor's words, names."""
    return {"none": [str(text) for text in texts if text]}


def pair(label, value: dict) -> KeyValueString:
    return KeyValueString(label=in_languages(label), value=value)


def date_values(moment) -> dict:
    def local():
        return formats.date_format(moment, "DATE_FORMAT")

    return in_languages(local)


# --- pieces every document shares ---------------------------------------------------------


def museum_statement() -> KeyValueString:
    return pair(lambda: _("Attribution"), as_is(MUSEUM))


def provider(request) -> Provider:
    home = absolute_url(request, reverse("gallery:index"))
    return Provider(
        id=home, type="Agent", label=as_is(MUSEUM),
        homepage=[Homepage(id=home, type="Text", format="text/html",
                           label=in_languages(lambda: _("The gallery of the Stadtmuseum Olpe")))],
    )


def image_service(request, base_path: str) -> ServiceV3:
    return ServiceV3(id=absolute_url(request, base_path), type="ImageService3",
                     profile=image_api.PROFILE)


def image_body(request, base_path: str, size: tuple[int, int], label=None) -> AnnotationBody:
    """The picture as a whole, as big as the Image API gives it, with its service."""
    width, height = image_api.Limits(settings.OLPE_IIIF_MAX_SIDE).fit(size, upscale=False)
    return AnnotationBody(
        id=absolute_url(request, f"{base_path}/full/max/0/default.jpg"), type="Image",
        format=JPEG, width=width, height=height, service=[image_service(request, base_path)],
        **({"label": in_languages(label)} if label else {}),
    )


def thumbnail(request, base_path: str, size: tuple[int, int]) -> AnnotationBody:
    width, height = image_api.Limits(THUMBNAIL_SIDE).fit(size, upscale=False)
    return AnnotationBody(
        id=absolute_url(request, f"{base_path}/full/{width},{height}/0/default.jpg"),
        type="Image", format=JPEG, width=width, height=height,
        service=[image_service(request, base_path)],
    )


def painted_canvas(manifest_id: str, size: tuple[int, int], body, label: dict) -> Canvas:
    canvas_id = f"{manifest_id}/canvas/1"
    return Canvas(
        id=canvas_id, type="Canvas", label=label, width=size[0], height=size[1],
        items=[AnnotationPage(id=f"{canvas_id}/page", type="AnnotationPage", items=[
            Annotation(id=f"{canvas_id}/page/painting", type="Annotation", motivation="painting",
                       target=canvas_id, body=body),
        ])],
    )


def homepage(request, path: str, label) -> Homepage:
    """A page of the site about the resource (German and English)."""
    return Homepage(id=absolute_url(request, path), type="Text", format="text/html",
                    language=list(LANGUAGES), label=in_languages(label))


def rest_json(request, path: str, label) -> LinkedResource:
    """The resource in the museum's REST API (`seeAlso`)."""
    return LinkedResource(id=absolute_url(request, path), type="Dataset",
                          format="application/json", label=in_languages(label))


def collection_ref(request) -> dict:
    return {"id": absolute_url(request, reverse("iiif:collection")), "type": "Collection",
            "label": collection_label()}


def collection_label() -> dict:
    return in_languages(lambda: _("Alternative world stories: the gallery of the Stadtmuseum Olpe"))


def dumped(document) -> dict:
    """The document as JSON data, as iiif-prezi3 writes it (with its @context)."""
    return json.loads(document.json())


# --- creations ----------------------------------------------------------------------------


def creation_title(creation) -> str:
    return creation.title or creation.prompt_original


def creation_manifest(request, slug: str) -> dict | None:
    """The manifest of an approved creation, or None."""
    creation = approved_creations().filter(slug=slug).first()
    after, before = creation_picture(slug, "after"), creation_picture(slug, "before")
    if creation is None or after is None or before is None:
        return None
    try:
        after_size, before_size = after.size, before.size
    except FileNotFoundError:
        return None
    manifest_id = absolute_url(request, reverse("iiif:creation-manifest", args=[slug]))
    after_path = reverse("iiif:creation-image", args=[slug, "after"])
    before_path = reverse("iiif:creation-image", args=[slug, "before"])
    world = creation.world
    metadata = [pair(lambda: _("Wish"), as_is(creation.prompt_original))]
    if creation.prompt_translated and creation.prompt_translated != creation.prompt_original:
        metadata.append(pair(lambda: _("Wish in English"), {"en": [creation.prompt_translated]}))
    if world is not None:
        metadata.append(pair(lambda: _("World"), as_is(world.name)))
    if creation.visitor_name:  # only with the visitor's consent (gallery.creations)
        metadata.append(pair(lambda: _("Painted by"), as_is(creation.visitor_name)))
    metadata.append(pair(lambda: _("Date"), date_values(creation.created_at)))

    def summary():
        date = formats.date_format(creation.created_at, "DATE_FORMAT")
        if world is None:
            return _("A visitor's wish at the Stadtmuseum Olpe: “%(wish)s”, painted on "
                     "%(date)s.") % {"wish": creation.prompt_original, "date": date}
        return _("A visitor's wish at the Stadtmuseum Olpe: “%(wish)s”, painted on the map "
                 "“%(world)s” on %(date)s.") % {
                     "wish": creation.prompt_original, "world": world.name, "date": date}

    manifest = Manifest(
        id=manifest_id, type="Manifest", label=as_is(creation_title(creation)),
        summary=in_languages(summary), metadata=metadata,
        requiredStatement=museum_statement(), rights=settings.OLPE_IIIF_RIGHTS,
        navDate=creation.created_at.isoformat(), provider=[provider(request)],
        thumbnail=[thumbnail(request, after_path, after_size)],
        homepage=[homepage(request, reverse("gallery:creation", args=[slug]),
                           lambda: _("The creation's page in the gallery"))],
        seeAlso=[rest_json(request, reverse("gallery:api:creation-detail", args=[slug]),
                           lambda: _("The creation in the museum's REST API"))],
        partOf=[collection_ref(request)],
        items=[painted_canvas(
            manifest_id, after_size,
            Choice(items=[
                image_body(request, after_path, after_size, lambda: _("After")),
                image_body(request, before_path, before_size, lambda: _("Before")),
            ]),
            in_languages(lambda: _("Before and after")),
        )],
    )
    return dumped(manifest)


# --- Worlds -------------------------------------------------------------------------------


def world_manifest(request, slug: str) -> dict | None:
    """The manifest of a visible World's map, or None."""
    world = visible_worlds().filter(slug=slug).first()
    if world is None:
        return None
    try:
        size = Picture(world.image).size
    except FileNotFoundError:
        return None
    manifest_id = absolute_url(request, reverse("iiif:world-manifest", args=[slug]))
    image_path = reverse("iiif:world-image", args=[slug])
    metadata = [pair(lambda: _("Kind of map"), in_languages(world.get_kind_display))]
    if world.map_date:
        metadata.append(pair(lambda: _("Date of the map"), as_is(world.map_date)))
    if world.metres_per_pixel:
        metadata.append(pair(lambda: _("Ground resolution"), in_languages(
            lambda: _("%(metres)s metres per pixel") % {
                "metres": formats.localize(world.metres_per_pixel)})))
    summary = (as_is(world.description) if world.description else in_languages(
        lambda: _("A map visitors of the Stadtmuseum Olpe paint their wishes on.")))
    manifest = Manifest(
        id=manifest_id, type="Manifest", label=as_is(world.name), summary=summary,
        metadata=metadata, requiredStatement=museum_statement(), rights=settings.OLPE_IIIF_RIGHTS,
        provider=[provider(request)], thumbnail=[thumbnail(request, image_path, size)],
        homepage=[homepage(request, reverse("gallery:index") + f"?world={world.slug}",
                           lambda: _("Creations on this map in the gallery"))],
        seeAlso=[rest_json(request, reverse("gallery:api:world-detail", args=[slug]),
                           lambda: _("The map in the museum's REST API"))],
        partOf=[collection_ref(request)],
        items=[painted_canvas(manifest_id, size, image_body(request, image_path, size),
                              as_is(world.name))],
    )
    return dumped(manifest)


# --- the gallery as a collection ------------------------------------------------------------


def page_size() -> int:
    return max(1, int(settings.OLPE_IIIF_COLLECTION_PAGE))


def gallery_collection(request, page: int | None = None) -> dict | None:
    """The gallery's collection (`page` None: its first level) or one page of it, or None
    for a page that does not exist."""
    creations = approved_creations()
    pages = max(1, math.ceil(creations.count() / page_size()))
    top_id = absolute_url(request, reverse("iiif:collection"))
    if page is None:
        collection = Collection(
            id=top_id, type="Collection", label=collection_label(),
            summary=in_languages(lambda: _(
                "Visitors of the Stadtmuseum Olpe paint a place on a map of Olpe, make a wish, "
                "and an AI repaints it. Curators choose what the gallery shows.")),
            requiredStatement=museum_statement(), rights=settings.OLPE_IIIF_RIGHTS,
            provider=[provider(request)],
            items=[CollectionRef(id=absolute_url(request, reverse("iiif:worlds")), type="Collection",
                                 label=in_languages(lambda: _("The maps")))]
            + [CollectionRef(
                id=absolute_url(request, reverse("iiif:collection-page", args=[number])),
                type="Collection",
                label=in_languages(lambda number=number: _("Creations, page %(page)s of %(pages)s")
                                   % {"page": number, "pages": pages}),
            ) for number in range(1, pages + 1)],
        )
        return dumped(collection)
    if not 1 <= page <= pages:
        return None
    chosen = creations[(page - 1) * page_size(): page * page_size()]
    collection = Collection(
        id=absolute_url(request, reverse("iiif:collection-page", args=[page])), type="Collection",
        label=in_languages(lambda: _("Creations, page %(page)s of %(pages)s")
                           % {"page": page, "pages": pages}),
        requiredStatement=museum_statement(), rights=settings.OLPE_IIIF_RIGHTS,
        partOf=[{"id": top_id, "type": "Collection"}],
        items=[manifest_ref(request, creation) for creation in chosen],
    )
    return dumped(collection)


def manifest_ref(request, creation) -> ManifestRef:
    after_path = reverse("iiif:creation-image", args=[creation.slug, "after"])
    thumbnail_url = absolute_url(
        request, f"{after_path}/full/!{THUMBNAIL_SIDE},{THUMBNAIL_SIDE}/0/default.jpg")
    return ManifestRef(
        id=absolute_url(request, reverse("iiif:creation-manifest", args=[creation.slug])),
        type="Manifest", label=as_is(creation_title(creation)),
        thumbnail=[AnnotationBody(id=thumbnail_url, type="Image", format=JPEG)],
    )


def worlds_collection(request) -> dict:
    collection = Collection(
        id=absolute_url(request, reverse("iiif:worlds")), type="Collection",
        label=in_languages(lambda: _("The maps")),
        requiredStatement=museum_statement(), rights=settings.OLPE_IIIF_RIGHTS,
        partOf=[{"id": absolute_url(request, reverse("iiif:collection")), "type": "Collection"}],
        items=[ManifestRef(
            id=absolute_url(request, reverse("iiif:world-manifest", args=[world.slug])),
            type="Manifest", label=as_is(world.name),
        ) for world in visible_worlds()],
    )
    return dumped(collection)
