"""
Celery tasks of the notifications, on the `notifications` queue: one delivery of
one notice to one channel, retried with exponential backoff (in the embedded mode
too: `foundation.background.Task`), so that a receiver down for a few minutes
still gets the alert, and a receiver down for good costs a few attempts.
"""

import logging
import smtplib

from celery import shared_task

from checks import http
from notifications import senders
from notifications.models import Channel

logger = logging.getLogger("notifications")


@shared_task(
    name="notifications.tasks.deliver",
    ignore_result=True,
    autoretry_for=(http.HTTPError, smtplib.SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_kwargs={"max_retries": 8},
)
def deliver(channel_id: int, notice: dict) -> None:
    channel = Channel.objects.filter(pk=channel_id, enabled=True).first()
    if channel is None:
        logger.warning("Channel %s is gone or disabled: not sent: %s", channel_id, notice["title"])
        return
    senders.deliver(channel, notice)
    logger.info("Sent to %s: %s", channel, notice["title"])
