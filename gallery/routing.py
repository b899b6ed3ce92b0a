"""Websocket routes of the gallery; olpe_site/routing.py gathers them."""

from django.urls import path

from gallery.consumers import WallConsumer

websocket_urlpatterns = [
    path("ws/wall/", WallConsumer.as_asgi(), name="wall"),
]
