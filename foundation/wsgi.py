"""
The service's WSGI application: Django's, behind a shortcut for cached answers.

Monitors poll cached checks far more than anything else. Through Django's whole
request cycle such an answer cost twice the CPU of gunicorn's own work for it:
the handler, its signals (each closing the database connections and caches it
finds), and every middleware. `CachedAnswers` answers a GET that an app answers
from its cache (`foundation.middleware.cached_answer`) before Django's handler:
the same response, passed through the middleware that come before
`CachedAnswersMiddleware` in `MIDDLEWARE` (security headers, the request's log
line and metrics, CORS), exactly as Django would pass it, and nothing else. An
answer reads no database (the checks are in memory, the answer in the cache), so
the handler's signals have nothing to close.

Anything else (every other request, a read the cache cannot answer, a failure
while answering) goes to Django unchanged, where `CachedAnswersMiddleware` still
answers cached reads that reach it another way (HEAD, the test client, ASGI).
"""

import logging

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.wsgi import WSGIRequest
from django.utils.module_loading import import_string

from foundation.middleware import cached_answer

logger = logging.getLogger(__name__)
CACHED_ANSWERS_MIDDLEWARE = "foundation.middleware.CachedAnswersMiddleware"


class CachedAnswers:
    """WSGI middleware: `CachedAnswers(get_wsgi_application())`."""

    def __init__(self, application):
        self.application = application
        self._outer = None  # built at the first request, as Django builds its own chain

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            response = self._answer(environ)
            if response is not None:
                start_response(f"{response.status_code} {response.reason_phrase}", [
                    *response.items(),
                    *(("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()),
                ])
                # Its bytes, not the response: closing a response sends Django's
                # request_finished signal, for a request that never started.
                return [response.content]
        return self.application(environ, start_response)

    def _answer(self, environ):
        try:
            outer = self._outer_middleware()
            if outer is None:
                return None
            # A copy: WSGIRequest writes the decoded path into its environ, which
            # Django's handler, if it answers instead, must get as the server gave it.
            request = WSGIRequest({**environ})
            answer = cached_answer(request)
            if answer is None:
                return None
            request.cached_response = answer
            return outer(request)
        except Exception:  # Django answers it, and reports what fails in its own way
            logger.exception("A cached answer failed: Django answers the request")
            return None

    def _outer_middleware(self):
        """The middleware before CachedAnswersMiddleware, around the cached answer;
        None without CachedAnswersMiddleware (no cached answers, then)."""
        if self._outer is None:
            names = list(settings.MIDDLEWARE)
            if CACHED_ANSWERS_MIDDLEWARE not in names:
                return None
            handler = _cached_response
            for name in reversed(names[: names.index(CACHED_ANSWERS_MIDDLEWARE)]):
                try:
                    handler = import_string(name)(handler)
                except MiddlewareNotUsed:
                    continue
            self._outer = handler
        return self._outer


def _cached_response(request):
    return request.cached_response
