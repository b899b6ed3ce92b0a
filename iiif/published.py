"""What the IIIF APIs publish: visible Worlds' maps and approved creations' pictures.

Everything else (hidden Worlds, pending or rejected creations, a creation's
picture that is gone) is not found, for everyone: IIIF answers carry
`Access-Control-Allow-Origin: *` and are cached publicly, so they never
depend on who asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db.models import QuerySet

from gallery.models import Creation
from museum import pyramids
from museum.models import World

CREATION_PICTURES = {"before": "before_image", "after": "after_image"}


def visible_worlds() -> QuerySet:
    return World.objects.filter(visible=True).exclude(image="")


def approved_creations() -> QuerySet:
    return Creation.objects.filter(status=Creation.Status.APPROVED).select_related("world")


@dataclass
class Picture:
    """One published picture: its stored file and what reads it."""

    field: object  # the FieldFile

    @property
    def name(self) -> str:
        return self.field.name

    @cached_property
    def source(self):
        """The picture for rendering (`inpainting_core.pyramids.Pyramid`): its pyramid, or
        the file itself. Raises FileNotFoundError when the file is gone."""
        return pyramids.open_picture(self.name, self.field.storage)

    @property
    def size(self) -> tuple[int, int]:
        return self.source.width, self.source.height

    @property
    def waiting_for_pyramid(self) -> bool:
        """A picture that needs a pyramid and has none yet (it is queued)."""
        return not self.source.is_pyramid and pyramids.needs_pyramid(self.size)


def world_picture(slug: str) -> Picture | None:
    world = visible_worlds().filter(slug=slug).first()
    return Picture(world.image) if world is not None else None


def creation_picture(slug: str, which: str) -> Picture | None:
    creation = approved_creations().filter(slug=slug).first()
    field = getattr(creation, CREATION_PICTURES[which], None) if creation else None
    return Picture(field) if field else None
