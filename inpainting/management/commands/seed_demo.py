"""`manage.py seed_demo [--force]`: put the synthetic demo map into media storage.

The project ships no real imagery of Olpe, so a fresh installation starts
with `inpainting.demo`'s painted map (worlds/demo-olpe.png) and a painted
mask over its lake shore (worlds/demo-olpe-mask-example.png), enough to try
the `inpaint` command and the web page at once. Existing files are kept
unless --force is given.
"""

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from inpainting.demo import make_demo_map, make_demo_mask_example

DEMO_MAP_NAME = "worlds/demo-olpe.png"
DEMO_MASK_NAME = "worlds/demo-olpe-mask-example.png"


class Command(BaseCommand):
    help = "Write the synthetic demo map of Olpe and an example mask to media storage."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Replace files that already exist.")

    def handle(self, *args, **options):
        pictures = {DEMO_MAP_NAME: make_demo_map, DEMO_MASK_NAME: make_demo_mask_example}
        for name, make in pictures.items():
            if default_storage.exists(name) and not options["force"]:
                self.stdout.write(_("Kept %(name)s (it exists; --force replaces it).") % {"name": name})
                continue
            saved = _save_png(name, make())
            self.stdout.write(self.style.SUCCESS(_("Wrote %(name)s.") % {"name": saved}))


def _save_png(name: str, picture) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    if default_storage.exists(name):
        default_storage.delete(name)  # save() would pick a new name instead of replacing
    return default_storage.save(name, ContentFile(buffer.getvalue()))
