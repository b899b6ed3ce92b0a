"""German first at the kiosk, English only when a visitor asks for it.

Django's LocaleMiddleware falls back to the browser's Accept-Language, and a
kiosk PC is often set up with an English browser. At the kiosk only the
visitor's own choice counts (the language cookie that `set_language` writes);
without one the kiosk speaks LANGUAGE_CODE and writes that cookie, so the
JavaScript catalog and the API's messages, which LocaleMiddleware translates,
speak the same language as the page.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.utils import translation


def chosen_language(request) -> str | None:
    """The language a visitor picked with the language switch, if it is one we offer."""
    code = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def set_language_cookie(response, code: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def german_first(view):
    """Render `view` in the visitor's chosen language, else in LANGUAGE_CODE (and remember it)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        chosen = chosen_language(request)
        if chosen is not None:
            return view(request, *args, **kwargs)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        response = view(request, *args, **kwargs)
        set_language_cookie(response, settings.LANGUAGE_CODE)
        return response

    return wrapper
