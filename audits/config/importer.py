"""
Upserting checks from a validated config: first a plan, then one transaction.

`plan()` compares the specs with the database and says what would be created,
changed (and which fields) and removed, without writing anything, so the admin can
preview an import. `apply()` writes a plan in one transaction: an import either
lands whole or not at all. Importing the same file twice changes nothing.
"""

from dataclasses import dataclass, field

from django.db import transaction

from audits.config.reader import CheckSpec
from audits.models import Check, Tag

COMPARED_FIELDS = (
    "description", "module", "params", "ttl", "plot", "enabled",
    "schedule", "failure_threshold",
)


@dataclass
class Change:
    check: Check
    spec: CheckSpec
    fields: list[str]


@dataclass
class ImportPlan:
    created: list[CheckSpec] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    removed: list[Check] = field(default_factory=list)
    unchanged: list[Change] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.created or self.changed or self.removed)

    def lines(self) -> list[tuple[str, str]]:
        """(verb, what) for each change, for people to read."""
        return (
            [("created", f"{s.project}/{s.name}") for s in self.created]
            + [("changed", f"{c.check} ({', '.join(c.fields)})") for c in self.changed]
            + [("removed", f"{check}") for check in self.removed]
        )

    def logged_changes(self) -> list[tuple[str, Check, list[str]]]:
        """After `apply()`: (verb, check, changed fields) of each change, for the
        admin's log (`foundation.config.admin_log`). Removed checks keep their former pk."""
        keys = {(s.project, s.name) for s in self.created}
        created = Check.objects.filter(
            project__in={p for p, _ in keys}, name__in={n for _, n in keys}
        )
        by_key = {(c.project, c.name): c for c in created}
        return (
            [("created", by_key[(s.project, s.name)], []) for s in self.created]
            + [("changed", c.check, c.fields) for c in self.changed]
            + [("removed", check, []) for check in self.removed]
        )


def plan(specs: list[CheckSpec], prune: bool = False) -> ImportPlan:
    existing = {
        (c.project, c.name): c for c in Check.objects.prefetch_related("tags").with_parents()
    }
    result = ImportPlan()
    for spec in specs:
        check = existing.pop((spec.project, spec.name), None)
        if check is None:
            result.created.append(spec)
            continue
        change = Change(check, spec, _changed_fields(check, spec))
        (result.changed if change.fields else result.unchanged).append(change)
    if prune:
        result.removed = list(existing.values())
    return result


@transaction.atomic
def apply(import_plan: ImportPlan) -> None:
    tags = _tags_by_name(import_plan)
    for spec in import_plan.created:
        check = Check(project=spec.project, name=spec.name)
        _copy(spec, check)
        check.save()
        check.tags.set([tags[name] for name in spec.tags])
    for change in import_plan.changed:
        _copy(change.spec, change.check)
        change.check.save(update_fields=[*COMPARED_FIELDS, "position", "updated"])
        change.check.tags.set([tags[name] for name in change.spec.tags])
    _update_positions(import_plan.unchanged)
    Check.objects.filter(pk__in=[c.pk for c in import_plan.removed]).delete()
    _set_dependencies(import_plan)


def spec_of(check: Check) -> CheckSpec:
    """The config of a stored check, as the exporter writes it."""
    return CheckSpec(
        project=check.project,
        name=check.name,
        module=check.module,
        description=check.description,
        params=check.params,
        ttl=check.ttl,
        tags=check.tag_names(),
        plot=check.plot,
        enabled=check.enabled,
        schedule=check.schedule,
        failure_threshold=check.failure_threshold,
        depends_on=check.parent_keys(),
        position=check.position,
    )


def _changed_fields(check: Check, spec: CheckSpec) -> list[str]:
    changed = [f for f in COMPARED_FIELDS if getattr(check, f) != getattr(spec, f)]
    if check.tag_names() != spec.tags:
        changed.append("tags")
    if check.parent_keys() != spec.depends_on:
        changed.append("depends_on")
    return changed


def _copy(spec: CheckSpec, check: Check) -> None:
    for name in (*COMPARED_FIELDS, "position"):
        setattr(check, name, getattr(spec, name))


def _tags_by_name(import_plan: ImportPlan) -> dict[str, Tag]:
    specs = import_plan.created + [c.spec for c in import_plan.changed]
    names = {name for spec in specs for name in spec.tags}
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    return {tag.name: tag for tag in Tag.objects.filter(name__in=names)}


def _set_dependencies(import_plan: ImportPlan) -> None:
    """After every check of the file exists: the dependencies of those created or
    changed (a check may depend on one created by the same import)."""
    specs = import_plan.created + [c.spec for c in import_plan.changed]
    if not specs:
        return
    keys = {spec.key for spec in specs} | {key for spec in specs for key in spec.depends_on}
    projects = {key.partition("/")[0] for key in keys}
    by_key = {c.key: c for c in Check.objects.filter(project__in=projects)}
    for spec in specs:
        by_key[spec.key].depends_on.set([by_key[key] for key in spec.depends_on])


def _update_positions(unchanged: list[Change]) -> None:
    # Reordering a file is not a change worth reporting, but the API keeps file order.
    moved = []
    for change in unchanged:
        if change.check.position != change.spec.position:
            change.check.position = change.spec.position
            moved.append(change.check)
    Check.objects.bulk_update(moved, ["position"])
