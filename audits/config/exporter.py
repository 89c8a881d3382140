"""
Writing the stored checks back as a `config.toml` that imports to identical rows.

Parameters are written as stored, so `${VAR}` placeholders stay placeholders.
"""

import tomli_w

from audits.config.importer import spec_of
from audits.models import Check


def export_section(checks=None) -> dict:
    """The checks (all of them by default) as a `[checks]` section, in file order."""
    checks = Check.objects.prefetch_related("tags").with_parents() if checks is None else checks
    section: dict = {}
    for check in checks:
        section.setdefault(check.project, {})[check.name] = spec_of(check).as_toml()
    return section


def export_toml(checks=None) -> str:
    """The checks as Telescope-format TOML."""
    return tomli_w.dumps({"checks": export_section(checks)}, multiline_strings=True)
