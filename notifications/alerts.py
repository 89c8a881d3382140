"""
What the apps call to alert: build a notice (`notice()`), send it to channels
(`send()`). Each delivery is a task of its own, so one channel down delays no other.
"""

import logging

from django.conf import settings

from foundation.background import enqueue
from notifications import tasks

logger = logging.getLogger("notifications")


def absolute(path: str) -> str:
    """`path` as a link people can open: on PUBLIC_URL (else http://HOST:PORT)."""
    base = settings.PUBLIC_URL or f"http://{settings.HOST}:{settings.PORT}"
    return base.rstrip("/") + path


def notice(*, title: str, text: str, path: str, state: str, severity: str, labels: dict,
           event: dict, starts_at: str, ends_at: str | None = None) -> dict:
    return {
        "title": title, "text": text, "link": absolute(path), "state": state,
        "severity": severity, "labels": labels, "event": event,
        "starts_at": starts_at, "ends_at": ends_at,
    }


def send(notice: dict, channels) -> int:
    """Queue one delivery of `notice` per channel; the number queued."""
    queued = 0
    for channel in channels:
        try:
            enqueue(tasks.deliver, channel.pk, notice)
            queued += 1
        except Exception as exc:  # the broker is down: kombu raises many types
            logger.error("Cannot queue the notice to %s (%s): %s", channel, exc, notice["title"])
    return queued
