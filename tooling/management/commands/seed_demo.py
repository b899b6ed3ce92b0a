"""`manage.py seed_demo [--force]`: put the synthetic demo map into media storage.

The project ships no real imagery of Olpe, so a fresh installation starts
with `tooling.demo`'s painted map (worlds/demo-olpe.png) and a painted
mask over its lake shore (worlds/demo-olpe-mask-example.png), enough to try
the `inpaint` command and the kiosk at once. The map becomes a gallery World,
and the kiosk gets a few wish suggestions if curators have written none yet;
a museum replaces both with its real maps and ideas. Existing files are kept
unless --force is given.
"""

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from inpainting_core.engines.classic.scale import REFERENCE_METRES_PER_PIXEL
from museum.models import SiteSettings, World
from tooling.demo import make_demo_map, make_demo_mask_example

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
        world, created = World.objects.get_or_create(
            slug=DEMO_WORLD_SLUG,
            defaults={
                "kind": World.Kind.SATELLITE,
                "name": "Olpe (Demo)",
                "description": DEMO_WORLD_DESCRIPTION,
                "image": DEMO_MAP_NAME,
                # the scale the classic engine's painters were made for (see classic/scale.py)
                "metres_per_pixel": REFERENCE_METRES_PER_PIXEL,
            },
        )
        if created:
            self.stdout.write(self.style.SUCCESS(_("Added the World “%(name)s”.") % {"name": world}))
        _suggest_wishes()


# Demo content in the visitors' language; curators edit it in admin like any other World.
DEMO_WORLD_SLUG = "olpe-demo"
DEMO_WORLD_DESCRIPTION = (
    "Eine gemalte Luftaufnahme im Stil von Olpe: Stausee, Fluss, Wälder, Felder und die Stadt. "
    "Sie steht hier, bis das Museum seine echten Karten einstellt."
)
SUGGESTIONS_DE = [
    "Was wäre, wenn hier ein See wäre?", "Ein dichter Wald", "Eine Burg auf dem Hügel",
    "Ein Vulkan", "Schnee im Sommer", "Ein Strand mit Palmen", "Ein Weinberg",
    "Ein Windpark", "Ein Dorf mit Fachwerkhäusern", "Eine Wüste",
]
SUGGESTIONS_EN = [
    "What if there were a lake here?", "A dense forest", "A castle on the hill", "A volcano",
    "Snow in summer", "A beach with palm trees", "A vineyard", "A wind farm",
    "A village of timber-framed houses", "A desert",
]
SUGGESTIONS_NL = [
    "Wat als hier een meer was?", "Een dicht bos", "Een kasteel op de heuvel", "Een vulkaan",
    "Sneeuw in de zomer", "Een strand met palmbomen", "Een wijngaard", "Een windpark",
    "Een dorp met vakwerkhuizen", "Een woestijn",
]


def _suggest_wishes() -> None:
    """Give the kiosk's autocomplete a start, unless curators wrote their own."""
    site = SiteSettings.load()
    if site.prompt_suggestions_de or site.prompt_suggestions_en or site.prompt_suggestions_nl:
        return
    site.prompt_suggestions_de = "\n".join(SUGGESTIONS_DE)
    site.prompt_suggestions_en = "\n".join(SUGGESTIONS_EN)
    site.prompt_suggestions_nl = "\n".join(SUGGESTIONS_NL)
    site.save()


def _save_png(name: str, picture) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    if default_storage.exists(name):
        default_storage.delete(name)  # save() would pick a new name instead of replacing
    return default_storage.save(name, ContentFile(buffer.getvalue()))
