"""
The one access rule of the dashboard's pages and the one API permission, each case
on its own; `audits` and `errors` test their pages with the same cases.
"""

import base64
import json

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from foundation.access import IsStaffOrToken, dashboard_access

pytestmark = pytest.mark.django_db


@dashboard_access
def page(request):
    return HttpResponse(f"can_change={request.can_change}")


@dashboard_access(api=True)
def feed(request):
    return HttpResponse(f"can_change={request.can_change}")


def call(view, user, method="get"):
    request = getattr(RequestFactory(), method)("/dashboard/x/?a=1")
    request.user = user
    return view(request)


@pytest.fixture
def staff():
    return User.objects.create_user("staff", is_staff=True)


@pytest.fixture
def someone():
    return User.objects.create_user("someone")


def test_anonymous_visitors_are_sent_to_the_login_page_and_back():
    response = call(page, AnonymousUser())
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/x/%3Fa%3D1"


def test_anonymous_callers_of_a_feed_get_401_json():
    response = call(feed, AnonymousUser())
    assert response.status_code == 401 and response["Content-Type"] == "application/json"


def test_users_who_are_not_staff_get_the_403_page(someone):
    response = call(page, someone)
    assert response.status_code == 403
    assert b"not a staff account" in response.content and b"someone" in response.content


def test_users_who_are_not_staff_get_403_json_from_a_feed(someone):
    response = call(feed, someone)
    assert response.status_code == 403 and "staff" in json.loads(response.content)["detail"]


@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_staff_read_and_change(staff, method):
    assert call(page, staff, method).content == b"can_change=True"


def test_inactive_staff_are_not_staff(staff):
    staff.is_active = False
    assert call(page, staff).status_code == 403


@pytest.mark.parametrize("view", [page, feed])
def test_a_public_dashboard_is_read_only_for_everyone(settings, someone, view):
    settings.PUBLIC_DASHBOARD = True
    for user in (AnonymousUser(), someone):
        assert call(view, user).content == b"can_change=False"
        assert call(view, user, "head").status_code == 200


def test_a_public_dashboard_still_refuses_changes(settings, someone):
    settings.PUBLIC_DASHBOARD = True
    assert call(page, AnonymousUser(), "post").status_code == 302
    assert call(page, someone, "post").status_code == 403


# --- the API -------------------------------------------------------------------------


class PasswordIsToken(BaseAuthentication):
    """Another token-reading authenticator, as errors' Basic token auth is."""

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        key = base64.b64decode(header[6:]).decode().partition(":")[2]
        return TokenAuthentication().authenticate_credentials(key)


class Change(APIView):
    authentication_classes = [TokenAuthentication, PasswordIsToken, SessionAuthentication]
    permission_classes = [IsStaffOrToken]

    def post(self, request):
        return Response({"done": True})


def post(**headers):
    return Change.as_view()(APIRequestFactory().post("/change", **headers))


def test_api_without_credentials_is_401():
    assert post().status_code == 401


@pytest.mark.parametrize("is_staff, expected", [(True, 200), (False, 403)])
def test_api_sessions_need_staff(is_staff, expected):
    request = APIRequestFactory().post("/change")
    # As SessionMiddleware and AuthenticationMiddleware leave it, CSRF checked already.
    request.user = User.objects.create_user("u", is_staff=is_staff)
    request._dont_enforce_csrf_checks = True
    assert Change.as_view()(request).status_code == expected


@pytest.mark.parametrize("scheme", ["Token", "Basic"])
def test_api_tokens_of_active_users_need_no_staff(someone, scheme):
    key = Token.objects.create(user=someone).key
    credentials = key if scheme == "Token" else base64.b64encode(f"x:{key}".encode()).decode()
    assert post(HTTP_AUTHORIZATION=f"{scheme} {credentials}").status_code == 200
    someone.is_active = False
    someone.save(update_fields=["is_active"])
    assert post(HTTP_AUTHORIZATION=f"{scheme} {credentials}").status_code in (401, 403)
