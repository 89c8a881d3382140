"""
A check's own schedule: an interval or a crontab, fired by Celery beat.

`Check.schedule` holds what a person wrote (`300`, `30s`, `5m`, `1h`, or a
five-field crontab such as `*/5 * * * *`, in UTC); `sync()` keeps the matching
django-celery-beat `PeriodicTask` in step, so beat's database scheduler picks up
every edit without a restart. `Check` calls it whenever it is saved or deleted:
nobody else needs to. A check without a schedule is refreshed ahead of
its cache expiry instead (see `audits.tasks.dispatch_refreshes`).
"""

import json
import re

from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
TASK = "audits.tasks.run_scheduled_check"


class ScheduleError(ValueError):
    pass


def parse(spec: str) -> tuple[str, int | list[str]]:
    """("every", seconds) or ("crontab", five fields); ScheduleError otherwise."""
    spec = str(spec).strip()
    duration = DURATION.match(spec)
    if duration:
        seconds = int(duration.group(1)) * UNITS[duration.group(2)]
        if seconds < 1:
            raise ScheduleError("an interval must be at least 1 second")
        return "every", seconds
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"{spec!r} is neither an interval (300, 30s, 5m, 1h) "
            f"nor a crontab of five fields (*/5 * * * *)"
        )
    _validate_crontab(fields)
    return "crontab", fields


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


def _validate_crontab(fields: list[str]) -> None:
    from celery.schedules import ParseException, crontab

    try:
        crontab(*fields)
    except (ParseException, ValueError) as exc:
        raise ScheduleError(f"invalid crontab {' '.join(fields)!r}: {exc}") from None
