"""Session authentication that checks CSRF for every browser session, not only logged-in ones.

REST framework's SessionAuthentication enforces CSRF only once a user is
logged in. The kiosk's visitors are anonymous, but their browser session
owns their jobs (it may cancel them, and reads them without limits): a page
of another site could otherwise post a wish, or cancel one, in the name of a
visitor's session. So:

* a request that carries the session cookie and no token must pass Django's
  CSRF check on unsafe methods (POST, DELETE, ...), logged in or not; the
  kiosk sends the token in `X-CSRFToken`;
* token clients (`Authorization: Token ...`) are authenticated before this
  class is asked and are not affected;
* a client without a session cookie (a script, `manage.py olpe_client`) has no
  session that a forged request could borrow, so it needs no token.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions
from rest_framework.authentication import CSRFCheck, SessionAuthentication


def _no_response(request):  # CSRFCheck needs a get_response it never calls here
    return None


class CsrfSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        authenticated = super().authenticate(request)  # enforces CSRF for logged-in users
        if authenticated is None and settings.SESSION_COOKIE_NAME in request._request.COOKIES:
            self.enforce_csrf(request)
        return authenticated

    def enforce_csrf(self, request):
        """Django's CSRF check (safe methods pass), with a message the visitor can read."""
        check = CSRFCheck(_no_response)
        check.process_request(request)  # populates request.META["CSRF_COOKIE"]
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(
                _("The request came without a valid CSRF token. Please reload the page.")
            )


class CsrfSessionScheme(SessionScheme):
    """The session cookie in the OpenAPI schema, with the CSRF rule that comes with it."""

    target_class = "inpainting.api.authentication.CsrfSessionAuthentication"
    priority = 0

    def get_security_definition(self, auto_schema):
        return {
            **super().get_security_definition(auto_schema),
            "description": (
                "The browser session (the kiosk). Requests that send it must also send "
                "Django's CSRF token in `X-CSRFToken` for POST and DELETE, logged in or not. "
                "Clients without a session cookie need no token."
            ),
        }
