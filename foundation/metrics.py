"""
The service's Prometheus metrics: the requests it serves, and the `/__metrics__`
view that exposes every app's metrics.

Labels are bounded on purpose: requests are labelled by route pattern, never by
raw URL (Telescope's raw URL label leaked `?refresh=<secret>` and grew without
bound).

Two kinds of metrics:

* counted where they happen (requests served, check runs, refresh lag):
  prometheus-client's counters and histograms. Several processes count them
  (gunicorn workers, Celery workers): with `PROMETHEUS_MULTIPROC_DIR` set, a folder
  every process of the machine shares, each process writes its figures there
  (prometheus-client's multiprocess mode) and a scrape sums them all, so one
  scrape gives the same totals whichever process answers. Files are named by host
  and process id, so containers sharing the folder as a volume never write to the
  same file. Without it, each process reports only its own.
* read from the database at scrape time (each check's last result, the errors):
  collectors registered with `register_derived()`, the same in every process.
"""

import os
import socket

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

PREFIX = "telescope"


def process_identifier(pid: int | None = None) -> str:
    """The name of a process's files in the shared folder: unique across the
    containers (each has its own process ids) that share it."""
    return f"{socket.gethostname()}-{pid or os.getpid()}"


if settings.PROMETHEUS_MULTIPROC_DIR:
    # Before any metric below is made: each value lives in this process's files.
    values.ValueClass = values.MultiProcessValue(process_identifier)

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

_derived = []


def register_derived(collector) -> None:
    """Add a collector whose figures are read at scrape time (from the database),
    hence the same in every process."""
    _derived.append(collector)
    REGISTRY.register(collector)


def process_dead(pid: int) -> None:
    """Forget what only a live process reports (gunicorn's `child_exit`); what it
    counted stays in the totals."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        mark_process_dead(process_identifier(pid), settings.PROMETHEUS_MULTIPROC_DIR)


class _Derived:
    def collect(self):
        for collector in _derived:
            yield from collector.collect()


def _registry():
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    registry.register(_Derived())
    return registry


@require_safe
def metrics(request):
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
