"""Site-wide answers to a database that is down: 503 with Retry-After, never a 500 page.

REST framework views answer this themselves (`inpainting.api.exceptions`);
this middleware covers every other view: JSON for the API, the legacy
endpoint and clients that ask for JSON, a short text for pages.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from inpainting.api.exceptions import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    database_unavailable_message,
    log_database_problem,
)

JSON_PATHS = ("/api/", "/inpainting/")


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Sync and async alike (MiddlewareMixin), so ASGI requests need no thread switch here."""

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        log_database_problem(exception, request.path)
        message = str(database_unavailable_message())
        if request.path.startswith(JSON_PATHS) or "application/json" in request.headers.get(
            "Accept", ""
        ):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
