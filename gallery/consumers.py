"""The websocket `/ws/wall/`: the gallery wall's playlist, live (protocol in `gallery.wall`)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext

from gallery import wall

SYNC = "sync"


class WallConsumer(AsyncJsonWebsocketConsumer):
    """Anyone may watch: the wall shows only what the public gallery shows."""

    async def connect(self):
        await self.accept()
        # Join before reading the playlist, so no change falls in between.
        await self.channel_layer.group_add(wall.GROUP, self.channel_name)
        await self.send_snapshot()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(wall.GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("action") == SYNC:
            # Channel layers forget members after a day: renewing keeps a long-running wall live.
            await self.channel_layer.group_add(wall.GROUP, self.channel_name)
            await self.send_snapshot()
        else:
            await self.send_json({"type": "error", "reason": gettext("Unknown action.")})

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # answered as an unknown action

    async def wall_message(self, event):
        """A group message from `gallery.wall.send_to_walls`."""
        await self.send_json(event["message"])

    async def send_snapshot(self):
        await self.send_json(await database_sync_to_async(wall.snapshot_message)())
