"""
A check's state, kept in the database, and the moments it changes.

After each run the check's row is updated with conditional UPDATEs, so that
whatever the number of workers and web processes, exactly one of them sees each
change and emits its event:

* a failure counts towards `failure_threshold`; the run that reaches it moves the
  check from unknown or passing to failing (a check failing on its first run
  alerts, as in Telescope);
* a failure of a check blocked by a failing dependency (`Check.blocked_by`) changes
  its state as any other, but alerts nobody (`Check.silenced_by`): the parent
  alerts, not its dependents; still failing once the parent recovered, it alerts
  then;
* successes of a failing check count towards `recovery_threshold`; the run that
  reaches it moves the check back to passing ("recovered"); a first success moves
  an unknown check to passing silently;
* a failure of a check already failing is "still failing": it alerts if this
  failure never alerted yet (it began in a maintenance window, or within
  ALERT_REPEAT of the last alert), or as a reminder if the check asks for them.

Whether a change alerts is decided by `claim_alert()`, with one conditional
UPDATE too, so that one process sends it: a check alerts at most once per
ALERT_REPEAT, and a recovery alerts only if its failure did.

The previous state is read from the database, never from the cache, so a restart
or a cache expiry neither repeats nor loses an event.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q

from audits.models import AlertState, Check
from foundation.bulk_updates import update_rows

FAILING, RECOVERED, STILL_FAILING, REMINDER = "failing", "recovered", "still failing", "reminder"


def update(check: Check, result) -> str | None:
    """Record `result` on `check`'s row; FAILING or RECOVERED when it changed,
    STILL_FAILING for a failure that changed nothing."""
    last = _last(check, result)
    rows = Check.objects.filter(pk=check.pk)
    return _passed(rows, check, last) if result.success else _failed(rows, check, last)


def claim_alert(check: Check, change: str, now: datetime) -> str | None:
    """What to alert about `change` (FAILING, RECOVERED, REMINDER), claimed for this
    process; None: nothing (ALERT_REPEAT not over, nothing was alerted, no reminder)."""
    rows = Check.objects.filter(pk=check.pk)
    if change == RECOVERED:
        alerted = rows.filter(last_alerted_at__gte=F("failing_since")).exists()
        return RECOVERED if alerted else None
    if change == STILL_FAILING and _alerted_this_failure(check) and not check.remind:
        return None  # the usual case of a failing check, answered without a query
    repeat_over = Q(last_alerted_at__isnull=True) | Q(
        last_alerted_at__lte=now - timedelta(seconds=settings.ALERT_REPEAT)
    )
    not_alerted = Q(last_alerted_at__isnull=True) | Q(last_alerted_at__lt=F("failing_since"))
    failing = rows.filter(repeat_over, alert_state=AlertState.FAILING)
    if failing.filter(not_alerted).update(last_alerted_at=now):
        check.last_alerted_at = now
        return FAILING
    if check.remind and failing.update(last_alerted_at=now):
        check.last_alerted_at = now
        return REMINDER
    return None


def _alerted_this_failure(check: Check) -> bool:
    alerted, since = check.last_alerted_at, check.failing_since
    return alerted is not None and since is not None and alerted >= since


def update_many(pairs) -> list[tuple[Check, str]]:
    """
    `update()` for a batch of (check, result), in a few statements: passing runs
    of checks that were not failing (nearly all of them) are written in bulk;
    recoveries and failures keep their conditional update, one check at a time.
    Returns the (check, change) pairs that changed.
    """
    passed = [(c, r) for c, r in pairs if r.success]
    failing_ids = set(
        Check.objects.filter(pk__in=[c.pk for c, _ in passed], alert_state=AlertState.FAILING)
        .values_list("pk", flat=True)
    )
    one_by_one = [(c, r) for c, r in pairs if not r.success or c.pk in failing_ids]
    changes = [(c, update(c, r)) for c, r in one_by_one]
    _passed_in_bulk([(c, r) for c, r in passed if c.pk not in failing_ids])
    return [(check, change) for check, change in changes if change]


def _passed_in_bulk(pairs) -> None:
    for check, result in pairs:
        _last(check, result)
    ids = [check.pk for check, _ in pairs]
    # Conditional, as in _passed: a row another worker just set failing keeps it.
    Check.objects.filter(pk__in=ids).exclude(alert_state=AlertState.FAILING).exclude(
        alert_state=AlertState.PASSING, consecutive_failures=0
    ).update(alert_state=AlertState.PASSING, consecutive_failures=0)
    for start in range(0, len(pairs), BATCH_SIZE):
        _write_last([check for check, _ in pairs[start : start + BATCH_SIZE]])


BATCH_SIZE = 500


def _write_last(checks) -> None:
    """The `LAST_FIELDS` of `checks` (as `_last` set them) in one UPDATE: on the path
    of every cold project, where Django's `bulk_update` cost 250 ms of CPU for 200
    checks (`foundation.bulk_updates`)."""
    update_rows(Check, checks, LAST_FIELDS)


LAST_FIELDS = ("last_run_at", "last_success", "last_scalar", "last_crashed")


def _last(check: Check, result) -> dict:
    """The last-run fields of `result`, also set on `check` (the next run in this
    process compares its result with them)."""
    started_at = datetime.fromisoformat(result.datetime)
    values = (started_at, result.success, result.scalar, result.crashed)
    last = dict(zip(LAST_FIELDS, values))
    for name, value in last.items():
        setattr(check, name, value)
    return last


def _passed(rows, check: Check, last: dict) -> str | None:
    failing = rows.filter(alert_state=AlertState.FAILING)
    passes = F("consecutive_successes") + 1
    if failing.update(consecutive_successes=passes, consecutive_failures=0, **last):
        recovered = failing.filter(
            consecutive_successes__gte=check.recovery_threshold
        ).update(alert_state=AlertState.PASSING, consecutive_successes=0)
        return RECOVERED if recovered else None
    reset = {"alert_state": AlertState.PASSING, "consecutive_failures": 0, **last}
    rows.exclude(alert_state=AlertState.FAILING).update(**reset)
    return None


def _failed(rows, check: Check, last: dict) -> str | None:
    failures = F("consecutive_failures") + 1
    rows.update(consecutive_failures=failures, consecutive_successes=0, **last)
    flipped = (
        rows.filter(consecutive_failures__gte=check.failure_threshold)
        .exclude(alert_state=AlertState.FAILING)
        .update(alert_state=AlertState.FAILING, failing_since=last["last_run_at"])
    )
    if flipped:
        check.failing_since = last["last_run_at"]
        return FAILING
    # Failing already, or not yet at its threshold: claim_alert() tells them apart.
    return STILL_FAILING
