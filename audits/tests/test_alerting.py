"""
Alerts of checks, end to end: a real run, its state change, and what reaches a
real HTTP receiver (channel selection, maintenance windows, flapping, Sentry).
"""

import gzip
import json
from datetime import timedelta

import pytest
import sentry_sdk
from django.core.exceptions import ValidationError
from django.utils import timezone

from audits import history, runner, states
from audits.models import Check, CheckRun, Tag
from notifications.models import Channel, MaintenanceWindow
from testing.waiting import wait_until


def run(check, ok: bool):
    check.params = {"url": "http://example.com", "ok": ok}
    check.save(update_fields=["params"])  # a request for it then reads this run's result
    return runner.run_check(check, force=True)


def hook(upstream, name="ops", **fields) -> Channel:
    return Channel.objects.create(name=name, kind="webhook", url=upstream.route(f"/{name}"),
                                  **fields)


def states_posted(upstream, name="ops") -> list[str]:
    return [json.loads(body)["state"] for body in upstream.bodies.get(f"/{name}", [])]


def window(**fields) -> MaintenanceWindow:
    fields.setdefault("ends_at", timezone.now() + timedelta(hours=2))
    w = MaintenanceWindow(name="deploy", starts_at=timezone.now() - timedelta(minutes=1), **fields)
    w.full_clean()
    w.save()
    return w


@pytest.mark.django_db(transaction=True)
def test_a_failing_check_alerts_its_channel_then_its_recovery(make_check, upstream):
    check = make_check()
    check.channels.set([hook(upstream)])
    run(check, ok=False)
    wait_until(lambda: states_posted(upstream) == ["failing"])
    run(check, ok=True)
    wait_until(lambda: states_posted(upstream) == ["failing", "recovered"])


@pytest.mark.django_db(transaction=True)
def test_channels_come_from_the_check_and_its_tags_else_project_else_default(make_check, upstream):
    hook(upstream, "default", is_default=True)
    hook(upstream, "web-team", projects=["web"])
    tagged = hook(upstream, "db-team")
    Tag.objects.create(name="db").channels.set([tagged])
    run(make_check("web", "home"), ok=False)
    run(make_check("web", "db", tags=["db"]), ok=False)
    run(make_check("other", "thing"), ok=False)
    wait_until(lambda: [upstream.hits(f"/{n}") for n in ("web-team", "db-team", "default")]
               == [1, 1, 1])


@pytest.mark.django_db
def test_a_check_that_chose_only_disabled_channels_does_not_fall_back_on_the_defaults(make_check):
    Channel.objects.create(name="default", kind="slack", url="http://x", is_default=True)
    check = make_check()
    check.channels.set([Channel.objects.create(name="off", kind="slack", url="http://y",
                                               enabled=False)])
    assert check.alert_channels() == []
    check.channels.clear()
    assert [c.name for c in check.alert_channels()] == ["default"]


@pytest.mark.django_db(transaction=True)
def test_a_maintenance_window_silences_the_alert_and_keeps_uptime_honest(make_check, upstream, client):
    check = make_check("web", "home")
    check.channels.set([hook(upstream)])
    run(check, ok=True)
    window(projects=["web"])
    run(check, ok=False)
    answer = client.get("/checks/web/home")
    assert answer.status_code == 503 and answer.json()["maintenance"] is True
    assert list(CheckRun.objects.order_by("started_at").values_list("in_maintenance", flat=True)) == [False, True]
    assert history.uptime([check])["24h"] == 100.0  # the failure in maintenance is left out
    assert Check.objects.get(pk=check.pk).alert_state == "failing"  # it still ran and counted
    assert upstream.hits("/ops") == 0


@pytest.mark.django_db(transaction=True)
def test_a_failure_still_there_when_the_window_ends_alerts_then(make_check, upstream):
    check = make_check("web", "home")
    check.channels.set([hook(upstream)])
    silence = window(checks=["web/home"])
    run(check, ok=False)
    silence.delete()
    run(check, ok=False)
    wait_until(lambda: states_posted(upstream) == ["failing"])


@pytest.mark.django_db(transaction=True)
def test_maintenance_passes_answers_200_to_monitors(make_check, client, settings):
    settings.MAINTENANCE_PASSES = True
    run(make_check("web", "home", tags=["edge"]), ok=False)
    window(tags=["edge"])
    answer = client.get("/checks/web/home")
    assert answer.status_code == 200 and answer.json()["success"] is False


@pytest.mark.django_db
def test_a_recurring_window_is_open_only_after_its_crontab_fires(make_check):
    make_check("web", "home")
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    w = MaintenanceWindow(name="nightly", crontab="0 2 * * *", duration="1h", projects=["web"],
                          starts_at=day - timedelta(days=1))
    w.full_clean()
    assert [w.is_active(day + timedelta(hours=h, minutes=m)) for h, m in
            [(1, 59), (2, 0), (2, 59), (3, 0)]] == [False, True, True, False]


@pytest.mark.django_db
def test_a_window_naming_what_does_not_exist_is_refused(make_check):
    make_check("web", "home")
    w = MaintenanceWindow(name="x", duration="2h", checks=["web/home", "web/nope"], tags=["t"])
    with pytest.raises(ValidationError) as refused:
        w.full_clean()
    assert refused.value.message_dict == {"checks": ["Unknown: web/nope"], "tags": ["Unknown: t"]}


@pytest.mark.django_db
def test_recovery_threshold_needs_that_many_passes(make_check):
    check = make_check(recovery_threshold=3)
    run(check, ok=False)
    assert [states.update(check, runner.Result(
        timezone.now().isoformat(), True, None, 1, ran=True)) for _ in range(3)] == [None, None, states.RECOVERED]


@pytest.mark.django_db(transaction=True)
def test_a_flapping_check_alerts_once_per_alert_repeat(make_check, upstream, settings):
    settings.ALERT_REPEAT = 3600
    check = make_check()
    check.channels.set([hook(upstream)])
    for ok in (False, True, False, True, False):
        run(check, ok=ok)
    # Sorted: the two notices are delivered by two tasks, which may arrive in any order.
    wait_until(lambda: sorted(states_posted(upstream)) == ["failing", "recovered"])
    assert Check.objects.get(pk=check.pk).alert_state == "failing"


@pytest.mark.django_db(transaction=True)
def test_reminders_are_sent_only_to_checks_that_ask(make_check, upstream, settings):
    settings.ALERT_REPEAT = 0
    quiet, reminded = make_check(name="quiet"), make_check(name="reminded", remind=True)
    quiet.channels.set([hook(upstream, "quiet")])
    reminded.channels.set([hook(upstream, "reminded")])
    for _ in range(3):
        run(quiet, ok=False)
        run(reminded, ok=False)
    wait_until(lambda: sorted(states_posted(upstream, "reminded")) == ["failing", "reminder", "reminder"])
    assert states_posted(upstream, "quiet") == ["failing"]


@pytest.mark.django_db
def test_sentry_gets_one_event_per_failing_transition(make_check, upstream, settings):
    upstream.route("/api/1/envelope/", json={"id": "x"})
    settings.SENTRY_DSN = f"http://public@127.0.0.1:{upstream.port}/1"
    sentry_sdk.init(dsn=settings.SENTRY_DSN)  # with the logging integration, as in production
    try:
        run(make_check(), ok=False)
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.init()
    events = [json.loads(gzip.decompress(b).decode().splitlines()[-1])
              for b in upstream.bodies["/api/1/envelope/"]]
    assert [e.get("message") or e.get("logentry", {}).get("message") for e in events] == [
        "proj/check is failing"]


@pytest.mark.django_db(transaction=True)
def test_a_recovery_resolves_the_alertmanager_alert_it_fired(make_check, upstream):
    upstream.route("/api/v2/alerts")
    check = make_check("web", "home", tags=["edge", "prod"])
    check.channels.set([Channel.objects.create(name="am", kind="alertmanager", url=upstream.url())])
    run(check, ok=False)
    run(check, ok=True)
    wait_until(lambda: upstream.hits("/api/v2/alerts") == 2)
    # Two delivery tasks: the notices may arrive in either order.
    (firing,), (resolved,) = sorted(
        (json.loads(b) for b in upstream.bodies["/api/v2/alerts"]), key=lambda a: "endsAt" in a[0]
    )
    assert firing["labels"] == resolved["labels"] == {
        "alertname": "TelescopeCheckFailing", "severity": "critical", "project": "web",
        "check": "home", "tags": "edge,prod"}
    assert firing["startsAt"] == resolved["startsAt"] and "endsAt" in resolved


@pytest.mark.django_db(transaction=True)
def test_a_recovery_during_a_window_still_ends_the_failure_that_alerted(make_check, upstream):
    check = make_check("web", "home")
    check.channels.set([hook(upstream)])
    run(check, ok=False)
    window(checks=["web/home"])
    run(check, ok=False)  # still failing, in the window: nothing more
    run(check, ok=True)
    wait_until(lambda: sorted(states_posted(upstream)) == ["failing", "recovered"])  # either order
