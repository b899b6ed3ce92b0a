"""Rate limits of the REST API and the legacy endpoint, by purpose, read at request time.

Each purpose has its own bucket (`DEFAULT_THROTTLE_RATES`), so spending one
never blocks another:

* "jobs": creating a job (POST /api/v1/jobs/, POST /inpainting/), per token
  user or else per IP address. Strict: a job costs a worker seconds to minutes.
  Only job creation counts here, and job creation counts nowhere else.
* "owner": whoever made a job (its browser session or token user) and curators
  reading it, its result and its previews, or cancelling it, per session or
  account. A safety net far above any polling client: a visitor whose wishes
  were just refused with 429 still watches and fetches the one that runs.
* "anon" / "user": every other read (gallery, worlds, engines, styles, the
  schema, someone else's job), per IP address or per account. Generous.

DRF's own throttles copy `DEFAULT_THROTTLE_RATES` when their module is
imported, so a rate changed later (a settings override, a test) would go
unnoticed; these read the current settings on every request instead.
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


class OwnerThrottle(FailOpen, SimpleRateThrottle):
    """A job's owner (or a curator) reading or cancelling it: the `owner` rate.

    Counted per account, or else per browser session; the view decides who
    owns the job (`inpainting.api.views.owns_job`) and picks this throttle
    only for them.
    """

    scope = "owner"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = f"session-{request.session.session_key or self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
