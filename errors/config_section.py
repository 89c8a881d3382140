"""
The `[errors]` section of config.toml (and Periskop's YAML), as `import_config`
and `export_config` see it; see `audits.config_section` for the contract.
"""

from . import config_file, importer
from .models import Service

ConfigError = config_file.ConfigError


def read(value, source: str) -> list[config_file.ServiceSpec]:
    return config_file.read_section(value, source)


def read_yaml(document, source: str) -> dict:
    """Periskop's YAML file as the `[errors]` section of our own format."""
    return config_file.from_periskop_yaml(document, source)


def plan(specs, prune: bool) -> importer.ImportPlan:
    return importer.plan(specs, prune=prune)


def apply(import_plan: importer.ImportPlan) -> None:
    importer.apply(import_plan)


def export() -> dict:
    services = {s.name: importer.spec_of(s).as_toml() for s in Service.objects.all()}
    return {"services": services} if services else {}
