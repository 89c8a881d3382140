"""
Reading a `config.toml` in Telescope's format, validated whole before anything is
written.

    [checks.myproject.homepage]
    description = "The home page answers"
    module = "checks.core.heartbeat"
    params.url = "https://example.com/__heartbeat__"
    ttl = 60
    tags = ["critical"]
    plot = ".age_hours"      # optional
    enabled = true           # optional: the rest are extensions of Telescope's format
    schedule = "5m"          # optional: own schedule (duration or crontab), audits.schedules
    failure_threshold = 3    # optional: alert after 3 failures in a row
    depends_on = ["infra/dns"]  # optional: checks (project/name) this one depends on

`depends_on` names checks of the same file, or checks already stored; a check that
names itself, an unknown check, or a cycle (a → b → a) is refused.

`load()` returns one `CheckSpec` per check, in file order, or raises
`foundation.config.errors.ConfigError` listing every problem as
`file: checks.project.name: field: what is wrong`.
"""

import tomllib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from audits import checkmodules, params, schedules
from audits.models import Check, Tag, dependency_cycle, stored_dependencies
from foundation.config.errors import ConfigError, Problem
from foundation.names import field_problems

CHECK_FIELDS = (
    "description", "module", "params", "ttl", "tags", "plot", "enabled",
    "schedule", "failure_threshold", "depends_on",
)


@dataclass
class CheckSpec:
    project: str
    name: str
    module: str
    description: str = ""
    params: dict = field(default_factory=dict)
    ttl: int | None = None
    tags: list[str] = field(default_factory=list)
    plot: str = ""
    enabled: bool = True
    schedule: str = ""
    failure_threshold: int = 1
    depends_on: list[str] = field(default_factory=list)  # keys: "project/name"
    position: int = 0

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"

    def as_toml(self) -> dict:
        """This check as a `[checks.<project>.<name>]` table, defaults left out."""
        table: dict[str, Any] = {"description": self.description, "module": self.module}
        if self.params:
            table["params"] = self.params
        if self.ttl is not None:
            table["ttl"] = self.ttl
        if self.tags:
            table["tags"] = self.tags
        if self.plot:
            table["plot"] = self.plot
        if not self.enabled:
            table["enabled"] = False
        if self.schedule:
            table["schedule"] = self.schedule
        if self.failure_threshold != 1:
            table["failure_threshold"] = self.failure_threshold
        if self.depends_on:
            table["depends_on"] = self.depends_on
        return table


def load(path: str | Path) -> list[CheckSpec]:
    """The checks of the file at `path`; ConfigError when anything is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.of_file(path, f"cannot be read: {exc}") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> list[CheckSpec]:
    """The checks of a whole config.toml text (its other sections belong to other apps)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError.of_file(source, f"invalid TOML: {exc}") from None
    return read_section(document.get("checks", {}), source)


def read_section(projects: Any, source: str) -> list[CheckSpec]:
    """The checks of a `[checks]` section; ConfigError listing every problem."""
    problems: list[Problem] = []
    specs = list(_read_checks(projects, source, problems))
    problems += _dependency_problems(specs, source)
    if problems:
        raise ConfigError(problems)
    return specs


def _read_checks(projects: Any, source: str, problems: list[Problem]):
    if not isinstance(projects, dict):
        problems.append(Problem(source, "checks", "", "expected tables [checks.<project>.<name>]"))
        return
    position = 0
    for project, checks in projects.items():
        if not isinstance(checks, dict):
            problems.append(Problem(
                source, f"checks.{project}", "", f"expected [checks.{project}.<name>] tables"
            ))
            continue
        for name, table in checks.items():
            found: list[params.ParamError] = []
            spec = _read_check(project, name, table, position, found)
            item = f"checks.{project}.{name}"
            problems += [Problem(source, item, exc.field, exc.message) for exc in found]
            if not found:
                yield spec
            position += 1


def _read_check(
    project: str, name: str, table: Any, position: int, found: list
) -> CheckSpec | None:
    """The check of `table`; every problem of it appended to `found`."""
    found += _identifier_problems(project, name)
    if not isinstance(table, dict):
        found.append(params.ParamError("", "expected a table"))
        return None
    found += [
        params.ParamError(key, f"unknown field (expected one of {', '.join(CHECK_FIELDS)})")
        for key in sorted(set(table) - set(CHECK_FIELDS))
    ]
    read = partial(_read_into, found)
    module = read(_read_module, table)
    return CheckSpec(
        project=project,
        name=name,
        module=module.path if module else "",
        description=read(_typed, table, "description", str, ""),
        params=_read_params(module, table, found),
        ttl=read(_read_ttl, table),
        tags=_read_tags(table, found),
        plot=read(_typed, table, "plot", str, ""),
        enabled=read(_typed, table, "enabled", bool, True),
        schedule=read(_read_schedule, table),
        failure_threshold=read(_read_threshold, table),
        depends_on=_read_depends_on(table, found),
        position=position,
    )


def _read_into(found: list, reader, *args):
    """`reader(*args)`, or None with its ParamError appended to `found`."""
    try:
        return reader(*args)
    except params.ParamError as exc:
        found.append(exc)
        return None


def _identifier_problems(project: str, name: str) -> list[params.ParamError]:
    return [
        params.ParamError(label, message)
        for label, value in (("project", project), ("name", name))
        for message in field_problems(Check, label, value)
    ]


def _read_params(module, table: dict, found: list) -> dict:
    """The module's parameters, every one of them checked (not only the first)."""
    values = _read_into(found, _typed, table, "params", dict, {})
    if module is None or values is None:
        return {}
    cleaned, errors = params.validate_each(module, values)
    found += errors.values()
    return cleaned or {}


def _read_module(table: dict) -> checkmodules.CheckModule:
    if "module" not in table:
        raise params.ParamError("module", "missing (a dotted path such as checks.core.heartbeat)")
    path = _typed(table, "module", str, "")
    try:
        return checkmodules.load(path)
    except checkmodules.ModuleError as exc:
        raise params.ParamError("module", str(exc)) from None


def _read_ttl(table: dict) -> int | None:
    ttl = _typed(table, "ttl", int, None)
    if ttl is not None and ttl < 0:
        raise params.ParamError("ttl", f"must be 0 or more seconds, not {ttl}")
    return ttl


def _read_schedule(table: dict) -> str:
    value = table.get("schedule", "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{value}s"  # seconds, stored as a duration
    value = _typed({"schedule": value}, "schedule", str, "")
    try:
        value and schedules.parse(value)
    except schedules.ScheduleError as exc:
        raise params.ParamError("schedule", str(exc)) from None
    return value


def _read_threshold(table: dict) -> int:
    threshold = _typed(table, "failure_threshold", int, 1)
    if threshold < 1:
        raise params.ParamError("failure_threshold", f"must be 1 or more, not {threshold}")
    return threshold


def _read_tags(table: dict, found: list) -> list[str]:
    tags = _read_into(found, _typed, table, "tags", list, []) or []
    for i, tag in enumerate(tags):
        if not isinstance(tag, str):
            found.append(params.ParamError(f"tags[{i}]", f"{tag!r} is not a string"))
            continue
        problems = field_problems(Tag, "name", tag)
        found += [params.ParamError(f"tags[{i}]", problem) for problem in problems]
    return sorted({tag for tag in tags if isinstance(tag, str)})


def _read_depends_on(table: dict, found: list) -> list[str]:
    keys = _read_into(found, _typed, table, "depends_on", list, []) or []
    for i, key in enumerate(keys):
        project, _, name = key.partition("/") if isinstance(key, str) else ("", "", "")
        if not (project and name):
            found.append(params.ParamError(
                f"depends_on[{i}]", f"{key!r} is not a check's project/name, such as \"infra/dns\""
            ))
    return sorted({key for key in keys if isinstance(key, str)})


def _dependency_problems(specs: list[CheckSpec], source: str) -> list[Problem]:
    """Dependencies on unknown checks, on themselves, and in a cycle, through the
    stored checks the file leaves as they are."""
    if not any(spec.depends_on for spec in specs):
        return []  # nothing to look up (and no database needed)
    graph = stored_dependencies()
    in_file = {spec.key for spec in specs}
    for key in in_file:
        graph.pop(key, None)  # the file's dependencies replace the stored ones
    graph.update({spec.key: spec.depends_on for spec in specs if spec.depends_on})
    named = {key for spec in specs for key in spec.depends_on}
    stored = _stored_keys(named - in_file)
    problems = []
    for spec in specs:
        item = f"checks.{spec.project}.{spec.name}"
        for key in spec.depends_on:
            if key == spec.key:
                problems.append(Problem(source, item, "depends_on", "a check cannot depend on itself"))
            elif key not in in_file and key not in stored:
                problems.append(Problem(
                    source, item, "depends_on",
                    f"unknown check {key!r} (neither in this file nor stored)",
                ))
    if problems:
        return problems
    cycle = dependency_cycle(graph)
    if cycle:
        # A stored graph has no cycle: one that appears goes through the file.
        project, _, name = next(key for key in cycle if key in in_file).partition("/")
        where = f"checks.{project}.{name}"
        problems.append(Problem(source, where, "depends_on", f"a cycle: {' → '.join(cycle)}"))
    return problems


def _stored_keys(keys: set[str]) -> set[str]:
    if not keys:
        return set()
    pairs = [key.partition("/")[::2] for key in keys]
    projects = {project for project, _ in pairs}
    names = {name for _, name in pairs}
    found = Check.objects.filter(project__in=projects, name__in=names).values_list("project", "name")
    return {f"{project}/{name}" for project, name in found} & keys


def _typed(table: dict, key: str, expected: type, default):
    value = table.get(key, default)
    if value is default:
        return value
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        names = {str: "a string", int: "an integer", dict: "a table", list: "a list", bool: "true or false"}
        raise params.ParamError(key, f"expected {names[expected]}, got {value!r}")
    return value
