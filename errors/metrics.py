"""
Prometheus metrics of the errors, read from the database at scrape time, so every
web process reports the same numbers.

`periskop_error_occurrences{service_name, severity, aggregation_key}` keeps
exactly Periskop's name (a gauge of the total: a counter would get a `_total`
suffix), so the alert in Periskop's README,
`periskop_error_occurrences{severity="error"} > 1000`, works unchanged.
"""

from django.db import DatabaseError
from django.db.models import Count, Q
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from foundation.metrics import register_derived


class ErrorsCollector:
    def describe(self):
        return []  # registration must not touch the database

    def collect(self):
        try:
            return [self._occurrences(), *self._services()]
        except DatabaseError:
            return []

    def _occurrences(self):
        from errors.models import ErrorGroup

        family = GaugeMetricFamily(
            "periskop_error_occurrences",
            "Occurrences of each error group, across every instance.",
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
