"""
Who sees the errors' dashboard pages and who may resolve, unresolve and ignore:
staff only, unless PUBLIC_DASHBOARD opens a read-only view; CSRF on every change.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from errors.dashboard.views import group_url
from errors.models import ErrorGroup, GroupStatus, Service

pytestmark = pytest.mark.django_db

KEY = "KeyError@cart/items py"


@pytest.fixture
def group(make_group, make_occurrence):
    group = make_group(KEY, total_count=5)
    make_occurrence(group, "u1")
    make_occurrence(group, "u2", group.last_seen - timedelta(minutes=1))
    return group


def pages(group) -> list[str]:
    return [
        reverse("errors-dashboard"),
        reverse("errors-service", args=["shop"]),
        group_url("shop", group.aggregation_key),
        reverse("errors-targets", args=["shop"]),
    ]


def reloaded(group) -> ErrorGroup:
    return ErrorGroup.objects.get(pk=group.pk)


def active_keys(client) -> list[str]:
    html = client.get(reverse("errors-service", args=["shop"])).content.decode()
    return re.findall(r'<tr data-group="([^"]*)"', html)


@pytest.fixture
def user_client(db):
    client = Client()
    client.force_login(User.objects.create_user("someone"))
    return client


# --- reading ------------------------------------------------------------------------


def test_anonymous_people_are_sent_to_the_login_page(client, group):
    for url in pages(group):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/dashboard/errors/")


def test_users_who_are_not_staff_get_the_403_page(user_client, group):
    for url in pages(group):
        response = user_client.get(url)
        assert response.status_code == 403, url
        assert "dashboard/forbidden.html" in [t.name for t in response.templates], url
        assert b"not a staff account" in response.content


def test_staff_read_every_page(staff_client, group):
    for url in pages(group):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert b'aria-current="page">Errors</a>' in response.content


def test_public_dashboard_is_read_only(client, group, settings):
    settings.PUBLIC_DASHBOARD = True
    for url in pages(group):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'name="action"' not in response.content
        assert b"csrfmiddlewaretoken" not in response.content
    response = client.post(group_url("shop", KEY), {"action": "resolve"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_public_dashboard_still_refuses_changes_from_non_staff(user_client, group, settings):
    settings.PUBLIC_DASHBOARD = True
    assert user_client.get(group_url("shop", KEY)).status_code == 200
    response = user_client.post(group_url("shop", KEY), {"action": "resolve"})
    assert response.status_code == 403 and b"not a staff account" in response.content
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_other_methods_are_not_allowed(staff_client, group):
    assert staff_client.post(reverse("errors-service", args=["shop"])).status_code == 405
    assert staff_client.delete(group_url("shop", KEY)).status_code == 405


# --- changing -----------------------------------------------------------------------


def test_staff_resolve_and_the_group_leaves_the_active_list(staff_client, group, make_group):
    make_group("Other@x")
    assert sorted(active_keys(staff_client)) == [KEY, "Other@x"]
    url = group_url("shop", KEY)
    response = staff_client.post(f"{url}?occurrence=2", {"action": "resolve"})
    assert response.status_code == 302
    assert response["Location"] == f"{url}?occurrence=2"
    assert reloaded(group).status == GroupStatus.RESOLVED
    html = staff_client.get(response["Location"]).content.decode()
    assert f"Resolved {KEY}" in html and 'data-occurrence-index="2"' in html
    assert active_keys(staff_client) == ["Other@x"]
    resolved = staff_client.get(reverse("errors-service", args=["shop"]), {"status": "resolved"})
    assert f'data-group="{KEY}"' in resolved.content.decode()


def test_staff_unresolve(staff_client, group):
    group.resolve()
    response = staff_client.post(group_url("shop", KEY), {"action": "unresolve"})
    assert response.status_code == 302
    assert reloaded(group).status == GroupStatus.ACTIVE
    assert active_keys(staff_client) == [KEY]


def test_staff_ignore_for_good_or_for_a_while(staff_client, group):
    assert staff_client.post(group_url("shop", KEY), {"action": "ignore"}).status_code == 302
    ignored = reloaded(group)
    assert ignored.status == GroupStatus.IGNORED and ignored.ignored_until is None
    assert active_keys(staff_client) == []

    staff_client.post(group_url("shop", KEY), {"action": "ignore", "ignore_for": "24"})
    until = reloaded(group).ignored_until
    assert timedelta(hours=23) < until - timezone.now() <= timedelta(hours=24)


def test_bad_actions_are_refused(staff_client, group):
    url = group_url("shop", KEY)
    assert staff_client.post(url, {"action": "delete"}).status_code == 400
    assert staff_client.post(url, {"action": "ignore", "ignore_for": "-5"}).status_code == 400
    assert staff_client.post(url).status_code == 400
    assert reloaded(group).status == GroupStatus.ACTIVE


@pytest.mark.parametrize("action", ["resolve", "unresolve", "ignore"])
def test_anonymous_people_cannot_change(client, group, action):
    group.ignore() if action == "unresolve" else None
    before = reloaded(group).status
    response = client.post(group_url("shop", KEY), {"action": action})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert reloaded(group).status == before


@pytest.mark.parametrize("action", ["resolve", "unresolve", "ignore"])
def test_users_who_are_not_staff_cannot_change(user_client, group, action):
    group.resolve() if action == "unresolve" else None
    before = reloaded(group).status
    assert user_client.post(group_url("shop", KEY), {"action": action}).status_code == 403
    assert reloaded(group).status == before


def test_changes_need_the_csrf_token(group):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    url = group_url("shop", KEY)
    assert client.post(url, {"action": "resolve"}).status_code == 403
    assert reloaded(group).status == GroupStatus.ACTIVE

    html = client.get(url).content.decode()  # the form carries the token
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(url, {"action": "resolve", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert reloaded(group).status == GroupStatus.RESOLVED


def test_unknown_group_change_is_404(staff_client, group):
    Service.objects.create(name="billing")
    assert staff_client.post(group_url("billing", KEY), {"action": "resolve"}).status_code == 404
