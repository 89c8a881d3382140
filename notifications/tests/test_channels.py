"""Each kind of channel, delivered to a real receiver on 127.0.0.1."""

import json

import pytest

from notifications import alerts, tasks
from testing.waiting import wait_until


def notice(**changes) -> dict:
    fields = {
        "title": "web/home is failing",
        "text": "The home page answers 502",
        "path": "/checks/web/home",
        "state": "failing",
        "severity": "critical",
        "labels": {"alertname": "TelescopeCheckFailing", "project": "web", "check": "home",
                   "tags": "prod"},
        "event": {"message": "web/home is failing", "project": "web", "check": "home",
                  "state": "failing"},
        "starts_at": "2026-11-21T10:00:00+00:00",
    }
    return alerts.notice(**{**fields, **changes})


def posted(upstream, path: str):
    wait_until(lambda: upstream.hits(path) == 1)
    return json.loads(upstream.bodies[path][0])


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_URL = "https://telescope.example.com/"


@pytest.mark.django_db(transaction=True)
def test_webhook_gets_the_event_with_a_text_key_and_an_absolute_link(make_channel, upstream):
    channel = make_channel(kind="webhook", url=upstream.route("/hook"))
    alerts.send(notice(), [channel.pk])
    body = posted(upstream, "/hook")
    assert body["project"] == "web" and body["state"] == "failing"  # today's payload
    assert body["link"] == "https://telescope.example.com/checks/web/home"
    assert body["text"] == "web/home is failing: https://telescope.example.com/checks/web/home"


@pytest.mark.django_db(transaction=True)
def test_slack_gets_a_message_linking_to_the_check(make_channel, upstream):
    channel = make_channel(kind="slack", url=upstream.route("/services/T0/B0/x"))
    alerts.send(notice(), [channel.pk])
    body = posted(upstream, "/services/T0/B0/x")
    assert body == {"text": "<https://telescope.example.com/checks/web/home|web/home is failing>"
                            "\nThe home page answers 502"}


@pytest.mark.django_db(transaction=True)
def test_teams_gets_an_adaptive_card_with_a_link(make_channel, upstream):
    channel = make_channel(kind="teams", url=upstream.route("/workflows/1"))
    alerts.send(notice(), [channel.pk])
    (attachment,) = posted(upstream, "/workflows/1")["attachments"]
    card = attachment["content"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["body"][0]["text"] == "web/home is failing"
    assert card["actions"][0]["url"] == "https://telescope.example.com/checks/web/home"


@pytest.mark.django_db(transaction=True)
def test_alertmanager_gets_an_alert_with_labels_and_ends_it_on_recovery(make_channel, upstream):
    upstream.route("/api/v2/alerts")
    channel = make_channel(kind="alertmanager", url=upstream.url("/"))
    alerts.send(notice(), [channel.pk])
    wait_until(lambda: upstream.hits("/api/v2/alerts") == 1)
    alerts.send(notice(state="recovered", ends_at="2026-11-21T10:05:00+00:00"), [channel.pk])
    wait_until(lambda: upstream.hits("/api/v2/alerts") == 2)
    (firing,), (resolved,) = (json.loads(b) for b in upstream.bodies["/api/v2/alerts"])
    assert firing["labels"] == {"alertname": "TelescopeCheckFailing", "severity": "critical",
                                "project": "web", "check": "home", "tags": "prod"}
    assert firing["generatorURL"] == "https://telescope.example.com/checks/web/home"
    assert "endsAt" not in firing and resolved["endsAt"] == "2026-11-21T10:05:00+00:00"


@pytest.mark.django_db(transaction=True)
def test_email_goes_through_djangos_mail_settings(make_channel, smtp, settings):
    settings.ALERT_EMAIL_FROM = "telescope@example.com"
    channel = make_channel(kind="email", recipients=["ops@example.com", "dev@example.com"])
    alerts.send(notice(), [channel.pk])
    wait_until(lambda: smtp.messages)
    ((recipients, message),) = smtp.messages
    assert recipients == ["ops@example.com", "dev@example.com"]
    assert (message["Subject"], message["From"]) == ("web/home is failing", "telescope@example.com")
    assert "https://telescope.example.com/checks/web/home" in message.get_payload()


@pytest.mark.django_db(transaction=True)
def test_a_channel_url_placeholder_is_resolved_when_sending(make_channel, upstream, monkeypatch):
    upstream.route("/secret-hook")
    monkeypatch.setenv("HOOK_URL", upstream.url("/secret-hook"))
    channel = make_channel(kind="slack", url="${HOOK_URL}")
    alerts.send(notice(), [channel.pk])
    assert posted(upstream, "/secret-hook")["text"].startswith("<https://")


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_is_retried(make_channel, upstream, monkeypatch):
    monkeypatch.setattr(tasks.deliver, "retry_backoff", False)
    monkeypatch.setattr(tasks.deliver, "default_retry_delay", 0)
    channel = make_channel(kind="webhook", url=upstream.route("/down", status=502))
    alerts.send(notice(), [channel.pk])
    wait_until(lambda: upstream.hits("/down") >= 2)


@pytest.mark.django_db
def test_a_disabled_channel_sends_nothing(make_channel, upstream):
    channel = make_channel(kind="webhook", url=upstream.route("/hook"), enabled=False)
    tasks.deliver.apply((channel.pk, notice()))
    assert upstream.hits("/hook") == 0
