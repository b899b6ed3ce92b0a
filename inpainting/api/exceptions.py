"""The API's answers to what goes wrong on the server's side rather than in the request.

A database that is down, restarting or locked raises OperationalError or
InterfaceError anywhere: in the view, in authentication (the session), in
the throttle's lookup of a job. None of that is the client's fault and all
of it passes, so the answer is a 503 with `Retry-After` and a readable
`detail`, never a 500 page; the kiosk shows its friendly "try again" from it.
Everything else is REST framework's own handling, with every error body in
one shape that keeps each message's stable code (REST framework's "full
details", `inpainting_core.problems.error_body`):
`{"field": [{"code": "empty_mask", "message": "Nothing is painted ..."}]}`,
`"detail"` for the request as a whole, `"non_field_errors"` for a body that
is wrong as a whole. Clients match codes; messages are translated.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as rest_framework_handler
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from inpainting_core.problems import DETAIL, error_body

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
    # As REST framework does inside its handler, so the coded body below sees them too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = rest_framework_handler(exc, context)
    if response is not None and isinstance(exc, APIException):
        response.data = coded_errors(exc.get_full_details())
        if getattr(exc, "job_status", None):  # a job's picture that is not there (yet)
            response.data["status"] = exc.job_status
    if response is None and isinstance(exc, DATABASE_UNAVAILABLE):
        request = context.get("request")
        log_database_problem(exc, getattr(request, "path", "?"))
        set_rollback()
        response = Response(
            error_body(database_unavailable_message(), code="unavailable"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return response


def coded_errors(details) -> dict:
    """REST framework's full details as `{"field": [{"code", "message"}]}`."""
    if isinstance(details, dict) and set(details) == {"message", "code"}:
        return {DETAIL: [_coded(details)]}
    if isinstance(details, list):
        return {api_settings.NON_FIELD_ERRORS_KEY: [_coded(item) for item in details]}
    return {field: _coded_value(value) for field, value in details.items()}


def _coded_value(value):
    if isinstance(value, list):
        return [_coded_value(item) for item in value]
    if isinstance(value, dict) and set(value) == {"message", "code"}:
        return _coded(value)
    if isinstance(value, dict):  # a nested serializer's errors
        return {field: _coded_value(inner) for field, inner in value.items()}
    return value


def _coded(detail: dict) -> dict:
    return {"code": detail["code"], "message": str(detail["message"])}
