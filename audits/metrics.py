"""
Prometheus metrics of the checks, served at `/__metrics__` (see `foundation.metrics`).

Check durations and counts are those of the runs made by the scraped process;
each check's last result comes from the database, whoever ran it. Checks are
labelled by project and name, a bounded set.
"""

from django.db import DatabaseError
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from foundation.metrics import PREFIX, register_derived

CHECK_RUN_DURATION = Histogram(
    f"{PREFIX}_check_run_duration_seconds",
    "Time to run a check (cache misses only).",
    ["project", "check"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf")),
)
CHECK_RUNS = Counter(
    f"{PREFIX}_check_runs",
    "Check runs, by outcome: success, failure or crash.",
    ["project", "check", "outcome"],
)


class CheckStateCollector:
    """
    Each check's last result, read from the database at scrape time: runs happen
    in web processes and in Celery workers alike, and any of them may be scraped.
    """

    def describe(self):
        # Describing without collecting keeps registration free of database queries.
        return [self._families()[0]]

    def collect(self):
        from audits.models import Check

        last_success, last_run = self._families()
        rows = Check.objects.enabled().exclude(last_success__isnull=True)
        try:
            rows = list(rows.values_list("project", "name", "last_success", "last_run_at"))
        except DatabaseError:
            rows = []  # the heartbeat reports the database; metrics stay available
        for project, name, success, run_at in rows:
            last_success.add_metric([project, name], 1 if success else 0)
            last_run.add_metric([project, name], run_at.timestamp())
        yield last_success
        yield last_run

    def _families(self):
        return (
            GaugeMetricFamily(
                f"{PREFIX}_check_last_success",
                "1 when the last run of the check passed, 0 when it failed or crashed.",
                labels=["project", "check"],
            ),
            GaugeMetricFamily(
                f"{PREFIX}_check_last_run_timestamp_seconds",
                "When the last run of the check started (Unix time).",
                labels=["project", "check"],
            ),
        )


register_derived(CheckStateCollector())
REFRESH_LAG = Histogram(
    f"{PREFIX}_refresh_lag_seconds",
    "How late a scheduled refresh started, after the time it was due.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, float("inf")),
)
