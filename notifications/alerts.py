"""
What the apps call to alert: build a notice (`notice()`), send it (`send()`) with
what chooses its channels (the channels its check or tags chose, its project, its
error service). The channels are read, and each delivered, by tasks
(`notifications.tasks`): the path that raised the alert does not wait for them.
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


def send(notice: dict, chosen_ids=(), project: str | None = None,
         service: str | None = None, quiet_in: dict | None = None) -> None:
    """Queue `notice` for its channels (see `Channel.objects.for_alert`), unless a
    maintenance window covers `quiet_in` (a scope, see `MaintenanceWindow.covers`)
    when the task reads them."""
    try:
        enqueue(tasks.dispatch, notice, sorted(chosen_ids), project, service, quiet_in)
    except Exception as exc:  # the broker is down: kombu raises many types
        logger.error("Cannot queue the notice (%s): %s", exc, notice["title"])
