"""
The `[checks]` section of config.toml, as `import_config` and `export_config` see
it. Each app that owns a section of the file has such a module, named by its
AppConfig (`config_section`, `config_handler`); the commands read and write the
file and leave each section to its app.
"""

from audits import checkmodules
from audits.config import importer, reader
from audits.config.exporter import export_section


def read(value, source: str) -> list[reader.CheckSpec]:
    return reader.read_section(value, source)


def plan(specs, prune: bool) -> importer.ImportPlan:
    return importer.plan(specs, prune=prune)


def apply(import_plan: importer.ImportPlan) -> None:
    importer.apply(import_plan)


def export() -> dict:
    return export_section()


def without_unavailable(value) -> tuple[object, list[tuple[str, str]]]:
    """The section without the checks whose module is not installed here
    (upstream Telescope's own, say), and (check, why) of each one left out."""
    if not isinstance(value, dict):
        return value, []
    kept, skipped = {}, []
    for project, tables in value.items():
        if not isinstance(tables, dict):
            kept[project] = tables
            continue
        kept[project] = {}
        for name, table in tables.items():
            reason = _unavailable(table)
            if reason:
                skipped.append((f"{project}/{name}", reason))
            else:
                kept[project][name] = table
    return {project: tables for project, tables in kept.items() if tables != {}}, skipped


def _unavailable(table) -> str | None:
    module = table.get("module") if isinstance(table, dict) else None
    if not isinstance(module, str):
        return None
    try:
        checkmodules.load(module)
    except checkmodules.UnavailableModule as exc:
        return str(exc)
    except checkmodules.ModuleError:
        return None  # not allowed, or broken: an error to fix, not to skip
    return None
