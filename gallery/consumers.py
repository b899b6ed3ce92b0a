"""The websocket `/ws/wall/`: the gallery wall's playlist, live (protocol in `gallery.wall`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Optional

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from gallery import wall
from inpainting.websockets import ActionConsumer

logger = logging.getLogger(__name__)

SYNC = "sync"


class WallConsumer(ActionConsumer):
    """Anyone may watch: the wall shows only what the public gallery shows."""

    actions = {SYNC: "sync"}

    fallback: Optional[asyncio.Task] = None
    last_snapshot: Optional[dict] = None

    async def connect(self):
        await self.accept()
        # Join before reading the playlist, so no change falls in between.
        await self._join()
        await self.send_snapshot()

    async def disconnect(self, code):
        if self.fallback is not None:
            self.fallback.cancel()
        await self.leave_group(wall.GROUP)

    async def sync(self):
        # Channel layers forget members after a day: renewing keeps a long-running wall live.
        await self._join()
        await self.send_snapshot()

    async def wall_message(self, event):
        """A group message from `gallery.wall.send_to_walls`."""
        await self.send_json(event["message"])

    async def send_snapshot(self, only_if_changed: bool = False):
        snapshot = await database_sync_to_async(wall.snapshot_message)()
        if not (only_if_changed and snapshot == self.last_snapshot):
            self.last_snapshot = snapshot
            await self.send_json(snapshot)

    async def _join(self) -> None:
        if not await self.join_group(wall.GROUP) and self.fallback is None:
            self.fallback = asyncio.create_task(self._read_database_until_layer_is_back())

    async def _read_database_until_layer_is_back(self) -> None:
        """Without the layer no decision reaches this wall: look at the playlist instead."""
        try:
            while True:
                await asyncio.sleep(settings.OLPE_WS_CHECK_SECONDS)
                joined = await self.join_group(wall.GROUP)
                try:
                    await self.send_snapshot(only_if_changed=True)  # what was missed meanwhile
                except DatabaseError:  # both away at once: the wall keeps its slides
                    logger.warning("Wall socket cannot read the playlist", exc_info=True)
                if joined:
                    return
        finally:
            self.fallback = None
