"""
Writing the stored checks back as a `config.toml` that imports to identical rows.

Parameters are written as stored, so `${VAR}` placeholders stay placeholders.
"""

import tomli_w

from .importer import spec_of
from .models import Check


def export_toml(checks=None) -> str:
    """The checks (all of them by default) as Telescope-format TOML, in file order."""
    checks = Check.objects.prefetch_related("tags") if checks is None else checks
    document: dict = {"checks": {}}
    for check in checks:
        projects = document["checks"].setdefault(check.project, {})
        projects[check.name] = spec_of(check).as_toml()
    return tomli_w.dumps(document, multiline_strings=True)
