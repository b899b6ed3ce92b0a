"""Websocket routes of the inpainting app; olpe_site/routing.py gathers them."""

from django.urls import path

from inpainting.consumers import JobConsumer

websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/", JobConsumer.as_asgi(), name="job-events"),
]
