"""
A check's own schedule: an interval or a crontab, fired by Celery beat.

`Check.schedule` holds what a person wrote: a duration (`300`, `30s`, `5m`,
`1h30m`, `1.5h`, `1d`: `foundation.durations`, whole seconds, at least 1) or a
five-field crontab such as `*/5 * * * *`, in UTC; `sync()` keeps the matching
django-celery-beat `PeriodicTask` in step, so beat's database scheduler picks up
every edit without a restart. `Check` calls it whenever it is saved or deleted:
nobody else needs to. A check without a schedule is refreshed ahead of
its cache expiry instead (see `audits.tasks.dispatch_refreshes`).
"""

import json

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from foundation import durations

TASK = "audits.tasks.run_scheduled_check"
# A crontab fires once a minute at most.
CRONTAB_EXPIRE_SECONDS = 60


class ScheduleError(ValueError):
    pass


def parse(spec: str) -> tuple[str, int | list[str]]:
    """("every", seconds) or ("crontab", five fields); ScheduleError otherwise."""
    spec = str(spec).strip()
    if not durations.is_duration(spec):
        return "crontab", _crontab(spec)
    try:
        return "every", durations.whole_seconds(spec)
    except durations.DurationError as exc:
        raise ScheduleError(str(exc)) from None


def sync(check) -> None:
    """Create, update or remove the PeriodicTask that fires `check`'s schedule."""
    if not check.schedule:
        _remove(check)
        return
    kind, value = parse(check.schedule)
    task = check.periodic_task or PeriodicTask(task=TASK)
    task.name = f"audits: {check.project}/{check.name}"
    task.args = json.dumps([check.pk])
    task.enabled = check.enabled
    task.interval, task.crontab = _schedule_objects(kind, value)
    # A run no worker took before the next one is due is dropped (the next one
    # does its work): a backlog never piles up runs of one check.
    task.expire_seconds = value if kind == "every" else CRONTAB_EXPIRE_SECONDS
    task.save()
    if check.periodic_task_id != task.pk:
        check.periodic_task = task
        check.save(update_fields=["periodic_task"])


def remove(task_ids) -> None:
    """Delete the PeriodicTasks `task_ids` (None among them is no task)."""
    task_ids = [pk for pk in task_ids if pk is not None]
    if task_ids:
        PeriodicTask.objects.filter(pk__in=task_ids).delete()


def _remove(check) -> None:
    if check.periodic_task_id:
        remove([check.periodic_task_id])
        check.periodic_task = None


def _schedule_objects(kind, value):
    if kind == "every":
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=value, period=IntervalSchedule.SECONDS
        )
        return interval, None
    minute, hour, day_of_month, month_of_year, day_of_week = value
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month,
        month_of_year=month_of_year, day_of_week=day_of_week, timezone="UTC",
    )
    return None, crontab


def _crontab(spec: str) -> list[str]:
    from celery.schedules import ParseException, crontab

    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"{spec!r} is neither a duration ({durations.FORMS}) "
            f"nor a crontab of five fields (*/5 * * * *)"
        )
    try:
        crontab(*fields)
    except (ParseException, ValueError) as exc:
        raise ScheduleError(f"invalid crontab {' '.join(fields)!r}: {exc}") from None
    return fields
