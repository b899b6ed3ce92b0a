"""Server-rendered pages of the inpainting app."""

from django.conf import settings
from django.shortcuts import render

from inpainting_core import engines


def home(request):
    """The start page: what the platform does and which engines can run right now."""
    return render(
        request,
        "inpainting/home.html",
        {"engines": engines.statuses(), "default_engine": settings.OLPE_DEFAULT_ENGINE},
    )
