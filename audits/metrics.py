"""
Prometheus metrics of the service, served at `/__metrics__`.

Labels are bounded on purpose: requests are labelled by route pattern, never by
raw URL (Telescope's raw URL label leaked `?refresh=<secret>` and grew without
bound), and checks by project and name.
"""

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "telescope"

REQUESTS = Counter(
    f"{PREFIX}_request_summary",
    "HTTP requests served, by route pattern.",
    ["method", "endpoint", "status"],
)
REQUEST_DURATION = Histogram(
    f"{PREFIX}_request_duration_seconds",
    "Time to serve an HTTP request, by route pattern.",
    ["method", "endpoint"],
)
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
CHECK_LAST_SUCCESS = Gauge(
    f"{PREFIX}_check_last_success",
    "1 when the last run of the check passed, 0 when it failed or crashed.",
    ["project", "check"],
)
REFRESH_LAG = Histogram(
    f"{PREFIX}_refresh_lag_seconds",
    "How late a scheduled refresh started, after the time it was due.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, float("inf")),
)
