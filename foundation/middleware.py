"""
One log line and two metrics per request (`request.summary`, as Dockerflow).

The logged path has no query string and the `refresh` secret is replaced, so
secrets never reach logs; metrics are labelled by route pattern, not raw URL.

A NUL character (`%00`) names nothing: no name may hold one (`foundation.names`),
and PostgreSQL refuses it in a query, which would fail the request with a 500. So
a path holding one is answered 404 and a query string holding one 400, here,
before any view looks it up.
"""

import logging
import time
import uuid

from django.http import JsonResponse

from foundation import metrics

logger = logging.getLogger("request.summary")
HIDDEN_QUERY_PARAMETERS = ("refresh",)


class RequestSummaryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        duration = time.monotonic() - started
        endpoint = _route(request)
        metrics.REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        metrics.REQUEST_DURATION.labels(request.method, endpoint).observe(duration)
        logger.info("", extra=_summary(request, response, duration))
        return response


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    # `match.route` of the root is "": it is "/", not an unknown URL.
    return f"/{match.route}" if match is not None else "unmatched"


def _summary(request, response, duration: float) -> dict:
    return {
        "code": response.status_code,
        "t": round(duration * 1000),
        "agent": request.headers.get("User-Agent", ""),
        "path": request.path,
        "querystring": _safe_query(request),
        "method": request.method,
        "lang": request.headers.get("Accept-Language", ""),
        "rid": request.headers.get("X-Request-Id") or uuid.uuid4().hex,
    }


def _safe_query(request) -> dict:
    return {
        key: "[hidden]" if key in HIDDEN_QUERY_PARAMETERS else request.GET.getlist(key)
        for key in request.GET
    }


class HeadWithoutBodyMiddleware:
    """
    HEAD answers carry the headers of GET and no body. Django leaves stripping
    the body to the server, and gunicorn logs a warning for every such response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD" and not response.streaming:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response


class RefuseNulMiddleware:
    """404 for a path with a NUL character, 400 for a query string with one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return JsonResponse({"detail": "Not found."}, status=404)
        if any("\x00" in key + value for key, value in _query_items(request)):
            return JsonResponse({"detail": "The query string holds a NUL character."}, status=400)
        return self.get_response(request)


def _query_items(request):
    for key, values in request.GET.lists():
        for value in values:
            yield key, value
