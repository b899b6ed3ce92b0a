"""Creations framed on their change: thumbnails, the page, the postcard, the API, the wall.

A creation keeps its job's frame (inpainting_core/framing.py); every picture
made from it is cut from the full-resolution before or after picture, made
smaller but never larger, and kept beside the creation's pictures. Migrations
fill the frame of jobs and creations made before it was kept.
"""

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from PIL import Image

from gallery import creations, pictures, wall
from gallery.models import Creation
from inpainting_core.framing import Frame, find_frame
from tests.test_gallery_data import make_job
from tests.test_gallery_public import new_creation, png_bytes

Status = Creation.Status
PATCH = (700, 500, 800, 580)  # where the "lake" is painted on a 1600 × 1200 map
LAKE = (30, 80, 200)


def lake_pictures(size=(1600, 1200)) -> tuple[Image.Image, Image.Image]:
    rows = np.linspace(60, 200, size[1], dtype=np.uint8)[:, None]
    before = np.dstack([np.broadcast_to(rows, (size[1], size[0]))] * 3).copy()
    before[..., 1] = 150  # a green-ish gradient
    after = before.copy()
    after[PATCH[1]:PATCH[3], PATCH[0]:PATCH[2]] = LAKE
    return Image.fromarray(before), Image.fromarray(after)


@pytest.fixture
def framed(db):
    before, after = lake_pictures()
    frame = find_frame(before, after)
    creation = new_creation(pictures=(png_bytes(before), png_bytes(after)))
    creation.frame = frame.as_dict()
    creation.save(update_fields=["frame"])
    return creation, frame


def served(client, url, **headers) -> tuple:
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    return response, b"".join(response.streaming_content)


# --- kept with the creation -------------------------------------------------------------


@pytest.mark.django_db
def test_a_creation_keeps_its_jobs_frame():
    job = make_job()
    job.frame = Frame(box=(0, 0, 96, 64), change=(24, 16, 72, 48), size=(96, 64)).as_dict()
    job.save()
    assert creations.create_creation(job).frame == job.frame

    damaged = make_job(seed=2)
    damaged.frame = {"box": "everything"}
    damaged.save()
    assert creations.create_creation(damaged).frame is None  # shown whole


# --- pictures -------------------------------------------------------------------------


def test_thumbnails_show_the_frame_cut_from_the_full_resolution_picture(client, framed):
    creation, frame = framed
    width, height = frame.box[2] - frame.box[0], frame.box[3] - frame.box[1]
    assert width < 480 and abs(width / height - 4 / 3) < 0.01
    for name, colour in (("thumb", LAKE), ("thumb-before", None)):
        response, body = served(client, reverse(f"gallery:{name}", args=[creation.slug]))
        assert response["Content-Type"] == "image/jpeg"
        with Image.open(io.BytesIO(body)) as thumbnail:
            assert thumbnail.size == (width, height)  # not enlarged to 480
            middle = np.asarray(thumbnail.convert("RGB"))[height // 2, width // 2]
        if colour:
            assert np.abs(middle.astype(int) - colour).max() < 12  # the lake fills the middle
        else:
            assert middle[1] == pytest.approx(150, abs=12)  # before: no lake
    name = pictures.name_of(creation, "thumb")
    assert default_storage.exists(name) and "-".join(map(str, frame.box)) in name


def test_a_large_frame_is_made_smaller_and_the_whole_map_has_its_own_pictures(client, db):
    before, after = lake_pictures()
    creation = new_creation(pictures=(png_bytes(before), png_bytes(after)))
    creation.frame = Frame(box=(0, 0, 1600, 1200), change=(0, 0, 1600, 1200),
                           size=(1600, 1200)).as_dict()
    creation.save(update_fields=["frame"])
    _response, body = served(client, reverse("gallery:thumb", args=[creation.slug]))
    with Image.open(io.BytesIO(body)) as thumbnail:
        assert thumbnail.size == (480, 360)
    _response, body = served(client, reverse("gallery:whole-after", args=[creation.slug]))
    with Image.open(io.BytesIO(body)) as whole:
        assert whole.size == (1600, 1200)


def test_the_detail_and_the_postcard_are_offered_as_downloads(client, framed):
    creation, frame = framed
    detail_url = reverse("gallery:detail", args=[creation.slug]) + "?download=1"
    response, body = served(client, detail_url)
    assert response["Content-Type"] == "image/png"
    expected = f'attachment; filename="olpe-{creation.slug}-detail.png"'
    assert response["Content-Disposition"] == expected
    with Image.open(io.BytesIO(body)) as detail:
        assert detail.size == (frame.box[2] - frame.box[0], frame.box[3] - frame.box[1])

    postcard_url = reverse("gallery:postcard", args=[creation.slug]) + "?download=1"
    response, body = served(client, postcard_url)
    assert response["Content-Type"] == "image/jpeg"
    assert "attachment" in response["Content-Disposition"]
    assert "public" in response["Cache-Control"]
    with Image.open(io.BytesIO(body)) as postcard:
        assert postcard.size == pictures.POSTCARD_SIZE
        card = np.asarray(postcard.convert("RGB"))
    # the after picture's frame sits in the right half of the top: the lake in its middle
    right_middle = card[36 + 200, 600 + 10 + 274]
    assert np.abs(right_middle.astype(int) - LAKE).max() < 30


def test_a_new_title_makes_a_new_postcard(client, framed):
    creation, _frame = framed
    first = pictures.postcard_name(creation)
    served(client, reverse("gallery:postcard", args=[creation.slug]))
    creation.title = "Der neue See"
    creation.save()
    assert pictures.postcard_name(creation) != first
    response, _body = served(client, reverse("gallery:postcard", args=[creation.slug]))
    assert pictures.postcard_name(creation).rsplit("/", 1)[1] in response["ETag"]


def test_pictures_whose_sources_are_gone_answer_404_and_the_page_still_opens(client, framed):
    creation, _frame = framed
    default_storage.delete(creation.after_image.name)
    for name in ("thumb", "frame-after", "detail", "postcard"):
        assert client.get(reverse(f"gallery:{name}", args=[creation.slug])).status_code == 404
    creation.frame = None
    creation.save(update_fields=["frame"])
    assert client.get(reverse("gallery:creation", args=[creation.slug])).status_code == 200
    assert client.get(reverse("gallery:thumb", args=[creation.slug])).status_code == 404


# --- the page ---------------------------------------------------------------------------


def test_the_page_opens_on_the_frame_and_offers_the_whole_map_outlined(client, framed):
    creation, frame = framed
    url = reverse("gallery:creation", args=[creation.slug])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    for picture in ("frame-before.jpg", "frame-after.jpg"):
        assert f"/c/{creation.slug}/{picture}" in html
    assert 'aria-current="page">Veränderung' in html and "Ganze Karte" in html
    for download in ("after.png?download=1", "detail.png?download=1", "postcard.jpg?download=1"):
        assert f"/c/{creation.slug}/{download}" in html
    # what a shared link shows: the postcard, at its address
    postcard = f"http://testserver/c/{creation.slug}/postcard.jpg"
    assert f'<meta property="og:image" content="{postcard}">' in html
    assert 'name="twitter:card" content="summary_large_image"' in html

    whole = client.get(url + "?view=map", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert f"/c/{creation.slug}/map-after.jpg" in whole
    assert 'aria-current="page">Ganze Karte' in whole
    left, top, right, bottom = frame.box
    assert 'viewBox="0 0 1600 1200"' in whole
    assert f'x="{left}" y="{top}"' in whole and f'width="{right - left}"' in whole
    assert 'class="outline-painted" points="' in whole  # the painted region, outlined


def test_a_creation_without_a_frame_is_shown_whole_without_a_switch(client, db):
    creation = new_creation()
    html = client.get(reverse("gallery:creation", args=[creation.slug])).content.decode()
    assert "view-switch" not in html and f"/c/{creation.slug}/map-after.jpg" in html


def test_a_curators_preview_is_not_offered_for_sharing(client, django_user_model, framed):
    creation, _frame = framed
    Creation.objects.filter(pk=creation.pk).update(status=Status.PENDING)
    curator = django_user_model.objects.create_superuser("chefin", password="x")
    client.force_login(curator)
    html = client.get(reverse("gallery:creation", args=[creation.slug])).content.decode()
    assert "og:image" not in html


# --- the API and the wall ---------------------------------------------------------------


def test_the_api_gives_the_frame_and_its_pictures(client, framed):
    creation, frame = framed
    entry = client.get(reverse("gallery:api:creation-detail", args=[creation.slug])).json()
    assert entry["frame"] == frame.as_dict()
    for name in ("thumbnail_url", "thumbnail_before_url", "frame_before_url", "frame_after_url",
                 "postcard_url"):
        assert client.get(entry[name]).status_code == 200, name


def test_a_wall_slide_carries_the_frame(framed):
    creation, frame = framed
    assert wall.slide(creation)["frame"] == frame.as_dict()
    creation.frame = None
    assert wall.slide(creation)["frame"] is None


# --- creations made before frames were kept ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migrations_fill_the_frames_of_earlier_jobs_and_creations():
    before, after = lake_pictures(size=(800, 600))
    names = {}
    for name, picture in (("before", before), ("after", after)):
        names[name] = default_storage.save(f"old/{name}.png", ContentFile(png_bytes(picture)))
    mask = np.zeros((600, 800), np.uint8)
    mask[500:580, 650:800] = 255  # painted wider than what changed
    names["mask"] = default_storage.save(
        "old/mask.png", ContentFile(png_bytes(Image.fromarray(mask)))
    )

    executor = MigrationExecutor(connection)
    targets = [("gallery", "0007_shared_facts_to_museum"),
               ("inpainting", "0005_job_map_by_reference")]
    try:
        executor.migrate(targets)
        old = executor.loader.project_state(targets).apps
        job = old.get_model("inpainting", "InpaintJob").objects.create(
            status="succeeded", engine="classic", prompt_original="ein See",
            input_image=names["before"], mask_image=names["mask"], result_image=names["after"],
        )
        Creation = old.get_model("gallery", "Creation")
        with_job = Creation.objects.create(
            slug="mit-auftrag", prompt_original="ein See", engine="classic", job=job,
            before_image=names["before"], after_image=names["after"],
        )
        alone = Creation.objects.create(
            slug="ohne-auftrag", prompt_original="ein See", engine="classic",
            before_image=names["before"], after_image=names["after"],
        )
        lost = Creation.objects.create(
            slug="verloren", prompt_original="ein See", engine="classic",
            before_image="old/gone.png", after_image="old/gone-too.png",
        )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    from inpainting.models import InpaintJob

    job_frame = Frame.from_dict(InpaintJob.objects.get(pk=job.pk).frame)
    assert job_frame.change == (650, 500, 800, 580)  # the mask's box and the lake's
    assert creation_frame(with_job.pk) == job_frame  # taken from its job
    assert creation_frame(alone.pk).change == (700, 500, 800, 580)  # from its pictures alone
    assert creation_frame(lost.pk) is None  # unreadable: shown whole


def creation_frame(pk):
    return Frame.from_dict(Creation.objects.get(pk=pk).frame)
