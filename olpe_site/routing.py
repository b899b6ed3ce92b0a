"""Websocket routes of all apps, gathered in one place like urls.py."""

from django.urls import re_path

from gallery.routing import websocket_urlpatterns as gallery_websockets
from inpainting.routing import websocket_urlpatterns as inpainting_websockets
from inpainting.websockets import NotFoundConsumer

websocket_urlpatterns = [
    *inpainting_websockets,
    *gallery_websockets,
    # Last: any other path (a mistyped job id too) is closed with 4404, not a handshake error.
    re_path(r"", NotFoundConsumer.as_asgi()),
]
