"""
Django's error pages: the debug ones only for a developer on this machine, and
no secret on any of them.

With `DEBUG=true`, Django answers an exception with its technical page (the
traceback with each frame's local variables, the request, the settings) and a
404 with the URL patterns, to whoever asked. Here:

* only a request from 127.0.0.1 or ::1 that no proxy relayed (no
  `X-Forwarded-For`, `Forwarded` or `X-Real-IP`: a proxy on this machine makes
  every visitor look local) gets them; anyone else gets the plain page, as
  without DEBUG (`LocalDebugReporter`, `LocalDebugPagesMiddleware`);
* what they show is redacted as the logs are (`foundation.log_redaction`): the
  settings that hold credentials are hidden by name, local variables that hold a
  resolved `${VAR}` value show its placeholder, and the page as a whole is
  redacted of every known secret (`RedactingReporterFilter`). Django turns its
  filter off under DEBUG; this one stays on, so `@sensitive_variables` hides
  the variables it names there too.
"""

import re

from django.conf import settings
from django.http import Http404
from django.urls import Resolver404, get_resolver, resolve
from django.utils.html import escape
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from foundation import log_redaction

LOCAL_ADDRESSES = {"127.0.0.1", "::1"}
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
PLAIN_TEXT_ERROR = "Server Error (500)\n"


def is_local(request) -> bool:
    """Whether `request` comes from this machine, not through a proxy on it."""
    local = request.META.get("REMOTE_ADDR") in LOCAL_ADDRESSES
    return local and not any(name in request.headers for name in PROXY_HEADERS)


def _debug_hidden_from(request) -> bool:
    return request is not None and not is_local(request)


class RedactingReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, on under DEBUG too, that also hides the settings of
    URLs with credentials and every value `log_redaction` knows is secret."""

    # Django's names, then the settings whose values are URLs with credentials.
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE"
        "|DSN|WEBHOOK|DATABASE_URL|REDIS_URL|BROKER_URL|RESULT_BACKEND|LOCATION",
        flags=re.I,
    )

    def is_active(self, request) -> bool:
        return True

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return log_redaction.redact_text(cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, log_redaction.redact_value(value)) for name, value in variables]


class LocalDebugReporter(ExceptionReporter):
    """The technical 500 page for this machine, redacted; the plain one for others."""

    def get_traceback_html(self) -> str:
        if _debug_hidden_from(self.request):
            resolver = get_resolver(getattr(self.request, "urlconf", None))
            return resolver.resolve_error_handler(500)(self.request).content.decode()
        return _redact_html(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        if _debug_hidden_from(self.request):
            return PLAIN_TEXT_ERROR
        return log_redaction.redact_text(super().get_traceback_text())


def _redact_html(html: str) -> str:
    # The page shows values HTML-escaped: a secret with & or " in it is escaped too.
    for value, shown in log_redaction.known_secrets().items():
        html = html.replace(escape(value), escape(shown))
    return log_redaction.redact_text(html)


class LocalDebugPagesMiddleware:
    """Under DEBUG, a 404 answered to another machine is the plain 404 page, not
    Django's list of URL patterns. Last in MIDDLEWARE, so that CommonMiddleware
    still redirects to the URL with a slash."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG and _debug_hidden_from(request):
            try:  # a URL that matches no route never reaches a view
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404 as exc:
                return self.process_exception(request, exc)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not (settings.DEBUG and _debug_hidden_from(request) and isinstance(exception, Http404)):
            return None
        resolver = get_resolver(getattr(request, "urlconf", None))
        return resolver.resolve_error_handler(404)(request, exception)
