"""
Anonymous readers of the errors APIs (Periskop's and `/api/errors/`) are
rate-limited per client IP, at `ERRORS_ANONYMOUS_RATE` ("10/second" by default,
DRF's syntax: a number per second, minute, hour or day), so that a crowd of
dashboards polling a big service cannot starve the rest of the service, its
`/__lbheartbeat__` included. Over the rate they get 429 with `Retry-After`.
Staff sessions and API token holders are not limited.

The client's IP is the last address of `X-Forwarded-For` (the one the proxy in
front of the service added) or, without a proxy, the connection's.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle

from foundation.api_schema import refusals

# For the OpenAPI schema of every throttled operation.
THROTTLED = refusals({429: "Too many anonymous requests from this address: wait Retry-After seconds."})


class AnonymousReaders(AnonRateThrottle):
    scope = "errors-anonymous"

    def get_rate(self):
        # Read at each request, so that the setting can change without a restart
        # of the class (tests, and the bench, set it).
        return settings.ERRORS_ANONYMOUS_RATE

    def get_ident(self, request):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        return last or request.META.get("REMOTE_ADDR", "")
