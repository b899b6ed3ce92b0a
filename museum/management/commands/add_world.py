"""`manage.py add_world IMAGE --name NAME [--kind …] [--date YYYY] [--metres-per-pixel M]`.

Adds a World (a map visitors paint on) from a file, as curators do in the
admin, and prints its slug as the last line (for scripts). The picture passes
the checks every World's map passes (`museum.models.validate_paintable_map`):
an image the platform cannot paint on is refused with the reason. A PNG, JPEG
or WebP file is stored as it is, not re-encoded; a TIFF (an archive's scan,
BigTIFF included) is checked row by row and stored as a lossless PNG, the
form browsers and the platform read. Maps may have up to
OLPE_MAX_WORLD_PIXELS (16384 × 16384); their tile pyramid is made on a worker.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from django.conf import settings

from inpainting_core import pyramids
from inpainting_core.imaging import ImageProblem, min_image_side
from museum.models import World, validate_paintable_map


def unique_slug(name: str) -> str:
    """The name as a slug, numbered when another World has it already."""
    base = (slugify(name) or "world")[: World._meta.get_field("slug").max_length - 8]
    slug, number = base, 1
    while World.objects.filter(slug=slug).exists():
        number += 1
        slug = f"{base}-{number}"
    return slug


class Command(BaseCommand):
    help = "Add a World (a map visitors paint on) from a picture file; prints its slug last."

    def add_arguments(self, parser):
        parser.add_argument("image", help="The map: a PNG, JPEG, WebP or TIFF file.")
        parser.add_argument("--name", required=True, help="The World's name, as visitors see it.")
        parser.add_argument(
            "--kind", choices=World.Kind.values, default=World.Kind.SCENARIO,
            help="satellite, historic or scenario (default).",
        )
        parser.add_argument("--date", default="", help="The map's date, e.g. 1830.")
        parser.add_argument(
            "--metres-per-pixel", type=float, default=None, metavar="M",
            help="Ground resolution, e.g. 0.1 for 10 cm pixels.",
        )
        parser.add_argument("--description", default="", help="A line for the kiosk.")
        parser.add_argument(
            "--hidden", action="store_true", help="Add it hidden from visitors (curators show it)."
        )

    def handle(self, *args, **options):
        path = Path(options["image"])
        if not path.is_file():
            raise CommandError(_("There is no file %(path)s.") % {"path": path})
        name = options["name"].strip()
        if not name:
            raise CommandError(_("The World needs a name."))
        with tempfile.TemporaryDirectory() as folder:
            world = self.add(self.paintable(path, Path(folder)), name, options, shown=path)
        self.stdout.write(
            _("Added the World “%(name)s” (%(width)s × %(height)s pixels).")
            % {"name": world.name, "width": world.image.width, "height": world.image.height}
        )
        self.stdout.write(world.slug)

    def paintable(self, path: Path, folder: Path) -> Path:
        """The file to store: the map itself, or a TIFF's pixels as a lossless PNG."""
        if not is_tiff(path):
            return path
        try:
            pyramids.inspect_map(path, max_pixels=settings.OLPE_MAX_WORLD_PIXELS,
                                 min_side=min_image_side())
        except ImageProblem as problem:
            raise CommandError(
                _("%(path)s cannot be painted on: %(reason)s") % {"path": path, "reason": problem}
            ) from problem
        converted = folder / (path.stem + ".png")
        pyramids.save_png(path, converted)
        self.stdout.write(_("%(path)s: a TIFF, stored as a lossless PNG.") % {"path": path})
        return converted

    def add(self, path: Path, name: str, options, *, shown: Path) -> World:
        with path.open("rb") as handle:
            try:
                validate_paintable_map(handle)
            except ValidationError as problem:
                raise CommandError(
                    _("%(path)s cannot be painted on: %(reason)s")
                    % {"path": shown, "reason": " ".join(problem.messages)}
                ) from problem
            world = World(
                name=name, slug=unique_slug(name), kind=options["kind"],
                map_date=options["date"], metres_per_pixel=options["metres_per_pixel"],
                description=options["description"], visible=not options["hidden"],
            )
            try:
                world.full_clean(exclude=["image"])
            except ValidationError as problem:
                raise CommandError(" ".join(problem.messages)) from problem
            handle.seek(0)
            with transaction.atomic():
                world.image.save(path.name, File(handle), save=False)
                world.save()
        return world


def is_tiff(path: Path) -> bool:
    """Whether the file is a TIFF (classic or BigTIFF), by its first bytes."""
    with path.open("rb") as handle:
        return handle.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
