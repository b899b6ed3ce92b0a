"""The gallery wall's playlist, and how a curator's decision reaches every wall screen.

Protocol of the websocket `/ws/wall/` (server to client, JSON):

* `{"type": "snapshot", "slides": [...], "max_slides": N}` on connect and in
  answer to `{"action": "sync"}`: the whole playlist, replacing what the
  client had.
* `{"type": "added", "slide": {...}}` when a creation is approved,
* `{"type": "updated", "slide": {...}}` when it is featured or unfeatured,
* `{"type": "removed", "slug": "..."}` when it is rejected or deleted.

A slide carries only public facts (no rejection reason, no name without
consent) and paths to pictures that answer for approved creations only.
The playlist is ordered like the gallery (featured first, newest first) and
capped at `OLPE_WALL_MAX_SLIDES`, so a wall's memory never grows.

`gallery.creations` announces every decision with `creation_changed` once
it is committed; deletions from anywhere (admin, shell, purge) arrive there
too, through its post_delete receiver. Curators decide in the web process,
and the channel layer carries the news: the in-memory layer reaches the
sockets of that same process, the Redis layer (REDIS_URL) those of every
daphne. Channel layers deliver at most once and forget group members after
a day, so walls heal themselves: each asks for a fresh snapshot every
`OLPE_WALL_SYNC_SECONDS`, and the consumer renews its group membership on
every such request.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.urls import reverse

from gallery.models import Creation
from inpainting_core.framing import Frame

logger = logging.getLogger(__name__)

GROUP = "wall"
# Channels turns "wall.message" into the consumer's `wall_message` handler.
MESSAGE_TYPE = "wall.message"

SNAPSHOT = "snapshot"
ADDED = "added"
UPDATED = "updated"
REMOVED = "removed"

# What `gallery.creations.creation_changed` announces, and what a wall makes of it.
SHOWN_ACTIONS = {"approved": ADDED, "featured": UPDATED, "unfeatured": UPDATED}
# Actions after which a creation is no longer public (a decision undone reopens it).
WITHDRAWN_ACTIONS = {"rejected", "reopened"}
DELETED_ACTION = "deleted"


def max_slides() -> int:
    return int(settings.OLPE_WALL_MAX_SLIDES)


def sync_seconds() -> int:
    return int(settings.OLPE_WALL_SYNC_SECONDS)


def reload_hours() -> float:
    """A wall reloads its page this often, as a last resort against anything stuck."""
    return float(settings.OLPE_WALL_RELOAD_HOURS)


# --- what a wall shows --------------------------------------------------------------------


def slide(creation: Creation) -> dict:
    slug = creation.slug
    return {
        "slug": slug,
        "title": creation.title,
        "wish": creation.prompt_original,
        "name": creation.visitor_name if creation.consent else "",
        "world": creation.world.name if creation.world_id else "",
        "featured": creation.featured,
        # where the change is: the wall moves from the whole map into it (None: shown whole)
        "frame": frame.as_dict() if (frame := Frame.from_dict(creation.frame)) else None,
        "created": creation.created_at.isoformat(),
        "before_url": reverse("gallery:before", args=[slug]),
        "after_url": reverse("gallery:after", args=[slug]),
        "qr_url": reverse("gallery:qr", args=[slug]),
        "page_url": reverse("gallery:creation", args=[slug]),
    }


def playlist() -> list[dict]:
    creations = Creation.objects.filter(status=Creation.Status.APPROVED).select_related("world")
    return [slide(creation) for creation in creations[: max_slides()]]


def snapshot_message() -> dict:
    return {"type": SNAPSHOT, "slides": playlist(), "max_slides": max_slides()}


# --- telling the walls --------------------------------------------------------------------


def on_creation_changed(sender, creation: Creation, action: str, **kwargs) -> None:
    """Receiver of `gallery.creations.creation_changed`, sent once the decision is committed.

    Deleting a creation that never was public tells no wall about it.
    """
    if action in SHOWN_ACTIONS and creation.is_public:
        send_to_walls({"type": SHOWN_ACTIONS[action], "slide": slide(creation)})
    elif action in WITHDRAWN_ACTIONS or (action == DELETED_ACTION and creation.is_public):
        send_to_walls({"type": REMOVED, "slug": creation.slug})


def send_to_walls(message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(GROUP, {"type": MESSAGE_TYPE, "message": message})
    except Exception:  # walls catch up with their next sync
        logger.warning("Could not send %s to the gallery walls", message["type"], exc_info=True)
