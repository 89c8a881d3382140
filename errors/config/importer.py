"""
Upserting services from a validated config: a plan first, then one transaction,
as `audits.config.importer` does for checks. Targets are not configuration: discovery
finds them at each scrape.
"""

from dataclasses import dataclass, field

from django.db import transaction

from errors.config.reader import ServiceSpec
from errors.models import Service

COMPARED_FIELDS = (
    "endpoint", "scheme", "refresh_interval", "request_headers", "follow_redirects", "discovery",
    "enabled", "config_dir", "alert_rate_per_hour",
)


@dataclass
class ImportPlan:
    created: list[ServiceSpec] = field(default_factory=list)
    changed: list[tuple[Service, ServiceSpec, list[str]]] = field(default_factory=list)
    removed: list[Service] = field(default_factory=list)
    unchanged: list[tuple[Service, ServiceSpec]] = field(default_factory=list)

    def lines(self) -> list[tuple[str, str]]:
        """(verb, what) for each change, for people to read."""
        return (
            [("created", f"service {s.name}") for s in self.created]
            + [("changed", f"service {svc} ({', '.join(f)})") for svc, _, f in self.changed]
            + [("removed", f"service {svc}") for svc in self.removed]
        )

    def logged_changes(self) -> list[tuple[str, Service, list[str]]]:
        """After `apply()`: (verb, service, changed fields) of each change, for the
        admin's log (see `foundation.config.admin_log`). Removed services keep their former pk."""
        names = [spec.name for spec in self.created]
        created = {s.name: s for s in Service.objects.filter(name__in=names)}
        return (
            [("created", created[name], []) for name in names]
            + [("changed", svc, fields) for svc, _, fields in self.changed]
            + [("removed", svc, []) for svc in self.removed]
        )


def plan(specs: list[ServiceSpec], prune: bool = False) -> ImportPlan:
    existing = {service.name: service for service in Service.objects.all()}
    result = ImportPlan()
    for spec in specs:
        service = existing.pop(spec.name, None)
        if service is None:
            result.created.append(spec)
            continue
        changed = [f for f in COMPARED_FIELDS if getattr(service, f) != getattr(spec, f)]
        if changed:
            result.changed.append((service, spec, changed))
        else:
            result.unchanged.append((service, spec))
    if prune:
        result.removed = list(existing.values())
    return result


@transaction.atomic
def apply(import_plan: ImportPlan) -> None:
    for spec in import_plan.created:
        Service.objects.create(name=spec.name, **_values(spec))
    for service, spec, _ in import_plan.changed + [(s, p, []) for s, p in import_plan.unchanged]:
        for name, value in _values(spec).items():
            setattr(service, name, value)
        service.save(update_fields=[*COMPARED_FIELDS, "position"])
    Service.objects.filter(pk__in=[s.pk for s in import_plan.removed]).delete()


def spec_of(service: Service) -> ServiceSpec:
    return ServiceSpec(name=service.name, position=service.position, **{
        f: getattr(service, f) for f in COMPARED_FIELDS
    })


def _values(spec: ServiceSpec) -> dict:
    return {**{f: getattr(spec, f) for f in COMPARED_FIELDS}, "position": spec.position}
