"""What every websocket of the platform shares: small JSON actions from the browser."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext


class ActionConsumer(AsyncJsonWebsocketConsumer):
    """A JSON consumer that answers malformed or unknown messages instead of closing.

    Kiosks and the wall run for days: a stray message must not cost them
    their connection. Subclasses map action names to coroutines in `actions`.
    """

    actions: dict[str, str] = {}

    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        handler = self.actions.get(action)
        if handler is None:
            await self.send_json({"type": "error", "reason": gettext("Unknown action.")})
        else:
            await getattr(self, handler)()

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # answered as an unknown action
