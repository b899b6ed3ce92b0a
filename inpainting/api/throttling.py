"""Rate limits of the REST API and the legacy endpoint, read at request time.

DRF's own throttles copy `DEFAULT_THROTTLE_RATES` when their module is
imported, so a rate changed later (a settings override, a test) would go
unnoticed; these read the current settings on every request instead. Job
creation has its own, stricter scope ("jobs"): a job costs a worker seconds
to minutes, a status request costs one database lookup.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

# Used when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] names no rate for job creation.
DEFAULT_JOB_RATE = "10/minute"


class AnonThrottle(AnonRateThrottle):
    """Anonymous clients, by IP address: the `anon` rate."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(UserRateThrottle):
    """Authenticated clients (API tokens, curators), by user: the `user` rate."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class JobCreationThrottle(SimpleRateThrottle):
    """New jobs, per user or else per IP address: the `jobs` rate.

    Works with DRF requests and with plain Django requests alike (it only
    reads `user` and `META`), so the legacy endpoint shares the same budget.
    """

    scope = "jobs"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope, DEFAULT_JOB_RATE)

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
