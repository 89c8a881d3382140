"""
The session, authentication and messages middleware are skipped on public
reads (GET and HEAD of the paths apps register), and only there: a mutation of the
API keeps its CSRF check, and the dashboard its session.
"""

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import RequestFactory

from foundation.middleware import (
    AuthenticationMiddleware,
    MessageMiddleware,
    SessionMiddleware,
    is_public_read,
)

factory = RequestFactory()


def seen_by_view(middleware_class, request):
    seen = {}

    def view(request):
        seen.update(vars(request))
        return HttpResponse()

    middleware_class(view)(request)
    return seen


@pytest.mark.parametrize("method, path, public", [
    ("get", "/checks", True),
    ("get", "/checks/proj", True),
    ("head", "/checks/proj/name", True),
    ("get", "/checks/proj/name/history", True),
    ("get", "/checks/tags/a+b", True),
    ("get", "/uptime/proj/name", True),
    ("get", "/__lbheartbeat__", True),
    ("post", "/checks/proj/name/runs", False),
    ("get", "/checks/proj/name/runs", False),
    ("post", "/checks/proj/name", False),
    ("get", "/dashboard/", False),
    ("get", "/admin/", False),
    ("get", "/checksum", False),
])
def test_public_reads_are_the_registered_gets(method, path, public):
    assert is_public_read(getattr(factory, method)(path)) is public


@pytest.mark.parametrize("middleware, attribute", [
    (SessionMiddleware, "session"),
    (MessageMiddleware, "_messages"),
])
def test_a_public_read_gets_no_session_nor_messages(middleware, attribute):
    assert attribute not in seen_by_view(middleware, factory.get("/checks/proj/name"))


def test_a_public_read_is_anonymous(db):
    request = factory.get("/checks/proj/name")
    assert seen_by_view(AuthenticationMiddleware, request)["user"].is_anonymous


def test_anything_else_gets_the_session_and_messages(db):
    assert "session" in seen_by_view(SessionMiddleware, factory.get("/dashboard/"))
    request = factory.get("/dashboard/")
    request.session = {}
    assert "_messages" in seen_by_view(MessageMiddleware, request)


def test_a_post_to_the_api_still_needs_its_csrf_token(client, db):
    client = client.__class__(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    response = client.post("/checks/proj/name/runs")
    assert response.status_code == 403
    assert b"CSRF" in response.content


