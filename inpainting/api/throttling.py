"""Rate limits of the REST API and the legacy endpoint, read at request time.

DRF's own throttles copy `DEFAULT_THROTTLE_RATES` when their module is
imported, so a rate changed later (a settings override, a test) would go
unnoticed; these read the current settings on every request instead. Job
creation has its own, stricter scope ("jobs"): a job costs a worker seconds
to minutes, a status request costs one database lookup.
"""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

# Used when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] names no rate for job creation.
DEFAULT_JOB_RATE = "10/minute"


class FailOpen:
    """Let requests through when the cache that counts them is down.

    In the scaled profile the counters live in Redis. A Redis restart must not
    turn every API request into a 500: kiosks could neither send a wish nor
    read their job. For those seconds the limit simply does not apply.
    """

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (ConnectionError, OSError, _redis_errors()) as error:
            logger.warning("Rate limit not applied, its cache is unreachable: %s", error)
            return True


def _redis_errors():
    try:
        from redis.exceptions import RedisError
    except ImportError:  # the embedded profile needs no Redis client
        return OSError
    return RedisError


class AnonThrottle(FailOpen, AnonRateThrottle):
    """Anonymous clients, by IP address: the `anon` rate."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(FailOpen, UserRateThrottle):
    """Authenticated clients (API tokens, curators), by user: the `user` rate."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class JobCreationThrottle(FailOpen, SimpleRateThrottle):
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
