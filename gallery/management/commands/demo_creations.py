"""`manage.py demo_creations [--world SLUG] [--count N] [--approve N]`: creations to try the
gallery, the wall and the curators' desk with, painted as visitors paint them.

Each is a wish painted by the classic engine on a World's map, on a round
region of a few percent of the map (a lake, a castle, a forest in the town,
...), stored as a succeeded job (the World's map by reference, the mask, the
result and the frame the pipeline found) and submitted to the gallery like the
kiosk submits it. They wait for a curator, unless `--approve` approves the
first (oldest) ones. Six wishes are painted once each and repeated when more
creations are asked for. A demo on a fresh installation:

    manage.py seed_demo && manage.py demo_creations --world olpe-demo --count 12
"""

from __future__ import annotations

import io
from datetime import timedelta

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from gallery import creations
from inpainting.models import InpaintJob
from inpainting_core import compositing, imaging
from inpainting_core.engines import CLASSIC
from inpainting_core.generation import GenerationSettings
from inpainting_core.pipeline import generate
from museum.models import World

# (wish, title, first name, centre and radius as shares of the map's side)
WISHES = [
    ("Was wäre, wenn hier ein See wäre?", "Der Olpe-See", "Mira", (0.30, 0.62), 0.10),
    ("Eine Burg auf dem Hügel", "Burg Olpe", "", (0.72, 0.30), 0.08),
    ("Ein dichter Wald mitten in der Stadt", "", "Jonas", (0.30, 0.37), 0.09),
    ("Ein Weinberg am Hang", "Olper Wein", "", (0.15, 0.16), 0.07),
    ("Ein Strand mit Palmen", "", "Lea", (0.62, 0.78), 0.07),
    ("Schnee im Sommer", "Winter im Juli", "Tim", (0.86, 0.86), 0.08),
]


class Command(BaseCommand):
    help = "Paint demo creations on a World (classic engine) and submit them to the gallery."

    def add_arguments(self, parser):
        parser.add_argument("--world", help="The World's slug (default: the first visible one).")
        parser.add_argument("--count", type=int, default=len(WISHES), help="How many creations.")
        parser.add_argument("--approve", type=int, default=0,
                            help="Approve this many of them (the oldest); the rest wait.")
        parser.add_argument("--seed", type=int, default=5, help="The classic engine's seed.")

    def handle(self, *args, **options):
        world = self._world(options["world"])
        with world.image.open("rb") as handle:
            image = imaging.open_image(handle, max_pixels=world_pixels(world))
        paintings = {}
        now = timezone.now()
        count = max(0, options["count"])
        for number in range(count):
            index = number % len(WISHES)
            if index not in paintings:
                paintings[index] = self._paint(image, WISHES[index], options["seed"])
            job = self._job(world, WISHES[index], paintings[index],
                            created_at=now - timedelta(minutes=2 * (count - number)))
            _wish, title, name = WISHES[index][:3]
            creation = creations.create_creation(
                job, title=title, visitor_name=name, consent=bool(name), world=world
            )
            creation.created_at = job.created_at  # submitted as it was painted, in order
            creation.save(update_fields=["created_at"])
            if number < options["approve"]:
                creations.approve(creation, None)
        self.stdout.write(self.style.SUCCESS(
            _("Added %(count)d creations on “%(world)s”.") % {"count": count, "world": world}
        ))

    def _world(self, slug):
        worlds = World.objects.filter(slug=slug) if slug else World.objects.filter(visible=True)
        world = worlds.exclude(image="").order_by("order", "name").first()
        if world is None:
            raise CommandError(_("No such World; `manage.py seed_demo` adds one."))
        return world

    @staticmethod
    def _paint(image: Image.Image, wish_entry, seed: int) -> dict:
        wish, _title, _name, (x, y), radius = wish_entry
        width, height = image.size
        side = min(width, height)
        alpha = np.zeros((height, width), np.uint8)
        cv2.ellipse(alpha, (round(x * width), round(y * height)),
                    (round(radius * side), round(radius * side * 0.8)), 25, 0, 360, 255, -1,
                    cv2.LINE_AA)
        mask = alpha.astype(np.float32) / 255
        result = generate(image, mask, wish, GenerationSettings(engine=CLASSIC, seed=seed))
        return {
            "result": result,
            "mask_png": compositing.to_png_bytes(Image.fromarray(alpha, "L")),
            "result_png": compositing.to_png_bytes(result.image, compress_level=1),
            "preview_jpeg": _jpeg(result.image),
        }

    @staticmethod
    def _job(world: World, wish_entry, painting: dict, *, created_at) -> InpaintJob:
        result = painting["result"]
        job = InpaintJob(
            status=InpaintJob.Status.SUCCEEDED, engine=CLASSIC, requested_engine=CLASSIC,
            prompt_original=wish_entry[0], prompt_translated=result.prompt.translated,
            prompt_final=result.prompt.final, negative_prompt=result.prompt.negative,
            translation_source=result.prompt.translation_source, seed=result.seed,
            painted_world=world, world=world, frame=result.frame.as_dict(),
            created_at=created_at, started_at=created_at, finished_at=created_at,
            kiosk_session="demo",
        )
        job.mask_image.save("mask.png", ContentFile(painting["mask_png"]), save=False)
        job.result_image.save("result.png", ContentFile(painting["result_png"]), save=False)
        job.preview_image.save("preview.jpg", ContentFile(painting["preview_jpeg"]), save=False)
        job.save()
        return job


def world_pixels(world: World) -> int:
    return max(settings.OLPE_MAX_IMAGE_PIXELS, settings.OLPE_MAX_WORLD_PIXELS)


def _jpeg(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((512, 512))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
