"""An approved creation's pictures get their tile pyramids, made on a worker.

Listens to `gallery.creations.creation_changed` (sent after commit); a World's
map gets its pyramid when it is saved (`museum.tasks.world_saved`).
"""

from __future__ import annotations

from gallery.creations import APPROVED, creation_changed
from gallery.models import Creation
from museum.tasks import queue_pyramid


def creation_published(sender, creation: Creation, action: str, **kwargs) -> None:
    if action != APPROVED:
        return
    for picture in (creation.after_image, creation.before_image):
        if picture:
            queue_pyramid(picture.name)


def connect() -> None:
    creation_changed.connect(creation_published, sender=Creation,
                             dispatch_uid="iiif.signals.creation_published")
