"""
What happens when a check starts failing or recovers: one event, logged, and
alerted unless something holds it back.

* a JSON log line (logger `check.state`), always;
* whether it alerts: not while the check is silenced (`Check.silenced_by`: a
  maintenance window), and as `audits.states.claim_alert` allows (at most once per
  ALERT_REPEAT; a recovery only if its failure alerted; reminders if opted in);
* a Sentry message when `SENTRY_DSN` is set: "p/n is failing" (error) or
  "p/n recovered" (info), fingerprinted by p/n so each check is one Sentry issue.
  The log line is kept out of Sentry (`ignore_logger`): one event, not two;
* a POST of the event as JSON to each of `WEBHOOK_URLS`, from a task that retries
  (the request never waits for it), with a `text` key for Slack and Mattermost;
* a notice to each of the check's channels (`Check.alert_channels`,
  `notifications.alerts`).

The webhook task lives here, beside the event it delivers, rather than in
`audits.tasks`: the tasks run checks, the runner sends events, and an event that
imported the tasks back would close an import cycle.
"""

import logging
import threading

import sentry_sdk
from celery import shared_task
from django.conf import settings
from django.utils import timezone
from sentry_sdk.integrations.logging import ignore_logger

from audits import states
from audits.states import FAILING, RECOVERED, REMINDER, STILL_FAILING
from checks import http
from foundation.background import enqueue
from notifications import alerts

logger = logging.getLogger("check.state")
# Sentry gets the fingerprinted message below; the ERROR line would be a second event.
ignore_logger(logger.name)

WORDS = {FAILING: "is failing", RECOVERED: "recovered", REMINDER: "is still failing"}


def emit(check, change: str, result) -> dict | None:
    """Log `change` of `check`, and alert it unless held back; the event alerted."""
    now = timezone.now()
    if change != STILL_FAILING:
        _log(payload(check, change, result))
    # A recovery is not silenced: those who were told of the failure hear of its end
    # (claim_alert sends one only then).
    reason = check.silenced_by(now) if change != RECOVERED else None
    if reason:
        if change != STILL_FAILING:
            logger.info("%s: not alerted (%s)", check, reason, extra={"reason": reason})
        return None
    alert = states.claim_alert(check, change, now)
    if alert is None:
        return None
    event = payload(check, alert, result)
    if change == STILL_FAILING:  # late (after a window, or ALERT_REPEAT) or a reminder
        logger.info("%s: alerted (%s)", check, alert, extra={"state": alert})
    if alert != REMINDER:
        _to_sentry(check, event)
    _to_webhooks(event)
    _to_channels(check, event)
    return event


def _log(event: dict) -> None:
    level = logging.ERROR if event["state"] == FAILING else logging.INFO
    fields = {k: v for k, v in event.items() if k != "message"}  # reserved by logging
    logger.log(level, event["message"], extra=fields)


def payload(check, change: str, result) -> dict:
    return {
        "message": f"{check} {WORDS.get(change, change)}",
        "project": check.project,
        "check": check.name,
        "state": change,
        "success": result.success,
        "datetime": result.datetime,
        "data": result.data,
        "url": check.get_absolute_url(),
        "environment": settings.ENV_NAME or None,
        "text": f"{check} {WORDS.get(change, change)}: {alerts.absolute(check.get_absolute_url())}",
    }


def _to_channels(check, event: dict) -> None:
    recovered = event["state"] == RECOVERED
    notice = alerts.notice(
        title=event["message"],
        text=check.description or f"{check.module} on {check}",
        path=check.get_absolute_url(),
        state=event["state"],
        # One severity for every notice of a check: Alertmanager identifies an alert by
        # its labels, and a recovery must carry the failure's to resolve it.
        severity="critical",
        labels={"alertname": "TelescopeCheckFailing", "project": check.project,
                "check": check.name, "tags": ",".join(check.tag_names())},
        event=event,
        starts_at=(check.failing_since or timezone.now()).isoformat(),
        ends_at=event["datetime"] if recovered else None,
    )
    alerts.send(notice, check.chosen_channel_ids(), project=check.project)


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
