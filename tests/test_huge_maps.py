"""Huge maps: wishes that send only what they painted, workers that read only the window a
wish needs from the map's lossless pyramid, results as regions, and `add_world` for big
scans (TIFF and BigTIFF included).

"Huge" is a setting (OLPE_HUGE_MAP_PIXELS, 8192² by default); here it is lowered so that
a small map takes the same path a 16384² scan takes (benchmarks/bench_huge_maps.py runs
that one). Jobs run through the real `run_job` task on the classic engine, inline through
django-q2's sync mode, against the real database and media storage.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
import pyvips
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django_q.conf import Conf
from PIL import Image
from rest_framework.test import APIClient

from gallery.creations import create_creation
from inpainting import huge_maps, tasks
from inpainting.models import InpaintJob
from inpainting_core import imaging, masks
from inpainting_core import pyramids as core_pyramids
from inpainting_core.map_cache import map_cache
from museum import pyramids
from museum import tasks as museum_tasks
from museum.models import World
from tests.errors import codes, message
from tests.test_big_maps import encoded
from tooling.demo import make_demo_map

pytestmark = pytest.mark.django_db(transaction=True)

Status = InpaintJob.Status
SIZE = (1280, 960)
WISH = "Was wäre, wenn hier ein See wäre?"
JOBS_URL = "/api/v1/jobs/"


def region_mask(box, painted) -> bytes:
    """A kiosk's mask of the region `box` (x, y, w, h of the map): strokes on transparency
    over `painted` (x0, y0, x1, y1 of the map), at the map's resolution."""
    x, y, w, h = box
    paint = np.zeros((h, w, 4), np.uint8)
    x0, y0, x1, y1 = painted
    paint[y0 - y:y1 - y, x0 - x:x1 - x] = (228, 65, 43, 255)
    return encoded(Image.fromarray(paint, "RGBA"))


@functools.cache
def demo_map() -> Image.Image:
    return make_demo_map(*SIZE, seed=21)


@functools.cache
def demo_png() -> bytes:
    return encoded(demo_map())


@pytest.fixture
def huge(settings, monkeypatch):
    """A 1280 × 960 World that counts as huge, its pyramid made as a worker makes it."""
    settings.LANGUAGE_CODE = "en"
    settings.OLPE_HUGE_MAP_PIXELS = 800 * 600
    monkeypatch.setattr(Conf, "SYNC", True)  # tasks (pyramid, jobs) run inline
    # The select tool's regions are another test's business (the last one here).
    monkeypatch.setattr(museum_tasks, "enqueue_segmentation", lambda world_id: None)
    map_cache().clear()
    picture = demo_map()
    world = World(name="Olpe 1830", slug="olpe-1830", kind=World.Kind.HISTORIC)
    world.image.save("olpe.png", ContentFile(demo_png()), save=False)
    world.save()
    assert pyramids.has_pyramid(world.image.name), "made on the worker when the World was saved"
    yield {"world": world, "pixels": np.asarray(picture)}
    map_cache().clear()


def wish(client, **fields):
    response = client.post(JOBS_URL, {"prompt": WISH, "engine": "classic", "seed": 5, **fields},
                           format="multipart")
    return response


def test_a_wish_on_a_huge_map_reads_and_repaints_only_its_window(huge, monkeypatch):
    world, pixels = huge["world"], huge["pixels"]
    read, decoded = [], []
    original_read = core_pyramids.Pyramid.read
    box, painted = (380, 240, 120, 96), (400, 260, 470, 320)
    client = APIClient()
    with monkeypatch.context() as spy:
        spy.setattr(core_pyramids.Pyramid, "read",
                    lambda self, box: read.append(box) or original_read(self, box))
        for module in (imaging, tasks):  # the worker's own name for it too
            spy.setattr(module, "open_image", lambda *a, **k: decoded.append(a) or 1 / 0)
        response = wish(client, world=world.pk, mask=io.BytesIO(region_mask(box, painted)),
                        mask_box="380,240,120,96")
    assert response.status_code == 202, response.json()
    job = InpaintJob.objects.get(pk=response.json()["id"])
    assert job.status == Status.SUCCEEDED, job.error_message
    assert job.mask_box == list(box)
    x, y, w, h = job.result_box
    assert read == [(x, y, x + w, y + h)], "the window, and nothing else of the map"
    assert not decoded, "the map is never decoded whole"
    assert abs(w / h - SIZE[0] / SIZE[1]) < 0.01, "the window has the map's aspect"
    assert x <= 400 and y <= 260 and x + w >= 470 and y + h >= 320

    state = client.get(f"{JOBS_URL}{job.pk}/").json()
    assert state["result_box"] == job.result_box
    result = np.asarray(Image.open(io.BytesIO(client.get(state["result_url"]).content)))
    before = np.asarray(Image.open(io.BytesIO(client.get(state["before_url"]).content)))
    assert result.shape == before.shape == (h, w, 3)
    assert np.array_equal(before, pixels[y:y + h, x:x + w]), "before: the map, exactly"
    changed = np.any(result != before, axis=2)
    rows, columns = np.nonzero(changed)
    feather = 8
    assert changed.any()
    assert columns.min() + x >= 400 - feather - 1 and columns.max() + x < 470 + feather + 1
    assert rows.min() + y >= 260 - feather - 1 and rows.max() + y < 320 + feather + 1

    # The repainted map: the World with the window laid over it.
    whole = huge_maps.read_result(job, (0, 0, *SIZE))
    assert np.array_equal(whole[y:y + h, x:x + w], result)
    outside = np.ones(SIZE[::-1], bool)
    outside[y:y + h, x:x + w] = False
    assert np.array_equal(whole[outside], pixels[outside])


def test_painting_on_a_region_result_reads_through_the_earlier_results(huge):
    world, pixels = huge["world"], huge["pixels"]
    client = APIClient()
    first = wish(client, world=world.pk, mask_box="40,40,100,80",
                 mask=io.BytesIO(region_mask((40, 40, 100, 80), (60, 50, 120, 100)))).json()
    second = wish(client, base_job=first["id"], mask_box="1100,820,100,80",
                  mask=io.BytesIO(region_mask((1100, 820, 100, 80), (1120, 840, 1180, 890)))).json()
    one, two = (InpaintJob.objects.get(pk=state["id"]) for state in (first, second))
    assert one.status == two.status == Status.SUCCEEDED, two.error_message
    assert two.result_box and two.result_box != one.result_box
    whole = huge_maps.read_result(two, (0, 0, *SIZE))
    assert np.array_equal(whole, huge_maps.read_result(two, (0, 0, *SIZE)))
    for job in (one, two):
        x, y, w, h = job.result_box
        window = np.asarray(Image.open(job.result_image.path))
        untouched_by_the_other = huge_maps.read_result(job, (x, y, x + w, y + h))
        assert np.array_equal(untouched_by_the_other, window)
    ox, oy, ow, oh = one.result_box
    assert not np.array_equal(whole[oy:oy + oh, ox:ox + ow], pixels[oy:oy + oh, ox:ox + ow]), \
        "the first wish is still in the map the second one repainted"


def test_a_creation_of_a_region_result_keeps_the_region_before_and_after(huge):
    world, pixels = huge["world"], huge["pixels"]
    client = APIClient()
    state = wish(client, world=world.pk, mask_box="200,150,160,120",
                 mask=io.BytesIO(region_mask((200, 150, 160, 120), (230, 170, 330, 250)))).json()
    job = InpaintJob.objects.get(pk=state["id"])
    creation = create_creation(job, title="Ein See")
    x, y, w, h = job.result_box
    before = np.asarray(Image.open(creation.before_image.path))
    after = np.asarray(Image.open(creation.after_image.path))
    assert np.array_equal(before, pixels[y:y + h, x:x + w])
    assert np.array_equal(after, np.asarray(Image.open(job.result_image.path)))


def test_wishes_on_a_huge_map_are_refused_when_they_cannot_be_painted(huge, settings):
    world = huge["world"]
    client = APIClient()
    outside = wish(client, world=world.pk, mask_box="1200,900,100,100",
                   mask=io.BytesIO(region_mask((0, 0, 100, 100), (10, 10, 50, 50))))
    assert outside.status_code == 400 and "mask_box" in outside.json()
    assert codes(outside, "mask_box") == ["bad_box"]
    assert "inside the map of 1280 × 960" in message(outside, "mask_box")
    for bad in ("1,2,3", "a,b,c,d", "-1,0,10,10", "1.5,0,10,10"):
        response = wish(client, world=world.pk, mask_box=bad,
                        mask=io.BytesIO(region_mask((0, 0, 100, 100), (10, 10, 50, 50))))
        assert response.status_code == 400 and "mask_box" in response.json(), bad
    aspect = wish(client, world=world.pk, mask_box="0,0,200,100",
                  mask=io.BytesIO(region_mask((0, 0, 100, 100), (10, 10, 50, 50))))
    assert aspect.status_code == 400 and "mask" in aspect.json()
    settings.OLPE_MAX_IMAGE_PIXELS = 150 * 150
    too_much = wish(client, world=world.pk, mask_box="0,0,320,240",
                    mask=io.BytesIO(region_mask((0, 0, 320, 240), (10, 10, 300, 230))))
    assert too_much.status_code == 400
    assert codes(too_much, "mask") == ["too_large"]
    assert "at most 150 × 150 pixels" in message(too_much, "mask")
    assert not InpaintJob.objects.exists(), "nothing is stored for a refused wish"


def test_a_mask_box_on_an_ordinary_map_paints_where_it_says(huge, settings):
    settings.OLPE_HUGE_MAP_PIXELS = 8192 * 8192  # the same World, now painted whole
    world, pixels = huge["world"], huge["pixels"]
    client = APIClient()
    state = wish(client, world=world.pk, mask_box="380,240,120,96",
                 mask=io.BytesIO(region_mask((380, 240, 120, 96), (400, 260, 470, 320)))).json()
    job = InpaintJob.objects.get(pk=state["id"])
    assert job.status == Status.SUCCEEDED and job.result_box is None and state["before_url"] is None
    result = np.asarray(Image.open(job.result_image.path))
    assert result.shape == pixels.shape
    rows, columns = np.nonzero(np.any(result != pixels, axis=2))
    assert columns.min() >= 400 - 9 and columns.max() < 470 + 9
    assert rows.min() >= 260 - 9 and rows.max() < 320 + 9


# --- the geometry ----------------------------------------------------------------------------


def test_a_mask_over_a_window_is_the_whole_mask_scaled_there():
    mask = np.zeros((60, 80), np.float32)
    mask[20:40, 30:50] = 1
    whole = masks.fit_mask(mask, (320, 240))
    placed = masks.mask_over(mask, (0, 0, 320, 240), (0, 0, 320, 240))
    assert np.abs(placed - whole).mean() < 0.01
    window = masks.mask_over(mask, (0, 0, 320, 240), (100, 60, 220, 180))
    assert np.array_equal(window, placed[60:180, 100:220])
    shifted = masks.mask_over(mask, (100, 100, 80, 60), (0, 0, 320, 240))
    assert np.array_equal(np.argwhere(shifted >= 0.5).min(axis=0), [120, 130])
    assert masks.painted_box(mask, (100, 100, 160, 120)) == (160, 140, 200, 180)


def test_the_window_holds_the_painted_region_with_context_at_the_maps_aspect():
    window = huge_maps.window_around((5000, 7000, 5400, 7300), (16384, 12288))
    x0, y0, x1, y1 = window
    assert x0 <= 5000 - 256 and y0 <= 7000 - 256 and x1 >= 5400 + 256 and y1 >= 7300 + 256
    assert abs((x1 - x0) / (y1 - y0) - 16384 / 12288) < 0.01
    assert huge_maps.window_around((0, 0, 50, 50), (1000, 800))[:2] == (0, 0), "kept inside"


# --- add_world --------------------------------------------------------------------------------


def vips_map(width: int, height: int) -> pyvips.Image:
    """A procedural map libvips makes without holding it (gradients and noise)."""
    xy = pyvips.Image.xyz(width, height)
    noise = pyvips.Image.gaussnoise(width, height, sigma=20, mean=128)
    return (xy[0] * 255 / width).bandjoin([xy[1] * 255 / height, noise]).cast("uchar")


@pytest.mark.parametrize("options", [{"bigtiff": False}, {"bigtiff": True}],
                         ids=["tiff", "bigtiff"])
def test_add_world_stores_a_tiff_scan_as_a_lossless_png(tmp_path, settings, options):
    settings.OLPE_HUGE_MAP_PIXELS = 200 * 200
    source = tmp_path / "scan.tif"
    scan = vips_map(600, 400)
    scan.tiffsave(str(source), tile=True, compression="lzw", **options)
    out = io.StringIO()
    call_command("add_world", str(source), "--name", "Urkarte 1830", stdout=out)
    slug = out.getvalue().strip().splitlines()[-1]
    world = World.objects.get(slug=slug)
    assert world.image.name.endswith(".png")
    assert np.array_equal(np.asarray(Image.open(world.image.path)), scan.numpy())
    assert "lossless PNG" in out.getvalue()


def test_add_world_refuses_scans_too_big_or_broken_with_the_reason(tmp_path, settings):
    settings.OLPE_HUGE_MAP_PIXELS = 200 * 200
    settings.OLPE_MAX_WORLD_PIXELS = 500 * 400
    big = tmp_path / "big.tif"
    vips_map(600, 400).tiffsave(str(big), tile=True)
    with pytest.raises(CommandError, match="600 × 400 pixels: at most 0.2 million"):
        call_command("add_world", str(big), "--name", "Zu groß", stdout=io.StringIO())
    broken = tmp_path / "broken.tif"
    data = (tmp_path / "whole.tif")
    vips_map(400, 300).tiffsave(str(data), compression="lzw")
    broken.write_bytes(data.read_bytes()[: len(data.read_bytes()) // 2])
    with pytest.raises(CommandError, match="damaged"):
        call_command("add_world", str(broken), "--name", "Kaputt", stdout=io.StringIO())
    truncated = tmp_path / "truncated.png"
    whole = encoded(make_demo_map(480, 300, seed=3))
    truncated.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(CommandError, match="incomplete or damaged"):
        call_command("add_world", str(truncated), "--name", "Halb", stdout=io.StringIO())
    assert not World.objects.exists()


def test_a_huge_png_world_is_checked_in_a_stream_and_cut_into_regions(tmp_path, settings,
                                                                       monkeypatch):
    settings.OLPE_HUGE_MAP_PIXELS = 200 * 200
    monkeypatch.setattr(Conf, "SYNC", True)
    source = tmp_path / "map.png"
    vips_map(600, 400).pngsave(str(source))
    out = io.StringIO()
    call_command("add_world", str(source), "--name", "Groß", stdout=out)
    world = World.objects.get(slug=out.getvalue().strip().splitlines()[-1])
    world.refresh_from_db()
    assert world.segmentation_is_current(), "regions from a shrunk copy read in a stream"
    assert pyramids.has_pyramid(world.image.name)


def test_a_huge_maps_admin_thumbnail_is_shrunk_in_a_stream(huge, settings, monkeypatch):
    from museum import thumbnails

    world = huge["world"]
    settings.OLPE_MAX_IMAGE_PIXELS = 400 * 300  # the World is bigger than an upload
    streamed = []
    original = core_pyramids.thumbnail
    monkeypatch.setattr(core_pyramids, "thumbnail",
                        lambda *args: streamed.append(args) or original(*args))
    data = thumbnails.render(world.image, side=240, quality=80)
    assert len(streamed) == 1, "libvips shrinks it, Pillow never decodes it whole"
    small = Image.open(io.BytesIO(data))
    assert small.format == "JPEG" and max(small.size) == 240
    expected = np.asarray(demo_map().resize(small.size, Image.Resampling.BOX), np.int16)
    assert np.abs(np.asarray(small, np.int16) - expected).mean() < 12
