"""
Celery tasks of the notifications, on the `notifications` queue:

* `dispatch`: the channels of a notice (`Channel.objects.for_alert`), read here
  rather than on the path that raised the alert (a scrape, a check run), after a
  last look at the maintenance windows when the caller asks; one `deliver` task
  each;
* `deliver`: one notice to one channel, retried with exponential backoff (in the
  embedded mode too: `foundation.background.Task`), so that a receiver down for a
  few minutes still gets the alert, and a receiver down for good costs a few
  attempts; one channel down delays no other.
"""

import logging
import smtplib

from celery import shared_task

from checks import http
from foundation.background import enqueue
from notifications import maintenance, senders
from notifications.models import Channel

logger = logging.getLogger("notifications")


@shared_task(name="notifications.tasks.dispatch", ignore_result=True)
def dispatch(notice: dict, chosen_ids: list[int], project: str | None, service: str | None,
             quiet_in: dict | None = None) -> int:
    """Queue a delivery of `notice` to each of its channels; how many. `quiet_in`:
    a maintenance scope (`MaintenanceWindow.covers`) that holds the notice back."""
    if quiet_in and maintenance.in_maintenance(quiet_in):
        logger.info("Not sent (maintenance): %s", notice["title"])
        return 0
    channels = Channel.objects.for_alert(chosen_ids, project=project, service=service)
    for channel in channels:
        enqueue(deliver, channel.pk, notice)
    return len(channels)


@shared_task(
    name="notifications.tasks.deliver",
    ignore_result=True,
    autoretry_for=(http.HTTPError, smtplib.SMTPException, OSError),
    retry_backoff=2,
    # Under the broker's visibility timeout (TASK_VISIBILITY_TIMEOUT_SECONDS, 300 s):
    # a retry held longer would be handed to a second worker, and sent twice.
    retry_backoff_max=240,
    retry_kwargs={"max_retries": 8},
)
def deliver(channel_id: int, notice: dict) -> None:
    channel = Channel.objects.filter(pk=channel_id, enabled=True).first()
    if channel is None:
        logger.warning("Channel %s is gone or disabled: not sent: %s", channel_id, notice["title"])
        return
    senders.deliver(channel, notice)
    logger.info("Sent to %s: %s", channel, notice["title"])
