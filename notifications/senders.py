"""
How a notice reaches each kind of channel: its payload, and the one request (or
email) that delivers it. A failure raises, and the delivery task retries.

A notice is a JSON-safe dict (the apps build it with `alerts.notice()`): `title`,
`text`, `link` (absolute), `state`, `severity`, `labels`, `event` (the webhook
payload), `starts_at`, `ends_at` (set when it is over: a recovery).

Slack and Teams get their own payloads over the one HTTP client: apprise would
add dozens of services through one dependency, but also its own HTTP stack,
beside `checks.http` (timeouts, size caps, no secret in an error); the webhook's
`text` key already suits Slack, Mattermost, Rocket.Chat and Zulip's Slack-
compatible endpoints.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.views.decorators.debug import sensitive_variables

from checks import http
from foundation import placeholders
from notifications.models import Channel, ChannelKind


@sensitive_variables("url")
def deliver(channel: Channel, notice: dict) -> None:
    if channel.kind == ChannelKind.EMAIL:
        _email(channel, notice)
        return
    url = placeholders.resolve(channel.url)
    if channel.kind == ChannelKind.ALERTMANAGER:
        url = url.rstrip("/") + "/api/v2/alerts"
    http.raise_for_status(http.fetch("POST", url, json=PAYLOADS[channel.kind](notice)))


def webhook(notice: dict) -> dict:
    """The event as WEBHOOK_URLS always received it, plus `text` and `link`."""
    return {**notice["event"], "text": _line(notice), "link": notice["link"]}


def slack(notice: dict) -> dict:
    return {"text": f"<{notice['link']}|{notice['title']}>\n{notice['text']}"}


def teams(notice: dict) -> dict:
    """An Adaptive Card, as Teams' workflow webhooks take it."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": notice["title"], "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": notice["text"], "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": notice["link"]}],
    }
    content_type = "application/vnd.microsoft.card.adaptive"
    return {"type": "message", "attachments": [{"contentType": content_type, "content": card}]}


def alertmanager(notice: dict) -> list[dict]:
    """One alert for Alertmanager's API v2; `endsAt` resolves it."""
    alert = {
        "labels": {"alertname": notice["labels"].get("alertname", "telescope"),
                   "severity": notice["severity"], **notice["labels"]},
        "annotations": {"summary": notice["title"], "description": notice["text"]},
        "generatorURL": notice["link"],
        "startsAt": notice["starts_at"],
    }
    if notice.get("ends_at"):
        alert["endsAt"] = notice["ends_at"]
    return [alert]


PAYLOADS = {
    ChannelKind.WEBHOOK: webhook,
    ChannelKind.SLACK: slack,
    ChannelKind.TEAMS: teams,
    ChannelKind.ALERTMANAGER: alertmanager,
}


def _email(channel: Channel, notice: dict) -> None:
    body = f"{notice['text']}\n\n{notice['link']}\n"
    send_mail(notice["title"], body, settings.ALERT_EMAIL_FROM, channel.recipients)


def _line(notice: dict) -> str:
    return f"{notice['title']}: {notice['link']}"
