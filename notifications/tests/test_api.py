"""Channels and maintenance windows through the API: who may, and what is refused."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token

from errors.models import Service
from notifications.models import Channel, MaintenanceWindow

WINDOWS, CHANNELS = "/api/notifications/windows/", "/api/notifications/channels/"


@pytest.fixture
def token(db) -> dict:
    key = Token.objects.create(user=User.objects.create_user("ci-bot")).key
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def post(client, path, body, headers):
    return client.post(path, body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_silence_for_two_hours_starts_now_and_names_who_made_it(client, token):
    Service.objects.create(name="api")
    answer = post(client, WINDOWS, {"name": "deploy", "duration": "2h", "services": ["api"]}, token)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    span = parse_datetime(body["ends_at"]) - parse_datetime(body["starts_at"])
    assert (span, body["created_by"], body["active"]) == (timedelta(hours=2), "ci-bot", True)


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"name": "x", "duration": "2h"}, "non_field_errors"),  # covers nothing
    ({"name": "x", "projects": ["p"], "duration": "soon"}, "duration"),
    ({"name": "x", "projects": ["p"], "duration": "30s"}, "duration"),  # under a minute
    ({"name": "x", "projects": ["p"], "duration": "367d"}, "duration"),
    ({"name": "x", "projects": ["p"], "duration": "99999999999999d"}, "duration"),
    ({"name": "x", "projects": ["p"], "crontab": "0 2 * * *", "duration": "8d"}, "duration"),
    ({"name": "x", "projects": ["p"], "crontab": "0 2 * *", "duration": "1h"}, "crontab"),
    ({"name": "x", "projects": ["p"], "crontab": "0 2 * * *"}, "duration"),
    ({"name": "x", "projects": ["p"]}, "ends_at"),
    ({"name": "x", "projects": ["p"], "starts_at": "2030-01-02T00:00:00Z",
      "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"name": "x", "projects": "p", "duration": "1h"}, "projects"),
    ({"name": "x", "projects": ["p"], "services": ["nope"], "duration": "1h"}, "services"),
])
def test_a_window_that_cannot_work_is_refused(client, token, body, field):
    answer = post(client, WINDOWS, body, token)
    assert answer.status_code == 400 and field in answer.json(), answer.content
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.django_db
def test_windows_are_readable_by_anyone_and_changed_only_with_credentials(client, token):
    window = MaintenanceWindow.objects.create(name="w", ends_at=timezone.now() + timedelta(hours=1))
    assert client.get(WINDOWS).json()[0]["name"] == "w"
    assert client.delete(f"{WINDOWS}{window.pk}/").status_code == 401
    assert client.delete(f"{WINDOWS}{window.pk}/", **token).status_code == 204


@pytest.mark.django_db
def test_a_channel_url_is_written_but_never_read_back(client, token):
    url = "https://hooks.slack.com/services/T0/B0/s3cr3t"
    answer = post(client, CHANNELS, {"name": "slack", "kind": "slack", "url": url}, token)
    assert answer.status_code == 201
    assert "s3cr3t" not in client.get(CHANNELS, **token).content.decode()
    assert Channel.objects.get().url == url


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"name": "a", "kind": "email", "recipients": []}, "recipients"),
    ({"name": "a", "kind": "email", "recipients": ["nobody"]}, "recipients"),
    ({"name": "a", "kind": "slack"}, "url"),
    ({"name": "a", "kind": "webhook", "url": "ftp://x"}, "url"),
    ({"name": "a", "kind": "pager", "url": "http://x"}, "kind"),
])
def test_a_channel_that_cannot_deliver_is_refused(client, token, body, field):
    answer = post(client, CHANNELS, body, token)
    assert answer.status_code == 400 and field in answer.json(), answer.content


@pytest.mark.django_db
def test_channels_need_credentials_even_to_read(client):
    assert client.get(CHANNELS).status_code == 401
