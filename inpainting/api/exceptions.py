"""The API's answers to what goes wrong on the server's side rather than in the request.

A database that is down, restarting or locked raises OperationalError or
InterfaceError anywhere: in the view, in authentication (the session), in
the throttle's lookup of a job. None of that is the client's fault and all
of it passes, so the answer is a 503 with `Retry-After` and a readable
`detail`, never a 500 page; the kiosk shows its friendly "try again" from it.
Everything else is REST framework's own handling.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as rest_framework_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

# What a database that cannot be reached or used right now raises.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Seconds a client should wait before trying again: a restart or a lock passes by then.
RETRY_AFTER_SECONDS = 30


def database_unavailable_message():
    return _("The service is briefly unavailable. Please try again in a moment.")


def log_database_problem(error: Exception, path: str) -> None:
    logger.error("Database unavailable while answering %s: %s", path, error, exc_info=error)


def exception_handler(exc, context):
    response = rest_framework_handler(exc, context)
    if response is None and isinstance(exc, DATABASE_UNAVAILABLE):
        request = context.get("request")
        log_database_problem(exc, getattr(request, "path", "?"))
        set_rollback()
        response = Response(
            {"detail": str(database_unavailable_message())},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return response
