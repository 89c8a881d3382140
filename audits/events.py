"""
What happens when a check starts failing or recovers: one event, sent three ways.

* a JSON log line (logger `check.state`);
* a Sentry message when `SENTRY_DSN` is set: "p/n is failing" (error) or
  "p/n recovered" (info), fingerprinted by p/n so each check is one Sentry issue;
* a POST of the event as JSON to each of `WEBHOOK_URLS`, from a task that retries
  (the request never waits for it).

The webhook task lives here, beside the event it delivers, rather than in
`audits.tasks`: the tasks run checks, the runner sends events, and an event that
imported the tasks back would close an import cycle.
"""

import logging
import threading

import sentry_sdk
from celery import shared_task
from django.conf import settings

from audits.states import FAILING
from checks import http
from foundation.background import enqueue

logger = logging.getLogger("check.state")


def emit(check, change: str, result) -> dict:
    event = payload(check, change, result)
    level = logging.ERROR if change == FAILING else logging.INFO
    fields = {k: v for k, v in event.items() if k != "message"}  # reserved by logging
    logger.log(level, event["message"], extra=fields)
    _to_sentry(check, event)
    _to_webhooks(event)
    return event


def payload(check, change: str, result) -> dict:
    return {
        "message": f"{check} {'is failing' if change == FAILING else 'recovered'}",
        "project": check.project,
        "check": check.name,
        "state": change,
        "success": result.success,
        "datetime": result.datetime,
        "data": result.data,
        "url": check.get_absolute_url(),
        "environment": settings.ENV_NAME or None,
    }


def _to_sentry(check, event: dict) -> None:
    if not settings.SENTRY_DSN:
        return
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = [f"{check}"]
        scope.set_tag("source", "check")
        scope.set_extra("data", event["data"])
        level = "error" if event["state"] == FAILING else "info"
        sentry_sdk.capture_message(event["message"], level=level)


# Named as when it was in audits.tasks, so that tasks already queued still run.
@shared_task(
    name="audits.tasks.send_webhook",
    ignore_result=True,
    autoretry_for=(http.HTTPError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
)
def send_webhook(url: str, event: dict) -> None:
    """POST a state change to one webhook, retrying with backoff."""
    response = http.fetch("POST", url, json=event)
    http.raise_for_status(response)


def _to_webhooks(event: dict) -> None:
    for url in settings.WEBHOOK_URLS:
        try:
            enqueue(send_webhook, url, event)
        except Exception as exc:  # the broker is down: send it once, from here
            logger.warning("Task queue unavailable (%s): posting the event directly", exc)
            threading.Thread(target=_post_once, args=(url, event), daemon=True).start()


def _post_once(url: str, event: dict) -> None:
    try:
        http.raise_for_status(http.fetch("POST", url, json=event))
    except http.HTTPError as exc:
        logger.error("Webhook failed: %s", exc)  # the client's words: method, safe URL, reason
