"""
A whole config file, split into sections that each belong to an app.

`config.toml` has a `[checks]` section (audits) and an `[errors]` section
(errors); Periskop's YAML file holds only services. Apps declare the section they
own in their AppConfig (`config_section`, `config_handler`: a module with `read`,
`plan`, `apply`, `export`, and optionally `read_yaml` and `without_unavailable`), so that the commands need
not import the apps, and the apps need not know each other. Every problem, the
file's own and each section's, is a `ConfigError` (`foundation.config.errors`).
"""

import tomllib
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import yaml
from django.apps import apps
from django.db import transaction

from foundation.config.errors import ConfigError, Problem


@dataclass
class SectionPlan:
    section: str
    handler: object
    plan: object


def handlers() -> dict[str, object]:
    """The section name -> handler module of every installed app that owns one."""
    return {
        app.config_section: import_module(app.config_handler)
        for app in apps.get_app_configs()
        if getattr(app, "config_section", None)
    }


def load(path: str | Path) -> dict:
    """The file's sections; ConfigError when it cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.of_file(path, f"cannot be read: {exc}") from None
    if path.suffix in (".yml", ".yaml"):
        return _from_yaml(text, str(path))
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError.of_file(path, f"invalid TOML: {exc}") from None


def plan(document: dict, source: str, prune: bool) -> list[SectionPlan]:
    """Every section validated and planned; ConfigError listing every problem.
    `prune` only removes items of the sections the file has."""
    known = handlers()
    problems = [
        Problem(source, key, "", f"unknown section (expected: {', '.join(known)})")
        for key in document if key not in known
    ]
    plans = []
    for section, handler in known.items():
        if section not in document:
            continue
        try:
            specs = handler.read(document[section], source)
        except ConfigError as exc:
            problems += exc.problems
            continue
        plans.append(SectionPlan(section, handler, handler.plan(specs, prune)))
    if problems:
        raise ConfigError(problems)
    return plans


def without_unavailable(document: dict) -> tuple[dict, list[tuple[str, str]]]:
    """The document without the items whose code is not installed here (a section's
    handler says which, when it has `without_unavailable`), and (item, why) of
    each one left out: `import_config --skip-unavailable`."""
    kept, skipped = dict(document), []
    for section, handler in handlers().items():
        if section in document and hasattr(handler, "without_unavailable"):
            kept[section], left_out = handler.without_unavailable(document[section])
            skipped += left_out
    return kept, skipped


@transaction.atomic
def apply(plans: list[SectionPlan]) -> None:
    for section_plan in plans:
        section_plan.handler.apply(section_plan.plan)


def export() -> dict:
    document = {name: handler.export() for name, handler in handlers().items()}
    return {name: section for name, section in document.items() if section}


def _from_yaml(text: str, source: str) -> dict:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError.of_file(source, f"invalid YAML: {exc}") from None
    if isinstance(document, dict) and "repository" in document:
        document = {k: v for k, v in document.items() if k != "repository"}
    sections = {}
    for section, handler in handlers().items():
        if hasattr(handler, "read_yaml"):
            sections[section] = handler.read_yaml(document, source)
    return sections
