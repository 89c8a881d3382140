"""
One log line and two metrics per request (`request.summary`, as Dockerflow).

The logged path has no query string and the `refresh` secret is replaced, so
secrets never reach logs; metrics are labelled by route pattern, not raw URL.

A NUL character (`%00`) names nothing: no name may hold one (`foundation.names`),
and PostgreSQL refuses it in a query, which would fail the request with a 500. So
a path holding one is answered 404 and a query string holding one 400, here,
before any view looks it up.

A public read that an app can answer from its cache (`register_cached_answers`:
a cached check result) is answered by `CachedAnswersMiddleware`, before the URL
is resolved and before the middleware after it: a cache read and the bytes of the
answer, still logged, counted, with its CORS headers.

The session, authentication and messages middleware are skipped on the
*public reads*: GET and HEAD requests of the paths that apps register with
`register_public_reads()` (the checks API, the Dockerflow endpoints), which
monitors and load balancers poll and which need no session, user, token nor
message. Their subclasses below run exactly as Django's everywhere else: every
POST, PUT, PATCH and DELETE (the API's mutations, with their token or staff
session), the dashboard, the admin. Django's CSRF middleware is left as it is: it
checks nothing on a read anyway, and `check --deploy` looks for it.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessages
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessions
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
        if logger.isEnabledFor(logging.INFO):  # the line is built only to be written
            logger.info("", extra=_summary(request, response, duration))
        return response


def _route(request) -> str:
    cached_route = getattr(request, "cached_answer_route", None)
    if cached_route is not None:
        return cached_route
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
        # Only "%00" decodes to a NUL: a query string without one is not parsed here.
        raw = request.META.get("QUERY_STRING", "")
        if ("%00" in raw or "\x00" in raw) and any("\x00" in key + value for key, value in _query_items(request)):
            return JsonResponse({"detail": "The query string holds a NUL character."}, status=400)
        return self.get_response(request)


def _query_items(request):
    for key, values in request.GET.lists():
        for value in values:
            yield key, value


# --- Public reads: no session, user nor messages --------------------------------

READ_METHODS = frozenset({"GET", "HEAD"})
# Paths of read-only endpoints for programs, as regular expressions that match the
# whole path. An endpoint that changes something (`/checks/p/n/runs`) stays out,
# so that its GET is answered as it would be otherwise (405 to a staff session).
_public_reads: list[str] = [r"/__heartbeat__", r"/__lbheartbeat__", r"/__version__"]
_public_read = re.compile("|".join(_public_reads))


def register_public_reads(*patterns: str) -> None:
    """Serve GET and HEAD of the paths that `patterns` (regular expressions of the
    whole path) match without session, authentication nor messages; an app
    calls it from its `AppConfig.ready()`."""
    global _public_read
    _public_reads.extend(patterns)
    _public_read = re.compile("|".join(f"(?:{p})" for p in _public_reads))


def is_public_read(request) -> bool:
    return request.method in READ_METHODS and _public_read.fullmatch(request.path_info) is not None


# (compiled regular expression of the whole path, route label, answer function)
_cached_answers: list[tuple[re.Pattern, str, Callable]] = []


def register_cached_answers(pattern: str, route: str, answer: Callable) -> None:
    """
    Try `answer(request, **groups)` on the GET and HEAD requests whose path
    `pattern` matches (a regular expression of the whole path, with named
    groups), before URL resolution: it returns the response, or None to let the
    request go the normal way. `route` labels the request's metrics, as the
    route pattern of its URL would. An app calls it from `AppConfig.ready()`.
    """
    _cached_answers.append((re.compile(pattern), route, answer))


def cached_answer(request):
    """The response an app gives `request` from its cache (`register_cached_answers`),
    or None; the request is then labelled with the answer's route, for its metrics."""
    if request.method not in READ_METHODS:
        return None
    path = request.path_info
    for pattern, route, answer in _cached_answers:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        response = answer(request, **match.groupdict())
        if response is not None:
            request.cached_answer_route = route
            return response
    return None


class CachedAnswersMiddleware:
    """Answers the public reads that an app answers from its cache (see
    `register_cached_answers`), before the middleware after it and the URL. Under
    gunicorn, `foundation.wsgi.CachedAnswers` answers most of them even earlier."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = cached_answer(request)
        return self.get_response(request) if response is None else response


class _SkippedOnPublicReads:
    """Mixed into a Django middleware: public reads go straight past it."""

    def __call__(self, request):
        if is_public_read(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_SkippedOnPublicReads, DjangoSessions):
    pass


class AuthenticationMiddleware(_SkippedOnPublicReads, DjangoAuthentication):
    def __call__(self, request):
        if is_public_read(request):
            request.user = AnonymousUser()  # without a session, nobody is logged in
        return super().__call__(request)


class MessageMiddleware(_SkippedOnPublicReads, DjangoMessages):
    pass
