"""The worker's share of the museum: cutting each World's map into regions, and the tile
pyramids of big pictures.

The kiosk's select tool selects a region of the map with one tap, without a
round trip: it reads the World's label picture (`World.segmentation`, made by
`inpainting_core.segmentation`). Cutting a large map takes seconds, so it runs
on a django-q2 worker once per map: `World` rows are watched (connected in
`MuseumConfig.ready`), and a World whose picture has no current segmentation
is queued after its transaction commits.

A big picture (a World's map, a creation's pictures) is shown in deep zoom
from its tile pyramid (`museum/pyramids.py`), made here once: queued when a
World's map is new and when a creation is approved (`iiif/apps.py`), and
again by a request that finds none (a task that was lost). Maps too big to
read whole are cut into regions from a smaller copy libvips reads in a stream.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django_q.tasks import async_task
from PIL import Image

from inpainting_core import pyramids as core_pyramids
from inpainting_core.imaging import ImageProblem
from inpainting_core.segmentation import DEFAULT_MAX_SIDE as SEGMENTATION_SIDE
from inpainting_core.segmentation import segment_map
from museum import pyramids
from museum.models import World

log = logging.getLogger(__name__)

SEGMENT_WORLD_TASK = "museum.tasks.segment_world"
PYRAMID_TASK = "museum.tasks.make_pyramid"
# A second request within this time does not queue the same work again.
QUEUED_SECONDS = 120


def world_saved(sender, instance: World, raw=False, **kwargs) -> None:
    """Queue the regions and the pyramid of a World whose map is new or changed (not for
    fixtures' raw saves)."""
    if raw or not instance.image or instance.segmentation_is_current():
        return
    world_id, name = instance.pk, instance.image.name

    def queue():
        enqueue_segmentation(world_id)
        queue_pyramid(name)

    transaction.on_commit(queue)


def enqueue_segmentation(world_id: int) -> None:
    async_task(SEGMENT_WORLD_TASK, world_id, task_name=f"regions of world {world_id}")


def queue_once(key: str, task: str, *args, task_name: str) -> None:
    """Queue `task` unless the same `key` was queued within QUEUED_SECONDS: a kiosk asking
    again while the regions are being made does not queue the work twice."""
    if cache.add(key, True, QUEUED_SECONDS):
        async_task(task, *args, task_name=task_name)


def request_world_segmentation(world_id: int) -> None:
    """Queue the regions of a World that lacks them (one made before the select tool
    existed, or whose task was lost), at most once while a request is pending."""
    queue_once(f"museum:regions:{world_id}", SEGMENT_WORLD_TASK, world_id,
               task_name=f"regions of world {world_id}")


def queue_pyramid(name: str) -> None:
    """Queue the tile pyramid of the stored picture `name`, at most once while it is pending.

    The one place that says which cluster makes pyramids (work no visitor waits for).
    """
    queue_once(f"museum:pyramid:{name}", PYRAMID_TASK, name, task_name=f"pyramid of {name}")


def make_pyramid(name: str) -> bool:
    """The task: make the pyramid of the stored picture `name` if it needs one and has none."""
    try:
        return pyramids.make_pyramid(name)
    except FileNotFoundError:
        log.info("No pyramid for %s: the picture is gone", name)
    except ImageProblem as problem:
        log.warning("No pyramid for %s: %s", name, problem)
    return False


def regions_png(picture, what: str) -> bytes | None:
    """The label picture (PNG) of a stored map (a FieldFile), or None, logged, when it
    cannot be read; `what` names the map in the log. A huge map is read shrunk to the
    segmentation's size in a stream (libvips), never whole."""
    try:
        if pyramids.is_huge(pyramids.picture_size(picture.name, picture.storage)):
            small = core_pyramids.thumbnail(
                pyramids.local_path(picture.name, picture.storage), SEGMENTATION_SIDE * 2)
            return segment_map(small).to_png()
        with picture.open("rb") as handle, Image.open(handle) as opened:
            return segment_map(opened.convert("RGB")).to_png()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("The map of %s could not be cut into regions: %s", what, error)
        return None


def world_map_replaced(sender, instance: World, raw=False, **kwargs) -> None:
    """A World's map that is replaced takes its pyramid along (after commit)."""
    if raw or instance.pk is None:
        return
    old = World.objects.filter(pk=instance.pk).values_list("image", flat=True).first()
    if old and old != instance.image.name:
        transaction.on_commit(lambda: pyramids.delete_pyramid(old))


def world_deleted(sender, instance: World, **kwargs) -> None:
    """A deleted World's map keeps its file (jobs refer to it), but not its pyramid."""
    if instance.image:
        name = instance.image.name
        transaction.on_commit(lambda: pyramids.delete_pyramid(name))


def connect() -> None:
    post_save.connect(world_saved, sender=World, dispatch_uid="museum.tasks.world_saved")
    pre_save.connect(world_map_replaced, sender=World, dispatch_uid="museum.tasks.map_replaced")
    post_delete.connect(world_deleted, sender=World, dispatch_uid="museum.tasks.world_deleted")


def segment_world(world_id: int) -> bool:
    """Cut the World's map into regions and keep the label picture with it.

    Returns whether a new segmentation was stored. A map replaced while this ran
    keeps its own (queued by its save): the result for the old one is dropped.
    """
    world = World.objects.filter(pk=world_id).first()
    if world is None or not world.image or world.segmentation_is_current():
        return False
    source = world.image.name
    png = regions_png(world.image, f"world {world_id}")
    if png is None:
        return False
    old = world.segmentation.name if world.segmentation else ""
    field = World._meta.get_field("segmentation")
    name = field.storage.save(field.generate_filename(world, "regions.png"), ContentFile(png))
    updated = World.objects.filter(pk=world_id, image=source).update(
        segmentation=name, segmentation_source=source)
    storage = field.storage
    if not updated:
        storage.delete(name)
        return False
    if old and old != name:
        storage.delete(old)
    log.info("World %s: regions stored", world_id)
    return True
