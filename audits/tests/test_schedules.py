"""A check's own schedule: parsed, synced to django-celery-beat, imported, removed."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from audits import schedules
from audits.config import importer, reader
from audits.models import Check
from audits.tasks import run_scheduled_check
from audits.tests.checkmods import counter
from foundation.config.errors import ConfigError

ECHO = "audits.tests.checkmods.echo"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("300", ("every", 300)),
        ("30s", ("every", 30)),
        ("5m", ("every", 300)),
        ("1h", ("every", 3600)),
        ("*/5 * * * *", ("crontab", ["*/5", "*", "*", "*", "*"])),
    ],
)
def test_schedules_are_parsed(spec, expected):
    assert schedules.parse(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("0", "shorter than the minimum, 1 s"),
        ("5 minutes", "neither a duration"),
        ("61 * * * *", "invalid crontab"),
    ],
)
def test_bad_schedules_are_refused(spec, message):
    with pytest.raises(schedules.ScheduleError, match=message):
        schedules.parse(spec)


@pytest.mark.django_db
def test_sync_creates_a_periodic_task_for_the_check(make_check):
    check = make_check(schedule="30s")
    schedules.sync(check)
    task = PeriodicTask.objects.get()
    assert (task.task, json.loads(task.args), task.interval.every) == (
        "audits.tasks.run_scheduled_check", [check.pk], 30,
    )
    assert Check.objects.get(pk=check.pk).periodic_task == task


@pytest.mark.parametrize("spec, expires", [("30s", 30), ("*/5 * * * *", 60)])
def test_a_scheduled_run_no_worker_took_before_the_next_expires(make_check, spec, expires):
    schedules.sync(make_check(schedule=spec))
    assert PeriodicTask.objects.get().expire_seconds == expires


@pytest.mark.django_db
def test_sync_follows_edits_and_removal(make_check):
    check = make_check(schedule="30s")
    schedules.sync(check)
    check.schedule, check.enabled = "0 3 * * 1", False
    schedules.sync(check)
    task = PeriodicTask.objects.get()
    assert (task.interval, task.crontab.hour, task.enabled) == (None, "3", False)
    check.schedule = ""
    schedules.sync(check)
    assert not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_deleting_a_check_deletes_its_schedule(make_check):
    check = make_check(schedule="30s")
    schedules.sync(check)
    Check.objects.filter(pk=check.pk).delete()
    assert not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_import_sets_schedules_and_threshold(tmp_path):
    text = (
        f'[checks.w.a]\nmodule = "{ECHO}"\nparams.url = "u"\nschedule = 120\n'
        f"failure_threshold = 3\n"
    )
    importer.apply(importer.plan(reader.parse(text, "c.toml")))
    check = Check.objects.get()
    assert (check.schedule, check.failure_threshold) == ("120s", 3)
    assert PeriodicTask.objects.get().interval.every == 120


def test_bad_schedule_in_config_names_the_check():
    text = f'[checks.w.a]\nmodule = "{ECHO}"\nparams.url = "u"\nschedule = "often"\n'
    with pytest.raises(ConfigError) as info:
        reader.parse(text, "c.toml")
    assert "c.toml: checks.w.a: schedule: 'often' is neither a duration" in str(info.value)


@pytest.mark.django_db
def test_scheduled_task_runs_the_check(make_check):
    check = make_check(module="counter", schedule="30s", ttl=600)
    run_scheduled_check(check.pk)
    run_scheduled_check(check.pk)  # a schedule always runs, whatever is cached
    assert len(counter.calls()) == 2


@pytest.mark.django_db
def test_scheduled_task_of_a_disabled_check_does_nothing(make_check):
    check = make_check(module="counter", schedule="30s", enabled=False)
    run_scheduled_check(check.pk)
    assert counter.calls() == []


# The check keeps its schedule in step itself, whoever writes it.


def periodic_tasks() -> list[tuple]:
    """(name, args, every, crontab hour, enabled) of every PeriodicTask."""
    return sorted(
        (t.name, json.loads(t.args), t.interval and t.interval.every, t.crontab and t.crontab.hour,
         t.enabled)
        for t in PeriodicTask.objects.select_related("interval", "crontab")
    )


@pytest.mark.django_db
def test_the_orm_creates_updates_disables_and_deletes_the_schedule(make_check):
    check = make_check(schedule="30s")
    assert periodic_tasks() == [("audits: proj/check", [check.pk], 30, None, True)]
    check.schedule, check.name = "0 3 * * *", "renamed"
    check.save()
    assert periodic_tasks() == [("audits: proj/renamed", [check.pk], None, "3", True)]
    check.enabled = False
    check.save(update_fields=["enabled"])
    assert periodic_tasks() == [("audits: proj/renamed", [check.pk], None, "3", False)]
    check.schedule = ""
    check.save()
    assert periodic_tasks() == [] and Check.objects.get().periodic_task is None
    check.schedule = "1h"
    check.save()
    check.delete()
    assert periodic_tasks() == []


@pytest.mark.django_db
def test_bulk_writes_keep_the_schedules_in_step(make_check):
    a, b = make_check(name="a", schedule="30s"), make_check(name="b", schedule="1h")
    Check.objects.filter(enabled=True).update(enabled=False)
    assert [enabled for *_, enabled in periodic_tasks()] == [False, False]
    a.schedule = "2m"
    Check.objects.bulk_update([a], ["schedule"])
    assert [every for _, _, every, _, _ in periodic_tasks()] == [120, 3600]
    Check.objects.filter(pk=b.pk).delete()
    assert [name for name, *_ in periodic_tasks()] == ["audits: proj/a"]


@pytest.mark.django_db
def test_state_updates_of_a_run_leave_the_schedule_alone(make_check, django_assert_num_queries):
    check = make_check(schedule="30s")
    check.consecutive_failures = 2
    with django_assert_num_queries(1):  # the UPDATE, no schedule query
        check.save(update_fields=["consecutive_failures"])


@pytest.mark.django_db
def test_an_invalid_schedule_saves_nothing(make_check):
    check = make_check(schedule="30s")
    check.schedule, check.ttl = "often", 5
    with pytest.raises(schedules.ScheduleError):
        check.save()
    stored = Check.objects.get()
    assert (stored.schedule, stored.ttl) == ("30s", None)


@pytest.mark.django_db
def test_import_creates_updates_and_prunes_the_schedules():
    def import_text(text, prune=False):
        importer.apply(importer.plan(reader.parse(text, "c.toml"), prune=prune))

    table = '[checks.w.{}]\nmodule = "{}"\nparams.url = "u"\nschedule = "{}"\nenabled = {}\n'
    import_text(table.format("a", ECHO, "5m", "true") + table.format("b", ECHO, "1h", "true"))
    assert [(name, every) for name, _, every, _, _ in periodic_tasks()] == [
        ("audits: w/a", 300), ("audits: w/b", 3600),
    ]
    import_text(table.format("a", ECHO, "10m", "false"), prune=True)
    assert [(name, every, enabled) for name, _, every, _, enabled in periodic_tasks()] == [
        ("audits: w/a", 600, False),
    ]


@pytest.fixture
def admin_client(client, db):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("admin"))
    return client


@pytest.mark.django_db
def test_the_admin_creates_and_deletes_the_schedule(admin_client):
    data = {
        "project": "p", "name": "n", "module": ECHO, "description": "", "params_form": ECHO,
        "param-url": "https://e", "schedule": "5m", "enabled": "on", "failure_threshold": 1,
        "position": 0, "ttl": "", "plot": "",
    }
    response = admin_client.post("/admin/audits/check/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    check = Check.objects.get()
    assert periodic_tasks() == [("audits: p/n", [check.pk], 300, None, True)]
    admin_client.post(f"/admin/audits/check/{check.pk}/delete/", {"post": "yes"})
    assert not Check.objects.exists() and periodic_tasks() == []


@pytest.mark.django_db
def test_the_admin_bulk_delete_deletes_the_schedules(admin_client, make_check):
    checks = [make_check(name="a", schedule="5m"), make_check(name="b", schedule="1h")]
    admin_client.post("/admin/audits/check/", {
        "action": "delete_selected", "_selected_action": [c.pk for c in checks], "post": "yes",
    })
    assert not Check.objects.exists() and periodic_tasks() == []
