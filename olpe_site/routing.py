"""Websocket routes of all apps, gathered in one place like urls.py."""

from inpainting.routing import websocket_urlpatterns as inpainting_websockets

websocket_urlpatterns = [
    *inpainting_websockets,
]
