"""
The check list in admin: columns, filters, search, actions, a bounded number of
queries; the change page's history and known bugs; and no secret anywhere.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audits import runner, tasks
from audits.models import AlertState, Check, CheckRun, Tag
from bugtracker.models import KnownBug

LIST = "/admin/audits/check/"
SECRET = "s3cr3t-token-value-42"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


def names_listed(response) -> list[str]:
    assert response.status_code == 200
    return [check.name for check in response.context["cl"].result_list]


def act(client, action, checks, **extra):
    data = {"action": action, "_selected_action": [c.pk for c in checks], **extra}
    return client.post(LIST, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def set_state(check, **fields):
    Check.objects.filter(pk=check.pk).update(**fields)


# The list.


def test_list_shows_the_columns(admin_client, make_check):
    check = make_check(tags=["web", "critical"], ttl=60)
    make_check(name="other")
    set_state(check, last_success=True, alert_state=AlertState.PASSING,
              last_run_at=timezone.now())
    response = admin_client.get(LIST)
    assert sorted(names_listed(response)) == ["check", "other"]
    html = response.content.decode()
    for column in ("project", "name", "tag_list", "enabled", "ttl_display", "last_result",
                   "last_run_at", "open_bugs"):
        assert f"column-{column}" in html
    assert "critical, web" in html
    assert '<span class="check-result check-result-passing">passing</span>' in html
    assert '<span class="check-result check-result-unknown">unknown</span>' in html
    assert "(default)" in html  # the other's TTL
    assert "admin-audits/checks.css" in html


def test_last_result_is_coloured_by_state(admin_client, make_check):
    failing = make_check(name="failing")
    quiet = make_check(name="quiet", failure_threshold=3)
    set_state(failing, last_success=False, alert_state=AlertState.FAILING)
    set_state(quiet, last_success=False, alert_state=AlertState.PASSING, consecutive_failures=1)
    html = admin_client.get(LIST).content.decode()
    assert '<span class="check-result check-result-failing">failing</span>' in html
    assert "check-result-failing-quiet\">failing (1 of 3)</span>" in html


def test_filters_and_search(admin_client, make_check):
    a = make_check("alpha", "a", tags=["web"], description="the front page")
    b = make_check("alpha", "b", tags=["db"], enabled=False)
    c = make_check("beta", "c", tags=["web", "db"])
    set_state(a, last_success=True)
    set_state(b, last_success=False)
    web = Tag.objects.get(name="web")

    def listed(query):
        return sorted(names_listed(admin_client.get(f"{LIST}?{query}")))

    assert listed("project=alpha") == ["a", "b"]
    assert listed(f"tags__id__exact={web.pk}") == ["a", "c"]
    assert listed("enabled__exact=0") == ["b"]
    assert listed("result=passing") == ["a"]
    assert listed("result=failing") == ["b"]
    assert listed("result=unknown") == ["c"]
    assert listed("q=front") == ["a"]
    assert listed("q=db") == ["b", "c"]  # by tag, each once
    assert listed(f"tags__id__exact={web.pk}&q=db") == ["c"]
    assert names_listed(admin_client.get(f"{LIST}?o=-2")) == ["c", "b", "a"]  # by name


def test_list_queries_do_not_grow_with_checks(admin_client, make_check):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    for i in range(3):
        make_check(name=f"few{i}", tags=["a", "b"])
    few = count()
    for i in range(20):
        check = make_check(name=f"many{i}", tags=["a", f"t{i}"])
        KnownBug.objects.create(bug_id=f"B-{i}").checks.add(check)
        runner.run_check(check)
    assert count() == few


# Actions.


def test_run_now_queues_the_enabled_checks(admin_client, make_check):
    one, two = make_check(name="one"), make_check(name="two")
    off = make_check(name="off", enabled=False)
    with mock.patch("audits.admin.enqueue") as enqueue:
        response = act(admin_client, "run_now", [one, two, off])
    assert sorted(c.args for c in enqueue.call_args_list) == sorted(
        [(tasks.run_check, one.pk), (tasks.run_check, two.pk)]
    )
    assert messages_of(response) == [
        "2 checks queued to run.", "1 disabled check was not queued."
    ]


def test_run_now_runs_the_check(admin_client, make_check):
    check = make_check()
    with mock.patch("audits.admin.enqueue", side_effect=lambda task, *a: task(*a)):
        act(admin_client, "run_now", [check])
    assert CheckRun.objects.filter(audit_check=check, success=True).count() == 1


def test_enable_and_disable_follow_the_schedule(admin_client, make_check):
    scheduled = make_check(name="scheduled", schedule="5m")
    plain = make_check(name="plain")
    response = act(admin_client, "disable", [scheduled, plain])
    assert messages_of(response) == ["2 checks disabled."]
    assert not Check.objects.filter(enabled=True).exists()
    assert PeriodicTask.objects.get().enabled is False

    response = act(admin_client, "enable", [scheduled])
    assert messages_of(response) == ["1 check enabled."]
    assert list(Check.objects.filter(enabled=True)) == [scheduled]
    assert PeriodicTask.objects.get().enabled is True


def test_duplicate_copies_the_check_its_tags_and_schedule(admin_client, make_check):
    check = make_check(tags=["web", "critical"], params={"url": "https://h/${TOKEN}"},
                       schedule="*/5 * * * *", ttl=30, description="d")
    set_state(check, last_success=False, alert_state=AlertState.FAILING)
    response = act(admin_client, "duplicate", [check])
    assert messages_of(response) == ["Duplicated 1 check: proj/check-copy."]
    copy = Check.objects.get(name="check-copy")
    assert copy.tag_names() == ["critical", "web"]
    assert (copy.module, copy.params, copy.ttl, copy.description, copy.schedule) == (
        check.module, {"url": "https://h/${TOKEN}"}, 30, "d", "*/5 * * * *"
    )
    assert copy.alert_state == AlertState.UNKNOWN and copy.last_success is None
    assert copy.periodic_task is not None and copy.periodic_task != check.periodic_task
    assert copy.periodic_task.args == f"[{copy.pk}]"
    assert PeriodicTask.objects.count() == 2

    act(admin_client, "duplicate", [check])
    assert Check.objects.filter(name="check-copy-2").exists()


def test_actions_are_logged(admin_client, make_check):
    from django.contrib.admin.models import LogEntry

    check = make_check()
    act(admin_client, "disable", [check])
    act(admin_client, "duplicate", [check])
    assert sorted(LogEntry.objects.values_list("change_message", flat=True)) == [
        "Disabled.", "Duplicated from proj/check."
    ]


# The change page.


def test_change_page_saves_and_syncs_the_schedule(admin_client, make_check):
    check = make_check(tags=["web"])
    web, db = Tag.objects.get(name="web"), Tag.objects.create(name="db")
    data = {
        "project": "proj", "name": "renamed", "module": check.module, "description": "",
        "params_form": check.module, "param-url": "https://e", "param-limit": "4",
        "schedule": "1h", "failure_threshold": 2, "recovery_threshold": 1, "position": 0, "ttl": "",
        "plot": "", "tags": [web.pk, db.pk],
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0",  # as a browser posts
    }
    response = admin_client.post(f"/admin/audits/check/{check.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    check = Check.objects.get(pk=check.pk)
    assert (check.name, check.enabled, check.failure_threshold) == ("renamed", False, 2)
    assert check.params == {"url": "https://e", "limit": 4}
    assert check.tag_names() == ["db", "web"]
    task = PeriodicTask.objects.get()
    assert (task.interval.every, task.enabled) == (3600, False)


def test_change_page_shows_the_latest_runs_read_only(admin_client, make_check):
    check = make_check()
    now = timezone.now()
    CheckRun.objects.bulk_create(
        CheckRun(audit_check=check, started_at=now - timedelta(minutes=i), success=i % 2 == 0,
                 duration=i, data={"n": i})
        for i in range(25)
    )
    page = admin_client.get(f"/admin/audits/check/{check.pk}/change/")
    (runs,) = [f for f in page.context["inline_admin_formsets"]]
    assert len(runs.formset.forms) == 20
    html = page.content.decode()
    assert "latest 20 runs" in html.lower()
    shown = [f"{{&quot;n&quot;: {i}}}" in html for i in range(25)]
    assert shown == [True] * 20 + [False] * 5  # the latest first
    assert 'name="runs-0-started_at"' not in html  # nothing to edit
    assert f"?audit_check__id__exact={check.pk}" in html
    assert admin_client.get(f"/admin/audits/checkrun/?audit_check__id__exact={check.pk}").status_code == 200


def test_change_page_shows_known_bugs_and_list_counts_the_open_ones(admin_client, make_check):
    check = make_check()
    make_check(name="other")
    KnownBug.objects.create(bug_id="OPS-1", summary="Flaky upstream", url="https://t/1").checks.add(check)
    KnownBug.objects.create(bug_id="OPS-2", summary="Old one", is_open=False).checks.add(check)
    KnownBug.objects.create(bug_id="OPS-3", summary="By whiteboard", whiteboard="[proj/check]")
    KnownBug.objects.create(bug_id="OPS-4", summary="Not this one", whiteboard="proj/check-2")
    response = admin_client.get(LIST)
    column = admin.site.get_model_admin(Check).open_bugs
    counts = {c.name: column(c) for c in response.context["cl"].result_list}
    assert counts == {"check": 2, "other": 0}
    html = admin_client.get(f"/admin/audits/check/{check.pk}/change/").content.decode()
    assert "Flaky upstream" in html and "By whiteboard" in html and "Old one" in html
    assert "Not this one" not in html
    assert '<a href="https://t/1" rel="noreferrer">OPS-1</a>' in html
    assert html.index("Flaky upstream") < html.index("Old one")  # open first
    linked = admin_client.get(f"/admin/bugtracker/knownbug/?checks__id__exact={check.pk}")
    assert sorted(b.bug_id for b in linked.context["cl"].result_list) == ["OPS-1", "OPS-2"]


def test_confidential_bug_summaries_are_never_shown(admin_client, make_check):
    check = make_check()
    KnownBug.objects.create(bug_id="SEC-1", summary="Hidden hole", confidential=True).checks.add(check)
    list_html = admin_client.get(LIST).content.decode()
    page = admin_client.get(f"/admin/audits/check/{check.pk}/change/").content.decode()
    assert "SEC-1" in page
    assert "Hidden hole" not in list_html and "Hidden hole" not in page


def test_no_secret_appears_in_the_list_or_the_change_page(admin_client, make_check, monkeypatch):
    monkeypatch.setenv("API_TOKEN", SECRET)
    check = make_check(params={"url": "https://h/?t=${API_TOKEN}",
                               "headers": {"Authorization": "Bearer ${API_TOKEN}"}},
                       description="uses ${API_TOKEN}")
    runner.run_check(check)  # echo returns its parameters: the run must be redacted
    assert CheckRun.objects.get(audit_check=check).data["url"] == "https://h/?t=${API_TOKEN}"
    for url in (LIST, f"{LIST}?q=proj", f"/admin/audits/check/{check.pk}/change/",
                "/admin/audits/checkrun/"):
        html = admin_client.get(url).content.decode()
        assert SECRET not in html, url
    assert "${API_TOKEN}" in admin_client.get(f"/admin/audits/check/{check.pk}/change/").content.decode()


def test_people_who_may_only_view_see_the_parameters_disabled(client, make_check):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(
        codename__in=["view_check", "view_checkrun", "view_tag"]
    ))
    client.force_login(viewer)
    check = make_check(params={"url": "https://h/${API_TOKEN}"})
    assert client.get(LIST).status_code == 200
    page = client.get(f"/admin/audits/check/{check.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="param-url" value="https://h/${API_TOKEN}"' in html
    assert all(field.disabled for name, field in page.context["adminform"].form.fields.items()
               if name.startswith("param-"))
    assert "check-module-doc" in html
    assert client.post(f"/admin/audits/check/{check.pk}/change/", {}).status_code == 403
