"""Errors alert through the notification channels: a new group, a regression."""

import json

import pytest

from errors import aggregation
from errors.models import Service
from errors.payload import parse
from notifications.models import Channel, MaintenanceWindow
from testing.waiting import wait_until


def payload(count: int) -> object:
    return parse(json.loads(json.dumps({"aggregated_errors": [{
        "aggregation_key": "db@timeout", "total_count": count, "severity": "error",
        "latest_errors": [],
    }]})))


@pytest.fixture
def ops(db, upstream):
    return Channel.objects.create(name="ops", kind="webhook", url=upstream.route("/ops"),
                                  services=["api", "web"])


def posted(upstream) -> list[str]:
    return [json.loads(body)["state"] for body in upstream.bodies.get("/ops", [])]


@pytest.mark.django_db(transaction=True)
def test_a_new_error_group_and_a_regression_alert_the_service_channels(ops, upstream):
    service = Service.objects.create(name="api")
    aggregation.ingest(service, payload(1), "instance-1")
    wait_until(lambda: posted(upstream) == ["new error"])
    aggregation.ingest(service, payload(2), "instance-1")  # same group, more: no alert
    service.groups.get().resolve()
    aggregation.ingest(service, payload(3), "instance-1")
    wait_until(lambda: posted(upstream) == ["new error", "regression"])
    assert json.loads(upstream.bodies["/ops"][0])["link"].endswith("/dashboard/errors/api/errors/db@timeout/")


@pytest.mark.django_db(transaction=True)
def test_a_service_in_maintenance_alerts_nobody(ops, upstream):
    service = Service.objects.create(name="api")
    MaintenanceWindow.objects.create(name="upgrade", duration="2h", services=["api"],
                                     ends_at=None, crontab="* * * * *")
    aggregation.ingest(service, payload(1), "instance-1")
    aggregation.ingest(Service.objects.create(name="web"), payload(1), "instance-1")
    wait_until(lambda: posted(upstream) == ["new error"])
    assert json.loads(upstream.bodies["/ops"][0])["service"] == "web"  # api's was held back


@pytest.mark.django_db(transaction=True)
def test_a_rate_over_the_threshold_alerts_once_an_hour(ops, upstream):
    service = Service.objects.create(name="api", alert_rate_per_hour=10)
    aggregation.ingest(service, payload(4), "instance-1")  # a new group: 4 in the hour
    aggregation.ingest(service, payload(12), "instance-1")  # 12 in the hour: over 10
    aggregation.ingest(service, payload(30), "instance-1")  # still over: no second alert
    # Two delivery tasks: the two alerts may arrive in either order.
    wait_until(lambda: sorted(posted(upstream)) == ["error rate", "new error"])
    aggregation.ingest(Service.objects.create(name="web"), payload(1), "instance-1")
    wait_until(lambda: len(posted(upstream)) == 3)  # a later alert came: none was pending
    assert posted(upstream)[2] == "new error"
    [rate] = [json.loads(b) for b in upstream.bodies["/ops"] if "rate_per_hour" in json.loads(b)]
    assert rate["rate_per_hour"] == 12
