"""
The `[errors]` section of config.toml (and Periskop's YAML), as `import_config`
and `export_config` see it; see `audits.config.section` for the contract.
"""

from pathlib import Path

from errors.config import importer, reader
from errors.models import Service


def read(value, source: str) -> list[reader.ServiceSpec]:
    return reader.read_section(value, source, _folder(source))


def read_yaml(document, source: str) -> dict:
    """Periskop's YAML file as the `[errors]` section of our own format."""
    return reader.from_periskop_yaml(document, source)


def plan(specs, prune: bool) -> importer.ImportPlan:
    return importer.plan(specs, prune=prune)


def apply(import_plan: importer.ImportPlan) -> None:
    importer.apply(import_plan)


def _folder(source: str) -> str:
    """The folder of the file imported: `import_config` names it by its path. An
    upload in the admin has no folder (its name is no path here): "" then, and
    relative paths are read from CONFIG_FILE's folder."""
    path = Path(source)
    return str(path.resolve().parent) if path.is_file() else ""


def export() -> dict:
    services = {s.name: importer.spec_of(s).as_toml() for s in Service.objects.all()}
    return {"services": services} if services else {}
