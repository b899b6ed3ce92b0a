"""Websocket routes of all apps, gathered in one place like urls.py."""

from gallery.routing import websocket_urlpatterns as gallery_websockets
from inpainting.routing import websocket_urlpatterns as inpainting_websockets

websocket_urlpatterns = [
    *inpainting_websockets,
    *gallery_websockets,
]
