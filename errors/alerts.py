"""
Alerts of errors, through the notification channels: a new error group, a
regression (a resolved group that gets errors again), or a service's error rate
reaching its `alert_rate_per_hour` (at most one such alert an hour).
`aggregation.merge` calls `after_ingest()`; the alerts leave once its transaction
is committed, to a task that reads the channels and the maintenance windows (a
service in a window alerts nobody), so that a scrape queries neither. The channels: those
chosen for the service (`Channel.services`), else the default ones.
"""

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from errors.models import ErrorGroup, Service
from notifications import alerts

def unknown_services(names: list[str]) -> list[str]:
    known = set(Service.objects.filter(name__in=names).values_list("name", flat=True))
    return [n for n in names if n not in known]


def after_ingest(service: Service, groups: list[tuple[ErrorGroup, int, bool, int]]) -> None:
    """`groups`: (group, its total and regression flag before the merge, the
    occurrences the merge added)."""
    news = [(g, "new error", added) for g, total, _, added in groups if total == 0 and added > 0]
    news += [(g, "regression", total + added) for g, total, was, added in groups
             if g.regression and not was]
    rate_watched = bool(service.alert_rate_per_hour and any(a for *_, a in groups))
    if news or rate_watched:
        transaction.on_commit(lambda: _alert(service, news, rate_watched))


def _alert(service: Service, news, rate_watched: bool) -> None:
    notices = [_notice(service, group, what, total) for group, what, total in news]
    now = timezone.now()
    if rate_watched:
        rate = service.error_rate(now)
        if rate >= service.alert_rate_per_hour and service.claim_rate_alert(now):
            notices.append(_rate_notice(service, rate, now))
    for notice in notices:  # the task checks the windows: the scrape reads none
        alerts.send(notice, service=service.name, quiet_in={"service": service.name})


def _rate_notice(service: Service, rate: int, now) -> dict:
    title = f"{service}: {rate} errors in the last hour"
    path = reverse("errors-service", args=[service.name])
    event = {"message": title, "service": service.name, "state": "error rate",
             "rate_per_hour": rate, "threshold": service.alert_rate_per_hour, "url": path}
    return alerts.notice(
        title=title, text=f"The threshold is {service.alert_rate_per_hour} an hour.", path=path,
        state="error rate", severity="warning",
        labels={"alertname": "TelescopeErrorRate", "service": service.name},
        event=event, starts_at=now.isoformat(),
    )


def _notice(service: Service, group: ErrorGroup, what: str, total: int) -> dict:
    title = f"{service}: {what}: {group.error_class or group.aggregation_key}"
    path = reverse("errors-group", args=[service.name, group.aggregation_key])
    event = {"message": title, "service": service.name, "state": what,
             "aggregation_key": group.aggregation_key, "severity": group.severity,
             "total_count": total, "url": path}
    return alerts.notice(
        title=title, text=group.message[:1000] or group.aggregation_key, path=path,
        state=what, severity=group.severity or "error",
        labels={"alertname": "TelescopeError", "service": service.name,
                "aggregation_key": group.aggregation_key[:200]},
        event=event, starts_at=(group.last_seen or timezone.now()).isoformat(),
    )
