"""Big maps fast: wishes on a World's map or an earlier result by reference, uploads stored
as they came, the worker's cache of decoded Worlds, and `manage.py add_world`.

Jobs run through the real `run_job` task on the offline classic engine, inline
through django-q2's sync mode, against the real database and media storage.
"""

import io
import struct
import zlib
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db.models import ProtectedError
from django.utils import timezone
from django_q.conf import Conf
from PIL import Image
from rest_framework.test import APIClient

from inpainting.models import InpaintJob
from inpainting_core.map_cache import MapCache, image_bytes, map_cache
from museum.models import World
from tooling.demo import make_demo_map
from tests.errors import codes, message

# Jobs are queued on commit, and inline jobs run then: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

Status = InpaintJob.Status
WIDTH, HEIGHT = 256, 192
PAINTED = (slice(60, 120), slice(90, 170))  # rows, columns
WISH = "Was wäre, wenn hier ein See wäre?"
JOBS_URL = "/api/v1/jobs/"


def encoded(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def stroke_mask(width=WIDTH, height=HEIGHT) -> bytes:
    paint = np.zeros((height, width, 4), dtype=np.uint8)
    rows = slice(PAINTED[0].start * height // HEIGHT, PAINTED[0].stop * height // HEIGHT)
    columns = slice(PAINTED[1].start * width // WIDTH, PAINTED[1].stop * width // WIDTH)
    paint[rows, columns] = (255, 0, 0, 255)
    return encoded(Image.fromarray(paint, "RGBA"))


@pytest.fixture
def world_map():
    return make_demo_map(width=WIDTH, height=HEIGHT, seed=7)


@pytest.fixture
def world(world_map):
    world = World(name="Olpe 1830", slug="olpe-1830", kind=World.Kind.HISTORIC)
    world.image.save("olpe.png", ContentFile(encoded(world_map)), save=False)
    world.save()
    return world


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"  # answers and stored reasons, unless a client asks for German


@pytest.fixture
def inline(monkeypatch):
    """The worker task runs inside the request (django-q2 sync mode), as in a worker."""
    monkeypatch.setattr(Conf, "SYNC", True)
    map_cache().clear()
    yield
    map_cache().clear()


@pytest.fixture
def queued(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)


def post(client, **fields):
    fields = {"prompt": WISH, "engine": "classic", "seed": "3", "mask": stroke_mask(), **fields}
    files = {
        name: ContentFile(value, name=f"{name}.bin") if isinstance(value, bytes) else value
        for name, value in fields.items()
    }
    return client.post(JOBS_URL, files, format="multipart")


def picture(field_file) -> np.ndarray:
    with field_file.open("rb") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def far_from_paint(shape) -> np.ndarray:
    """Pixels farther than the feather band (OLPE_FEATHER_PX, 8) from the painted stroke."""
    keep = np.ones(shape[:2], bool)
    rows, columns = PAINTED
    keep[max(0, rows.start - 20) : rows.stop + 20, max(0, columns.start - 20) : columns.stop + 20] = False
    return keep


# --- by reference: a World's map ----------------------------------------------------------


@pytest.mark.parametrize("named_by", ["id", "slug"])
def test_a_wish_on_a_world_stores_no_copy_and_paints_on_its_map(
    named_by, world, world_map, inline
):
    client = APIClient()
    response = post(client, world=str(world.pk) if named_by == "id" else world.slug)

    assert response.status_code == 202, response.content[:300]
    job = InpaintJob.objects.get(pk=response.json()["id"])
    assert job.status == Status.SUCCEEDED, job.error_message
    assert not job.input_image  # no copy of the map
    assert (job.painted_world, job.world, job.base_job) == (world, world, None)
    assert job.source_picture.name == world.image.name
    before, after = np.asarray(world_map), picture(job.result_image)
    keep = far_from_paint(before.shape)
    assert np.array_equal(after[keep], before[keep])  # outside the wish: byte-identical
    assert not np.array_equal(after[PAINTED], before[PAINTED])
    # The result is served as the PNG the API promises.
    result = client.get(client.get(response.json()["url"]).json()["result_url"])
    assert result.status_code == 200 and result.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_worker_decodes_a_world_once(world, inline):
    """Decoded once, and compressed in bands once: later results reuse the bands."""
    client = APIClient()
    cache = map_cache()
    for _ in range(2):
        assert post(client, world=world.slug).status_code == 202
    assert (cache.misses, cache.hits, len(cache)) == (2, 2, 2)  # the map and its bands
    assert InpaintJob.objects.filter(status=Status.SUCCEEDED).count() == 2
    first, second = (picture(job.result_image) for job in InpaintJob.objects.order_by("pk"))
    assert np.array_equal(first, second)  # the same wish and seed, whether the bands were new or kept


def test_a_world_replaced_by_a_curator_is_read_anew(world, inline):
    client = APIClient()
    assert post(client, world=world.slug).status_code == 202
    world.image.save("new.png", ContentFile(encoded(make_demo_map(WIDTH, HEIGHT, seed=9))))
    assert post(client, world=world.slug).status_code == 202
    assert map_cache().misses == 4  # the map and its bands, read and compressed anew
    job = InpaintJob.objects.latest("pk")
    assert not np.array_equal(picture(job.result_image)[:40], np.asarray(make_demo_map(WIDTH, HEIGHT))[:40])


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        pytest.param({"world": "atlantis"}, "world", "does_not_exist", id="unknown"),
        pytest.param({"world": "999"}, "world", "does_not_exist", id="unknown id"),
        pytest.param({}, "image", "no_map", id="no map"),
    ],
)
def test_refused_references_are_400s_with_reasons(fields, field, code, world, queued):
    response = post(APIClient(), **fields)
    assert response.status_code == 400
    assert codes(response, field) == [code]
    assert not InpaintJob.objects.exists()


def test_a_world_that_may_only_be_viewed_is_refused_in_german(world, queued):
    World.objects.filter(pk=world.pk).update(editable=False)
    client = APIClient(HTTP_ACCEPT_LANGUAGE="de")
    response = post(client, world=world.slug)
    assert response.status_code == 400
    assert codes(response, "world") == ["view_only"]
    assert message(response, "world") == "Diese Karte kann nur angesehen, nicht bemalt werden."
    response = post(client, world="atlantis")
    assert message(response, "world") == "Es gibt keine Welt „atlantis“."
    response = post(client, base_job="0b7c8a5e-4a4e-4a57-9d43-2f5b1bbfa2f1")
    assert message(response, "base_job") == "Diesen früheren Auftrag gibt es nicht."


def test_a_hidden_world_is_unknown(world, queued):
    World.objects.filter(pk=world.pk).update(visible=False)
    assert post(APIClient(), world=world.slug).status_code == 400


def test_a_mask_for_another_map_is_refused(world, queued):
    response = post(APIClient(), world=world.slug, mask=stroke_mask(300, 100))
    assert response.status_code == 400 and "mask" in response.json()


def test_a_mask_at_the_screens_size_is_fitted_to_the_world(world, world_map, inline):
    response = post(APIClient(), world=world.slug, mask=stroke_mask(WIDTH // 2, HEIGHT // 2))
    job = InpaintJob.objects.get(pk=response.json()["id"])
    assert job.status == Status.SUCCEEDED
    assert picture(job.result_image).shape == np.asarray(world_map).shape


def test_a_world_cannot_be_deleted_while_a_job_paints_on_it(world, inline):
    post(APIClient(), world=world.slug)
    with pytest.raises(ProtectedError):
        world.delete()
    # Once the job's pictures are purged, its reference goes, and so may the World.
    InpaintJob.objects.update(created_at=timezone.now() - timedelta(days=40))
    call_command("purge", "--older-than", "30d", stdout=io.StringIO())
    job = InpaintJob.objects.get()
    assert job.painted_world is None and not job.result_image
    assert world.image.storage.exists(world.image.name)  # not the job's file to delete
    world.delete()


# --- by reference: an earlier result -----------------------------------------------------


def test_a_wish_on_an_earlier_result_paints_on_it(world, inline):
    client = APIClient()
    first = InpaintJob.objects.get(pk=post(client, world=world.slug).json()["id"])
    response = post(client, base_job=str(first.pk), seed="4")

    assert response.status_code == 202, response.content[:300]
    second = InpaintJob.objects.get(pk=response.json()["id"])
    assert second.status == Status.SUCCEEDED, second.error_message
    assert (second.base_job, second.world, second.painted_world) == (first, world, None)
    assert not second.input_image and second.source_picture.name == first.result_image.name
    before, after = picture(first.result_image), picture(second.result_image)
    keep = far_from_paint(before.shape)
    assert np.array_equal(after[keep], before[keep])
    # A kept job still paints on the first one's result: purge keeps that.
    InpaintJob.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=40))
    call_command("purge", "--older-than", "30d", stdout=io.StringIO())
    first.refresh_from_db()
    assert first.result_image and first.result_image.storage.exists(first.result_image.name)


def test_an_earlier_job_of_someone_else_is_refused(world, inline):
    first = post(APIClient(), world=world.slug).json()["id"]
    response = post(APIClient(), base_job=first)
    assert response.status_code == 400
    assert codes(response, "base_job") == ["not_yours"]


def test_an_earlier_job_without_a_result_is_refused(world, queued):
    client = APIClient()
    first = post(client, world=world.slug).json()["id"]  # stays queued
    response = post(client, base_job=first)
    assert response.status_code == 400
    assert codes(response, "base_job") == ["not_finished"]
    unknown = post(client, base_job="0b7c8a5e-4a4e-4a57-9d43-2f5b1bbfa2f1")
    assert codes(unknown, "base_job") == ["does_not_exist"]


def test_two_maps_at_once_are_refused(world, world_map, queued):
    client = APIClient()
    first = post(client, world=world.slug).json()["id"]
    for other in ({"image": encoded(world_map)}, {"world": world.slug}):
        response = post(client, base_job=first, **other)
        assert response.status_code == 400
        assert codes(response, next(iter(other))) == ["too_many_maps"]
    assert InpaintJob.objects.count() == 1


# --- uploads: stored as they came ---------------------------------------------------------


@pytest.mark.parametrize(("format", "extension"), [("PNG", "png"), ("JPEG", "jpg"),
                                                   ("WEBP", "webp")])
def test_an_upload_is_stored_as_it_came_and_painted(format, extension, world_map, inline):
    upload = encoded(world_map, format, **({"quality": 90} if format != "PNG" else {}))
    response = post(APIClient(), image=upload)

    job = InpaintJob.objects.get(pk=response.json()["id"])
    assert job.input_image.name.endswith(f"/input.{extension}")
    with job.input_image.open("rb") as stored:
        assert stored.read() == upload  # bytes identical: no decoding, no re-encoding
    assert job.status == Status.SUCCEEDED, job.error_message
    before = np.asarray(Image.open(io.BytesIO(upload)).convert("RGB"))
    after = picture(job.result_image)
    keep = far_from_paint(before.shape)
    assert np.array_equal(after[keep], before[keep])


def test_a_rotated_photo_is_measured_as_shown(world_map, queued):
    """The mask is checked against the map as browsers show it (EXIF orientation)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter: the header's width is the shown height
    turned = world_map.transpose(Image.Transpose.ROTATE_90)  # HEIGHT × WIDTH as stored
    upload = encoded(turned, "JPEG", exif=exif.tobytes())
    assert post(APIClient(), image=upload).status_code == 202  # mask WIDTH × HEIGHT fits


def with_unknown_row_filter(png: bytes) -> bytes:
    """The same PNG, one row in the middle marked with a filter type PNG does not have:
    chunks, checksums and the zlib stream are whole, so only decoding finds it."""
    chunks, position = [], 8
    while position < len(png):
        length, kind = struct.unpack_from(">I4s", png, position)
        chunks.append((kind, png[position + 8:position + 8 + length]))
        position += 12 + length
    rows = bytearray(zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT")))
    rows[len(rows) // 2 // (1 + 3 * WIDTH) * (1 + 3 * WIDTH)] = 9  # filter types are 0-4

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return png[:8] + chunk(b"IHDR", chunks[0][1]) + chunk(b"IDAT", zlib.compress(bytes(rows))) \
        + chunk(b"IEND", b"")


def test_an_upload_the_worker_cannot_decode_fails_with_the_reason(world_map, inline):
    damaged = with_unknown_row_filter(encoded(world_map.convert("RGB")))
    response = post(APIClient(), image=damaged)
    assert response.status_code == 202
    job = InpaintJob.objects.get()
    assert job.status == Status.FAILED
    assert job.error_message == "The picture is damaged and cannot be read."


# --- the cache ---------------------------------------------------------------------------


def test_the_cache_stays_within_its_bytes_and_drops_the_least_recently_used():
    small = Image.new("RGB", (100, 100))  # 30 000 bytes
    cache = MapCache(max_bytes=2 * image_bytes(small) + 10)
    loads = []

    def loader(name):
        return lambda: loads.append(name) or small.copy()

    cache.get("a", loader("a"))
    cache.get("b", loader("b"))
    cache.get("a", loader("a"))  # a is now the most recent
    cache.get("c", loader("c"))  # b leaves
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.size_bytes <= cache.max_bytes and loads == ["a", "b", "c"]
    huge = Image.new("RGB", (200, 200))
    assert cache.get("huge", lambda: huge) is huge  # handed out, never kept
    assert "huge" not in cache and cache.size_bytes == 2 * image_bytes(small)


# --- manage.py add_world -----------------------------------------------------------------


def test_add_world_adds_a_world_and_prints_its_slug_last(tmp_path, world_map):
    source = tmp_path / "karte.jpg"
    world_map.save(source, "JPEG", quality=90)
    out = io.StringIO()
    call_command("add_world", str(source), "--name", "Olpe um 1900", "--kind", "historic",
                 "--date", "1900", "--metres-per-pixel", "0.5", stdout=out)

    slug = out.getvalue().strip().splitlines()[-1]
    world = World.objects.get(slug=slug)
    assert slug == "olpe-um-1900"
    assert (world.name, world.kind, world.map_date, world.metres_per_pixel) == (
        "Olpe um 1900", "historic", "1900", 0.5)
    with world.image.open("rb") as stored:
        assert stored.read() == source.read_bytes()  # stored as it is
    call_command("add_world", str(source), "--name", "Olpe um 1900", stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == "olpe-um-1900-2"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda: encoded(Image.new("RGB", (40, 40))), "at least 64 pixels",
                     id="too small"),
        pytest.param(lambda: b"GIF89a not a map", "not a PNG, JPEG or WebP", id="not a picture"),
    ],
)
def test_add_world_refuses_what_cannot_be_painted_on(make, reason, tmp_path):
    source = tmp_path / "karte.png"
    source.write_bytes(make())
    with pytest.raises(CommandError, match=reason):
        call_command("add_world", str(source), "--name", "Nichts", stdout=io.StringIO())
    assert not World.objects.exists()


def test_add_world_accepts_worlds_larger_than_an_upload(tmp_path, settings):
    settings.OLPE_MAX_IMAGE_PIXELS = 100 * 100
    settings.OLPE_MAX_WORLD_PIXELS = 200 * 200
    source = tmp_path / "gross.png"
    Image.new("RGB", (200, 150), "green").save(source)
    call_command("add_world", str(source), "--name", "Groß", stdout=io.StringIO())
    too_large = tmp_path / "riesig.png"
    Image.new("RGB", (300, 200), "green").save(too_large)
    with pytest.raises(CommandError, match="million pixels"):
        call_command("add_world", str(too_large), "--name", "Riesig", stdout=io.StringIO())


def test_a_png_is_measured_without_decoding_it(monkeypatch):
    """Pillow finds a PNG's EXIF by decoding it all; the header check must not."""
    from PIL import PngImagePlugin

    from inpainting_core.imaging import inspect_picture, shown_size

    def no_decoding(self):
        raise AssertionError("decoded")

    exif = Image.Exif()
    exif[0x0112] = 6
    turned = encoded(Image.new("RGB", (300, 200), "green"), exif=exif.tobytes())
    plain = encoded(Image.new("RGB", (300, 200), "green"))
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    assert inspect_picture(plain).size == (300, 200)
    assert inspect_picture(turned).size == (200, 300)  # an eXIf chunk turns it, as browsers do
    assert shown_size(io.BytesIO(turned)) == (200, 300)
