"""
The `[checks]` section of config.toml, as `import_config` and `export_config` see
it. Each app that owns a section of the file has such a module, named by its
AppConfig (`config_section`, `config_handler`); the commands read and write the
file and leave each section to its app.
"""

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
