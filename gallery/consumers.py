"""The websocket `/ws/wall/`: the gallery wall's playlist, live (protocol in `gallery.wall`)."""

from __future__ import annotations

from channels.db import database_sync_to_async

from gallery import wall
from olpe_site.websockets import ActionConsumer

SYNC = "sync"


class WallConsumer(ActionConsumer):
    """Anyone may watch: the wall shows only what the public gallery shows."""

    actions = {SYNC: "sync"}

    async def connect(self):
        await self.accept()
        # Join before reading the playlist, so no change falls in between.
        await self.channel_layer.group_add(wall.GROUP, self.channel_name)
        await self.send_snapshot()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(wall.GROUP, self.channel_name)

    async def sync(self):
        # Channel layers forget members after a day: renewing keeps a long-running wall live.
        await self.channel_layer.group_add(wall.GROUP, self.channel_name)
        await self.send_snapshot()

    async def wall_message(self, event):
        """A group message from `gallery.wall.send_to_walls`."""
        await self.send_json(event["message"])

    async def send_snapshot(self):
        await self.send_json(await database_sync_to_async(wall.snapshot_message)())
