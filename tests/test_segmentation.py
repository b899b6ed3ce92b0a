"""The regions of a map for the kiosk's select tool.

`inpainting_core.segmentation` against the demo map's known parcels (a field is
one region, its edges are the map's), a World's regions made on a worker when
its map is new or changed (`museum.tasks`), and the kiosk's endpoints that
serve them (`kiosk.regions`, `kiosk.views`). The select tool itself, in a
browser: tests/test_kiosk_browser.py.
"""

import io

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django_q.conf import Conf

from inpainting_core import landcover
from inpainting_core.segmentation import (
    SegmentationSettings,
    check_inputs,
    decode_labels,
    encode_labels,
    segment_map,
)
from museum.models import World
from tooling.demo import LABELS, make_demo_map, make_demo_regions

# The demo map at the size the test World uses: parcels of a few thousand pixels.
SIZE = (768, 512)


@pytest.fixture(scope="module")
def demo():
    image, cover = make_demo_map(*SIZE, return_labels=True)
    truth = make_demo_regions(*SIZE)
    regions = segment_map(image)
    return image, cover, truth, regions


def field_scores(cover, truth, labels) -> list[float]:
    """For each field parcel of a good size: the IoU of the region a tap in its middle selects."""
    scores = []
    field = LABELS.index(landcover.FIELD)
    for parcel in np.unique(truth):
        inside = truth == parcel
        if inside.sum() < 3000 or np.bincount(cover[inside]).argmax() != field:
            continue
        depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(np.argmax(depth), depth.shape)
        selected = labels == labels[y, x]
        scores.append((selected & inside).sum() / (selected | inside).sum())
    return scores


# Demo maps of several seeds: one random map is one sample of fields, and a threshold
# fitted to one sample breaks whenever the painters draw their noise differently.
DEMO_SEEDS = (57462, 1, 2, 3)


def test_a_tap_on_a_field_selects_that_field_along_its_edges(demo):
    _image, _cover, _truth, regions = demo
    assert regions.labels.shape == (SIZE[1], SIZE[0])  # under max_side: the map's own pixels
    scores = []
    for seed in DEMO_SEEDS:
        image, cover = make_demo_map(*SIZE, seed=seed, return_labels=True)
        scores += field_scores(cover, make_demo_regions(*SIZE, seed=seed), segment_map(image).labels)
    assert len(scores) >= 40
    # Measured over the four maps (80 fields): median IoU 0.53, 19 % of the fields 0.85 or
    # better. Many fields are one region; others share a region with a neighbour of the
    # same colour or are cut along a crop's change of tone.
    assert np.median(scores) >= 0.5, sorted(scores)
    assert sum(score >= 0.85 for score in scores) >= len(scores) * 0.15, sorted(scores)


def test_the_map_is_cut_into_tens_of_regions_not_pixels_nor_one(demo):
    _image, _cover, _truth, regions = demo
    assert 30 <= regions.count <= 400
    assert regions.count == len(np.unique(regions.labels))
    # the lake is one region, or nearly: a tap on it selects most of it
    water = make_demo_map(*SIZE, return_labels=True)[1] == LABELS.index(landcover.WATER)
    lake = cv2.morphologyEx(water.astype(np.uint8), cv2.MORPH_OPEN, np.ones((15, 15), np.uint8))
    depth = cv2.distanceTransform(lake, cv2.DIST_L2, 5)
    y, x = np.unravel_index(np.argmax(depth), depth.shape)
    selected = regions.labels == regions.labels[y, x]
    assert (selected & water).sum() / selected.sum() > 0.8  # the shore's shallows count as land
    assert (selected & (lake > 0)).sum() / lake.sum() > 0.6


def test_a_large_map_is_cut_at_a_bounded_resolution():
    image = make_demo_map(1536, 1024)
    regions = segment_map(image, SegmentationSettings(max_side=512))
    assert regions.labels.shape == (341, 512)
    assert regions.map_size == (1536, 1024)


def test_the_label_picture_keeps_every_id_exactly():
    labels = np.arange(65536, dtype=np.int32).reshape(256, 256)
    assert np.array_equal(decode_labels(encode_labels(labels)), labels)
    with pytest.raises(ValueError):
        encode_labels(np.full((4, 4), 70000))


def test_bad_inputs_and_settings_are_refused():
    with pytest.raises(ValueError):
        check_inputs(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        check_inputs(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError):
        segment_map(np.zeros((32, 32, 3), np.uint8), SegmentationSettings(max_side=10))
    grey = segment_map(np.full((64, 64), 128, np.uint8))
    assert grey.count == 1


# --- a World's regions, made on the worker ------------------------------------------------


def png(image) -> ContentFile:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())


@pytest.fixture
def run_tasks_now(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)  # async_task runs the task at once


@pytest.mark.django_db(transaction=True)
def test_a_new_world_gets_its_regions_and_a_changed_map_new_ones(run_tasks_now):
    world = World(slug="olpe", name="Olpe")
    world.image.save("map.png", png(make_demo_map(256, 192, seed=5)), save=False)
    world.save()  # committed: the worker task runs (synchronously here)
    world.refresh_from_db()
    assert world.segmentation_is_current()
    first = world.segmentation.name
    labels = decode_labels(world.segmentation.read())
    assert labels.shape == (192, 256) and labels.max() > 5

    world.name = "Olpe am See"
    world.save()  # the map did not change: nothing is cut again
    world.refresh_from_db()
    assert world.segmentation.name == first

    world.image.save("map.png", png(make_demo_map(320, 160, seed=6)), save=False)
    world.save()
    world.refresh_from_db()
    assert world.segmentation_is_current() and world.segmentation.name != first
    assert decode_labels(world.segmentation.read()).shape == (160, 320)
    assert not world.segmentation.storage.exists(first), "the old regions are removed"


@pytest.mark.django_db
def test_the_kiosk_serves_a_worlds_regions_once_they_are_made(client, django_capture_on_commit_callbacks):
    from museum.tasks import segment_world

    world = World(slug="olpe", name="Olpe")
    world.image.save("map.png", png(make_demo_map(128, 96, seed=7)), save=False)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        world.save()
    assert len(queued) == 1, "saving a World with a new map queues its regions"
    address = reverse("kiosk:world-regions", args=["olpe"])
    pending = client.get(address)
    assert pending.status_code == 202 and pending["Retry-After"] == "1"  # the kiosk asks again
    assert segment_world(world.pk) is True
    assert segment_world(world.pk) is False  # made once
    response = client.get(address)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    labels = decode_labels(b"".join(response.streaming_content))
    assert labels.shape == (96, 128)
    paint = client.get(reverse("kiosk:paint", args=["olpe"])).content.decode()
    assert address in paint


@pytest.mark.django_db
def test_a_result_gets_its_regions_on_demand_for_its_own_visit_only(client, monkeypatch):
    from kiosk import regions
    from museum import tasks as museum_tasks
    from tests.test_kiosk import finished_job, visit

    picture = png(make_demo_map(128, 96, seed=8)).read()
    world = World(slug="olpe", name="Olpe")
    world.image.save("map.png", ContentFile(picture), save=False)
    world.save()
    job = finished_job(picture, visit(client, world), world=world)
    queued = []
    monkeypatch.setattr(museum_tasks, "async_task", lambda *args, **kwargs: queued.append(args))
    address = reverse("kiosk:job-regions", args=[job.pk])
    first = client.get(address)
    assert first.status_code == 202 and first["Retry-After"] == "1"
    assert client.get(address).status_code == 202
    assert queued == [(regions.SEGMENT_RESULT_TASK, str(job.pk))], "queued once, not per request"
    assert regions.segment_result(str(job.pk)) is True
    response = client.get(address)
    assert response.status_code == 200
    assert decode_labels(b"".join(response.streaming_content)).shape == (96, 128)
    assert regions.result_regions_name(job).startswith(job.result_image.name[:-4])

    stranger = type(client)()
    assert stranger.get(address).status_code == 404


def drawn_map(cover, truth, seed=11):
    """A hand-drawn, historic-style map of the demo's layout: washed colours on paper,
    every parcel outlined in ink, water hatched, forest dotted, stains and grain."""
    rng = np.random.default_rng(seed)
    washes = {
        landcover.FIELD: (222, 200, 150), landcover.MEADOW: (196, 212, 160),
        landcover.FOREST: (120, 150, 100), landcover.WATER: (150, 185, 210),
        landcover.BUILDINGS: (190, 110, 90), landcover.ROAD: (235, 225, 205),
    }
    palette = np.array([washes.get(name, (230, 220, 195)) for name in LABELS], np.float32)
    picture = palette[cover]
    picture *= rng.uniform(0.93, 1.07, (int(truth.max()) + 1, 1)).astype(np.float32)[truth]
    height, width = cover.shape
    yy = np.mgrid[0:height, 0:width][0]
    water = cover == LABELS.index(landcover.WATER)
    picture[water & ((yy % 6) == 0)] *= 0.75  # hatching
    forest = cover == LABELS.index(landcover.FOREST)
    picture[forest & (rng.random(cover.shape) < 0.05)] *= 0.55  # tree dots
    ink = cv2.Laplacian(truth.astype(np.float32), cv2.CV_32F) != 0
    picture[ink] = (60, 50, 40)
    stains = cv2.GaussianBlur(rng.normal(0, 1, cover.shape).astype(np.float32), (0, 0), 40)
    picture *= (1 + 0.6 * stains / (np.abs(stains).max() + 1e-6))[..., None]
    picture += rng.normal(0, 6, picture.shape).astype(np.float32)
    return np.clip(picture, 0, 255).astype(np.uint8)


def test_a_drawn_map_is_cut_along_its_ink_lines(demo):
    _image, cover, truth, _regions = demo
    regions = segment_map(drawn_map(cover, truth))
    scores = []
    for parcel in np.unique(truth):
        inside = truth == parcel
        if inside.sum() < 3000:
            continue
        depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(np.argmax(depth), depth.shape)
        selected = regions.labels == regions.labels[y, x]
        scores.append((selected & inside).sum() / (selected | inside).sum())
    assert len(scores) >= 20
    assert np.median(scores) >= 0.6, sorted(scores)


@pytest.mark.django_db
def test_regions_of_a_map_replaced_meanwhile_are_dropped(monkeypatch, django_capture_on_commit_callbacks):
    from museum import tasks

    world = World(slug="olpe", name="Olpe")
    world.image.save("map.png", png(make_demo_map(128, 96, seed=9)), save=False)
    with django_capture_on_commit_callbacks(execute=False):
        world.save()
    real = tasks.segment_map

    def while_a_curator_uploads(picture):
        World.objects.filter(pk=world.pk).update(image="worlds/another.png")
        return real(picture)

    monkeypatch.setattr(tasks, "segment_map", while_a_curator_uploads)
    assert tasks.segment_world(world.pk) is False
    world.refresh_from_db()
    assert not world.segmentation and world.segmentation_source == ""
    storage = World._meta.get_field("segmentation").storage
    assert storage.listdir("worlds/regions")[1] == [], "the stale label picture is not kept"
