"""
A check's state, kept in the database, and the moments it changes.

After each run the check's row is updated with conditional UPDATEs, so that
whatever the number of workers and web processes, exactly one of them sees each
change and emits its event:

* a failure counts towards `failure_threshold`; the run that reaches it moves the
  check from unknown or passing to failing (a check failing on its first run
  alerts, as in Telescope);
* a failure of a check blocked by a failing dependency (`Check.blocked_by`) counts
  but moves nothing: the parent alerts, not its dependents;
* a success moves a failing check back to passing ("recovered"); a first success
  moves an unknown check to passing silently.

The previous state is read from the database, never from the cache, so a restart
or a cache expiry neither repeats nor loses an event.
"""

from datetime import datetime

from django.db import connections, router
from django.db.models import F

from audits.models import AlertState, Check

FAILING, RECOVERED = "failing", "recovered"


def update(check: Check, result) -> str | None:
    """Record `result` on `check`'s row; FAILING or RECOVERED when it changed."""
    last = _last(check, result)
    rows = Check.objects.filter(pk=check.pk)
    return _passed(rows, last) if result.success else _failed(rows, check, last)


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
    """
    The `LAST_FIELDS` of `checks` (as `_last` set them) in one UPDATE, a
    `CASE <id> WHEN ... THEN ... END` per field. Django's `bulk_update` writes the
    same statement, but builds and resolves an expression per check and field: 200
    checks took 250 ms of CPU there, 9 ms here, on the path of every cold project.
    Values are adapted by their fields, and cast where the database needs it, as
    `bulk_update` does (PostgreSQL).
    """
    if not checks:
        return
    meta, connection = Check._meta, connections[router.db_for_write(Check)]
    quote = connection.ops.quote_name
    cast = connection.features.requires_casted_case_in_updates
    pk = quote(meta.pk.column)
    sets, params = [], []
    for name in LAST_FIELDS:
        field = meta.get_field(name)
        then = f"CAST(%s AS {field.db_type(connection)})" if cast else "%s"
        sets.append(f"{quote(field.column)} = CASE {pk} "
                    + " ".join([f"WHEN %s THEN {then}"] * len(checks)) + " END")
        for check in checks:
            params += [check.pk, field.get_db_prep_save(getattr(check, name), connection)]
    ids = [check.pk for check in checks]
    sql = (f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} "
           f"WHERE {pk} IN ({', '.join(['%s'] * len(ids))})")
    with connection.cursor() as cursor:
        cursor.execute(sql, params + ids)


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


def _passed(rows, last: dict) -> str | None:
    reset = {"alert_state": AlertState.PASSING, "consecutive_failures": 0, **last}
    if rows.filter(alert_state=AlertState.FAILING).update(**reset):
        return RECOVERED
    rows.exclude(alert_state=AlertState.FAILING).update(**reset)
    return None


def _failed(rows, check: Check, last: dict) -> str | None:
    rows.update(consecutive_failures=F("consecutive_failures") + 1, **last)
    # Dependencies: while a check it depends on fails, its failures are that one's
    # consequence and do not alert; they still count, so that a check failing on
    # its own once the parent recovered alerts at once.
    if check.blocked_by():
        return None
    flipped = (
        rows.filter(consecutive_failures__gte=check.failure_threshold)
        .exclude(alert_state=AlertState.FAILING)
        .update(alert_state=AlertState.FAILING)
    )
    return FAILING if flipped else None
