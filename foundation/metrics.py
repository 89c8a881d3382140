"""
The service's Prometheus metrics: the requests it serves, and the `/__metrics__`
view that exposes every app's metrics from the one registry.

Labels are bounded on purpose: requests are labelled by route pattern, never by
raw URL (Telescope's raw URL label leaked `?refresh=<secret>` and grew without
bound).
"""

from django.http import HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

PREFIX = "telescope"

REQUESTS = Counter(
    f"{PREFIX}_request_summary",
    "HTTP requests served, by route pattern.",
    ["method", "endpoint", "status"],
)
REQUEST_DURATION = Histogram(
    f"{PREFIX}_request_duration_seconds",
    "Time to serve an HTTP request, by route pattern.",
    ["method", "endpoint"],
)


@require_safe
def metrics(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
