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
