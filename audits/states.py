"""
A check's state, kept in the database, and the moments it changes.

After each run the check's row is updated with conditional UPDATEs, so that
whatever the number of workers and web processes, exactly one of them sees each
change and emits its event:

* a failure counts towards `failure_threshold`; the run that reaches it moves the
  check from unknown or passing to failing (a check failing on its first run
  alerts, as in Telescope);
* a success moves a failing check back to passing ("recovered"); a first success
  moves an unknown check to passing silently.

The previous state is read from the database, never from the cache, so a restart
or a cache expiry neither repeats nor loses an event.
"""

from datetime import datetime

from django.db.models import F

from . import plots
from .models import AlertState, Check

FAILING, RECOVERED = "failing", "recovered"


def update(check: Check, result) -> str | None:
    """Record `result` on `check`'s row; FAILING or RECOVERED when it changed."""
    scalar = None if result.crashed else plots.extract(result.data, check.get_plot_path())
    last = {
        "last_run_at": datetime.fromisoformat(result.datetime),
        "last_success": result.success,
        "last_scalar": scalar,
    }
    for name, value in last.items():
        setattr(check, name, value)  # the next run in this process compares to it
    rows = Check.objects.filter(pk=check.pk)
    return _passed(rows, last) if result.success else _failed(rows, check, last)


def _passed(rows, last: dict) -> str | None:
    reset = {"alert_state": AlertState.PASSING, "consecutive_failures": 0, **last}
    if rows.filter(alert_state=AlertState.FAILING).update(**reset):
        return RECOVERED
    rows.exclude(alert_state=AlertState.FAILING).update(**reset)
    return None


def _failed(rows, check: Check, last: dict) -> str | None:
    rows.update(consecutive_failures=F("consecutive_failures") + 1, **last)
    flipped = (
        rows.filter(consecutive_failures__gte=check.failure_threshold)
        .exclude(alert_state=AlertState.FAILING)
        .update(alert_state=AlertState.FAILING)
    )
    return FAILING if flipped else None
