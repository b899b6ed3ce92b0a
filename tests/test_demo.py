"""The synthetic demo map, its example mask, and `manage.py seed_demo`."""

import io

import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from inpainting_core import landcover
from tooling.demo import (
    LABELS,
    land_cover_fractions,
    make_demo_map,
    make_demo_mask_example,
)
from tooling.management.commands.seed_demo import DEMO_MAP_NAME, DEMO_MASK_NAME

INDEX = {name: index for index, name in enumerate(LABELS)}


@pytest.fixture(scope="module")
def demo():
    return make_demo_map(return_labels=True)


def _mean_colour(image, labels, cover):
    return np.asarray(image, np.float32)[labels == INDEX[cover]].mean(axis=0)


def test_the_same_seed_paints_the_same_map_and_another_seed_another():
    first = np.asarray(make_demo_map(width=384, height=256, seed=5))
    again = np.asarray(make_demo_map(width=384, height=256, seed=5))
    other = np.asarray(make_demo_map(width=384, height=256, seed=6))
    assert first.shape == (256, 384, 3)
    assert np.array_equal(first, again)
    assert np.mean(first != other) > 0.5


def test_callers_get_a_picture_of_their_own():
    picture = make_demo_map(width=384, height=256, seed=5)
    picture.paste((255, 0, 0), (0, 0, 50, 50))
    assert make_demo_map(width=384, height=256, seed=5).getpixel((10, 10)) != (255, 0, 0)


def test_the_map_has_a_lake_woods_fields_and_a_town(demo):
    image, labels = demo
    assert image.size == (1536, 1024) and image.mode == "RGB"
    assert labels.shape == (1024, 1536) and labels.dtype == np.uint8
    shares = land_cover_fractions(labels)
    assert shares[landcover.WATER] > 0.05
    assert shares[landcover.FOREST] > 0.15
    assert shares[landcover.FIELD] > 0.10
    assert shares[landcover.MEADOW] > 0.05
    assert shares[landcover.BUILDINGS] > 0.03
    assert shares[landcover.ROAD] > 0.005
    assert shares[landcover.SNOW] == shares[landcover.LAVA] == 0
    assert sum(shares.values()) == pytest.approx(1.0)


def test_each_land_cover_has_its_own_look(demo):
    image, labels = demo
    water, forest, meadow, field, road = (
        _mean_colour(image, labels, cover)
        for cover in (landcover.WATER, landcover.FOREST, landcover.MEADOW, landcover.FIELD, landcover.ROAD)
    )
    assert water[2] > water[0] and water.sum() < meadow.sum()  # bluish and dark
    assert forest[1] > forest[0] and forest[1] > forest[2] and forest.sum() < meadow.sum()
    assert meadow[1] > meadow[0] > meadow[2]  # light green
    assert field[0] > meadow[0]  # yellower than meadow
    assert np.ptp(road) < 10  # grey
    brightness = np.asarray(image, np.float32).mean(axis=2)
    detail = brightness - cv2.GaussianBlur(brightness, (0, 0), 3)  # texture, not depth or shade
    forest_texture = detail[labels == INDEX[landcover.FOREST]].std()
    water_texture = detail[labels == INDEX[landcover.WATER]].std()
    assert forest_texture > 2 * water_texture > 0


def test_the_town_has_red_and_grey_roofs(demo):
    image, labels = demo
    town = np.asarray(image, np.int16)[labels == INDEX[landcover.BUILDINGS]]
    red_roofs = (town[:, 0] > town[:, 1] + 40) & (town[:, 0] > 110)
    assert red_roofs.mean() > 0.02


def test_the_mask_example_paints_strokes_along_the_lake_shore(demo):
    _image, labels = demo
    mask = make_demo_mask_example()
    assert mask.mode == "RGBA" and mask.size == (1536, 1024)
    alpha = np.asarray(mask)[..., 3]
    painted = alpha > 127
    assert 0.005 < painted.mean() < 0.2
    under_strokes = labels[painted]
    water_share = np.mean(under_strokes == INDEX[landcover.WATER])
    assert 0.2 < water_share < 0.8  # half on the water, half on the land: a shore
    assert np.all(np.asarray(mask)[..., :3][painted] == 255)


def _stored_bytes(name):
    with default_storage.open(name, "rb") as handle:
        return handle.read()


@pytest.mark.django_db
def test_seed_demo_writes_the_map_and_the_mask_example():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert DEMO_MAP_NAME in out.getvalue() and DEMO_MASK_NAME in out.getvalue()
    stored_map = Image.open(io.BytesIO(_stored_bytes(DEMO_MAP_NAME)))
    assert stored_map.format == "PNG"
    assert np.array_equal(np.asarray(stored_map), np.asarray(make_demo_map()))
    stored_mask = Image.open(io.BytesIO(_stored_bytes(DEMO_MASK_NAME)))
    assert stored_mask.mode == "RGBA"
    assert np.array_equal(np.asarray(stored_mask), np.asarray(make_demo_mask_example()))


@pytest.mark.django_db
def test_seed_demo_keeps_existing_files_unless_forced(settings):
    call_command("seed_demo", stdout=io.StringIO())
    for name in (DEMO_MAP_NAME, DEMO_MASK_NAME):
        default_storage.delete(name)
        default_storage.save(name, io.BytesIO(b"curated"))

    kept = io.StringIO()
    call_command("seed_demo", stdout=kept)
    assert _stored_bytes(DEMO_MAP_NAME) == b"curated"
    assert _stored_bytes(DEMO_MASK_NAME) == b"curated"
    assert "--force" in kept.getvalue()

    call_command("seed_demo", "--force", stdout=io.StringIO())
    assert Image.open(io.BytesIO(_stored_bytes(DEMO_MAP_NAME))).size == (1536, 1024)
    assert Image.open(io.BytesIO(_stored_bytes(DEMO_MASK_NAME))).mode == "RGBA"
    worlds = default_storage.listdir("worlds")[1]
    assert sorted(worlds) == ["demo-olpe-mask-example.png", "demo-olpe.png"]  # replaced, not renamed
    assert (settings.MEDIA_ROOT / DEMO_MAP_NAME).is_file()


@pytest.mark.django_db
def test_seed_demo_makes_the_map_a_world_and_suggests_wishes_once():
    from museum.models import SiteSettings, World

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    world = World.objects.get()
    assert world.image.name == DEMO_MAP_NAME and world.visible and world.editable
    site = SiteSettings.load()
    assert "Was wäre, wenn hier ein See wäre?" in site.suggestions("de")
    assert site.suggestions("en")

    site.prompt_suggestions_de = "Ein Leuchtturm"
    site.prompt_suggestions_en = ""
    site.save()
    call_command("seed_demo", stdout=io.StringIO())
    assert SiteSettings.load().suggestions("de") == ["Ein Leuchtturm"]  # curators' words stay
