"""
Under gunicorn, a cached check is answered before Django's handler
(`foundation.wsgi.CachedAnswers`, in `telescope_site.wsgi`): the same status,
headers and bytes as Django's answer, through the same outer middleware (security
headers, CORS, the request log and metrics), with no query. Anything else goes to
Django unchanged.
"""

import logging

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from audits.tests.checkmods import counter
from foundation import metrics
from django.core.wsgi import get_wsgi_application

from foundation.wsgi import CachedAnswers
from telescope_site.wsgi import application

URL = "/checks/proj/one"
ROUTE = "/checks/<str:project>/<str:name>"


def call(method="GET", path=URL, application=application, raw_path=None, **headers):
    """(status, headers, body, queries) of `application` for one request; `raw_path`:
    PATH_INFO as the server passes it (PEP 3333: the bytes read as Latin-1)."""
    environ = RequestFactory().generic(method, path, **headers).environ
    if raw_path is not None:
        environ["PATH_INFO"] = raw_path
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = status, response_headers

    # As Django's test client does: the handler's signals would close the test's
    # database connection, and its transaction with it.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        with CaptureQueriesContext(connection) as queries:
            result = application(environ, start_response)
            body = b"".join(result)
            getattr(result, "close", lambda: None)()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)
    return started["status"], dict(started["headers"]), body, len(queries)


@pytest.fixture
def one(make_check):
    return make_check(name="one", module="counter", tags=["a"], description="First.")


def test_a_cached_check_is_answered_before_django_the_same_way(one):
    rendered = call()  # Django's: runs the check, renders and keeps the answer
    assert rendered[3] > 0
    cached = call()
    assert cached[3] == 0
    assert cached[:3] == rendered[:3]
    assert cached[1]["Content-Length"] == str(len(cached[2]))
    assert counter.calls() == [""]  # one run


def test_a_cached_answer_skips_django_s_handler(one):
    started = []

    def count(**kwargs):
        started.append(kwargs)

    call()
    request_started.connect(count)
    try:
        assert call()[0] == "200 OK"
        assert started == []  # the handler sends it first thing
        call("GET", "/checks/proj")  # not a cached answer of this kind: Django's
        assert len(started) == 1
    finally:
        request_started.disconnect(count)


def test_a_failing_cached_check_is_answered_503(make_check):
    make_check(name="one", module="echo", params={"url": "u", "ok": False})
    rendered = call()
    cached = call()
    assert (cached[0], cached[3]) == ("503 Service Unavailable", 0)
    assert cached[:3] == rendered[:3]


@pytest.mark.parametrize("secure", [False, True])
def test_the_security_headers_are_those_django_adds(one, settings, secure):
    # Read at each request (SecurityMiddleware reads the others once, at start).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proto = {"HTTP_X_FORWARDED_PROTO": "https" if secure else "http"}
    rendered = call(**proto)
    cached = call(**proto)
    assert cached[3] == 0
    assert cached[1] == rendered[1]
    assert ("Strict-Transport-Security" in cached[1]) is (secure and settings.SECURE_HSTS_SECONDS > 0)


def test_an_origin_gets_the_cors_headers_django_gives(one, settings):
    settings.CORS_ALLOW_ALL_ORIGINS = True
    call()
    status, headers, _, queries = call(HTTP_ORIGIN="https://dashboard.example.com")
    assert (status, queries) == ("200 OK", 0)
    headers = {name.lower(): value for name, value in headers.items()}
    assert headers["access-control-allow-origin"] == "*"
    assert "origin" in headers["vary"]


def test_the_ssl_redirect_still_applies(one, settings):
    call()
    settings.SECURE_SSL_REDIRECT = True  # read when the middleware is made, as Django's
    status, headers, _, _ = call(application=CachedAnswers(get_wsgi_application()))
    assert status.startswith("301")
    assert headers["Location"] == f"https://testserver{URL}"


def test_a_cached_answer_is_logged_and_counted_under_its_route(one, caplog):
    counted = metrics.REQUESTS.labels("GET", ROUTE, 200)
    call()
    before = counted._value.get()
    caplog.set_level(logging.INFO, logger="request.summary")
    assert call()[3] == 0
    assert counted._value.get() == before + 1
    [record] = [r for r in caplog.records if r.name == "request.summary"]
    assert (record.path, record.code, record.method) == (URL, 200, "GET")


@pytest.mark.parametrize("method, path, headers", [
    ("POST", URL, {}),  # a mutation: CSRF, authentication, the view
    ("GET", URL + "?refresh=x", {"QUERY_STRING": "refresh=x"}),
    ("GET", URL, {"HTTP_ACCEPT": "text/plain"}),
    ("GET", "/checks/proj/unknown", {}),
])
def test_anything_else_goes_to_django(one, method, path, headers):
    call()
    status, _, _, queries = call(method, path, **headers)
    assert queries > 0 or not status.startswith("200"), f"{method} {path} was answered from the cache"


def test_a_path_that_is_not_utf_8_goes_to_django_as_the_server_gave_it(one):
    status, _, _, _ = call(raw_path="/checks/proj/I\xf3\xaf\xae\xa5")  # .../I%F3%AF%AE%A5
    assert status.startswith("404")


def test_a_failing_answer_falls_back_to_django(one, monkeypatch, caplog):
    call()
    from foundation import wsgi

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(wsgi, "cached_answer", broken)
    status, _, body, _ = call()
    assert status == "200 OK" and body  # Django's own cached answer (CachedAnswersMiddleware)
    assert "A cached answer failed" in caplog.text


def test_without_the_cached_answers_middleware_nothing_is_answered_early(one, settings):
    call()
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("CachedAnswersMiddleware")]
    assert call(application=CachedAnswers(get_wsgi_application()))[3] > 0
