"""
Prometheus metrics of the errors, read from the database at scrape time, so every
web process reports the same numbers.

`periskop_error_occurrences{service_name, severity, target, aggregation_key}` is
Periskop's series: a counter per instance and key, exposed under exactly
Periskop's name (prometheus_client would add `_total` to a counter's name, which
breaks the alert of Periskop's README,
`periskop_error_occurrences{severity="error"} > 1000`). Its value is the count
the instance last reported for the key: it only grows while the instance runs,
and restarts from zero with it, a counter reset that `rate()` and `increase()`
handle. `target` is the instance's address (a push's is `push:job=.../instance=...`;
an instance that restarted under a new `target_uuid` keeps its old series, with
the uuid as its target, until `ERRORS_RETENTION_DAYS` prunes it).

`periskop_error_group_occurrences{service_name, severity, aggregation_key}` (a
gauge) is each group's total across every instance and restart, the series this
metric had before under Periskop's name.
"""

from django.db import DatabaseError
from django.db.models import Count, Q
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from foundation.metrics import register_derived


class _Exactly(str):
    """A metric name the text exposition writes as it is: it appends `_total` to
    every counter's name (`name + "_total"`), which this refuses."""

    def __add__(self, other):
        return str(self) if other == "_total" else str(self) + other


class ErrorsCollector:
    def describe(self):
        return []  # registration must not touch the database

    def collect(self):
        try:
            return [self._per_target(), self._occurrences(), *self._services()]
        except DatabaseError:
            return []

    def _per_target(self):
        from errors.models import Target, TargetCount

        addresses = {}
        for address, url, target_uuid in Target.objects.values_list("address", "url", "target_uuid"):
            addresses[url] = address
            if target_uuid:
                addresses[target_uuid] = address
        values: dict[tuple, int] = {}
        rows = TargetCount.objects.values_list(
            "group__service__name", "group__severity", "target_id", "group__aggregation_key", "count"
        )
        for service, severity, target_id, key, count in rows.iterator(chunk_size=2000):
            labels = (service, severity, addresses.get(target_id, target_id), key)
            values[labels] = values.get(labels, 0) + count
        name = "periskop_error_occurrences"
        family = Metric(name, "Occurrences of each error reported by each instance (Periskop's).", "counter")
        family.name = _Exactly(name)
        for (service, severity, target, key), count in values.items():
            family.add_sample(name, {"service_name": service, "severity": severity,
                                     "target": target, "aggregation_key": key}, count)
        return family

    def _occurrences(self):
        from errors.models import ErrorGroup

        family = GaugeMetricFamily(
            "periskop_error_group_occurrences",
            "Occurrences of each error group, across every instance and restart.",
            labels=["service_name", "severity", "aggregation_key"],
        )
        rows = ErrorGroup.objects.values_list(
            "service__name", "severity", "aggregation_key", "total_count"
        )
        for service, severity, key, total in rows:
            family.add_metric([service, severity, key], total)
        return family

    def _services(self):
        from errors.models import Service, TargetStatus

        families = {
            "discovered": GaugeMetricFamily(
                "periskop_targets_discovered", "Instances found by discovery.", labels=["service_name"]
            ),
            "up": GaugeMetricFamily(
                "periskop_targets_up", "Instances whose last scrape worked.", labels=["service_name"]
            ),
            "duration": GaugeMetricFamily(
                "periskop_scrape_duration_seconds", "Duration of the last scrape.", labels=["service_name"]
            ),
            "failures": CounterMetricFamily(
                "periskop_scrape_failures", "Failed instance scrapes.", labels=["service_name"]
            ),
        }
        services = Service.objects.annotate(
            discovered=Count("targets"), up=Count("targets", filter=Q(targets__status=TargetStatus.UP))
        )
        for service in services:
            families["discovered"].add_metric([service.name], service.discovered)
            families["up"].add_metric([service.name], service.up)
            families["duration"].add_metric([service.name], service.last_scrape_duration or 0)
            families["failures"].add_metric([service.name], service.scrape_failures)
        return list(families.values())


register_derived(ErrorsCollector())
