"""
Alerts of errors, through the notification channels: a new error group, or a
regression (a resolved group that gets errors again). `aggregation.ingest` calls
`after_ingest()` once its transaction is committed; a service in a maintenance
window alerts nobody. The channels: those chosen for the service
(`Channel.services`), else the default ones.
"""

import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from errors.models import ErrorGroup, Service
from notifications import alerts, maintenance
from notifications.models import Channel

logger = logging.getLogger("errors.alerts")


def unknown_services(names: list[str]) -> list[str]:
    known = set(Service.objects.filter(name__in=names).values_list("name", flat=True))
    return [n for n in names if n not in known]


def after_ingest(service: Service, groups: list[tuple[ErrorGroup, int, bool]]) -> None:
    """`groups`: (group, its total before, whether it was a regression before)."""
    news = [(g, "new error") for g, total, _ in groups if total == 0 and g.total_count > 0]
    news += [(g, "regression") for g, _, was in groups if g.regression and not was]
    if news:
        transaction.on_commit(lambda: _alert(service, news))


def _alert(service: Service, news) -> None:
    if maintenance.in_maintenance({"service": service.name}):
        logger.info("%s: %d error alerts not sent (maintenance)", service, len(news))
        return
    channels = Channel.objects.for_alert(service=service.name)
    for group, what in news:
        alerts.send(_notice(service, group, what), channels)


def _notice(service: Service, group: ErrorGroup, what: str) -> dict:
    title = f"{service}: {what}: {group.error_class or group.aggregation_key}"
    path = reverse("errors-group", args=[service.name, group.aggregation_key])
    event = {"message": title, "service": service.name, "state": what,
             "aggregation_key": group.aggregation_key, "severity": group.severity,
             "total_count": group.total_count, "url": path}
    return alerts.notice(
        title=title, text=group.message[:1000] or group.aggregation_key, path=path,
        state=what, severity=group.severity or "error",
        labels={"alertname": "TelescopeError", "service": service.name,
                "aggregation_key": group.aggregation_key[:200]},
        event=event, starts_at=(group.last_seen or timezone.now()).isoformat(),
    )
