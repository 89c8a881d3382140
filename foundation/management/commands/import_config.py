"""
`python manage.py import_config [FILE] [--prune] [--dry-run] [--skip-unavailable] [--user USERNAME]`

Reads a config.toml (CONFIG_FILE by default) — checks in Telescope's format,
services in `[errors.services.*]` — or Periskop's YAML file (`.yml`, `.yaml`),
validates all of it, then creates and updates everything in one transaction.
`--prune` also removes what the file no longer has, in the sections it has.
Prints what was created, changed and removed (`--dry-run`: what would be, and
writes nothing); a broken file changes nothing and exits 1 with every problem
listed.

A config written for upstream Telescope may name check modules that exist only
there (`checks.remotesettings.*`, `checks.normandy.*`, ...), or any module not
installed here: such a file imports nothing, and says so. `--skip-unavailable`
imports the other checks, and lists the ones it left out (a pruning import keeps
stored checks of the same names: they are not the file's to remove).

Each change is written to the admin's log (each object's History page), by the
user named with `--user`, or else by the system user `import_config` (made on
first use, inactive, with no usable password); see `foundation.config.admin_log`.
"""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from foundation import placeholders
from foundation.config import admin_log
from foundation.config import document as config_document
from foundation.config.errors import ConfigError

STYLES = {"created": "SUCCESS", "changed": "WARNING", "removed": "ERROR"}
# What a dry run says: what the import would do, not what it did.
CONDITIONAL = {"created": "would create", "changed": "would change", "removed": "would remove"}


class Command(BaseCommand):
    help = "Import checks and error services from config.toml (or Periskop's YAML)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="default: CONFIG_FILE")
        parser.add_argument("--prune", action="store_true", help="remove what is not in the file")
        parser.add_argument("--dry-run", action="store_true", help="show what would change")
        parser.add_argument(
            "--skip-unavailable", action="store_true",
            help="import the checks whose module is installed here, and list the others "
            "(a config of upstream Telescope's own checks, say)",
        )
        parser.add_argument(
            "--user",
            help="who the admin's log says made the changes "
            f"(default: the system user {admin_log.SYSTEM_USERNAME!r})",
        )

    def handle(self, *args, file=None, prune=False, dry_run=False, user=None,
               skip_unavailable=False, **options):
        path = file or settings.CONFIG_FILE
        author = self._user(user)
        document, skipped = None, []
        try:
            document = config_document.load(path)
            if skip_unavailable:
                document, skipped = config_document.without_unavailable(document)
            plans = config_document.plan(document, str(path), prune)
        except ConfigError as exc:
            raise CommandError(f"Nothing imported.\n{exc}{_hint(document, skip_unavailable)}",
                               returncode=1)
        _keep_skipped(plans, skipped)
        if not dry_run:
            with transaction.atomic():
                config_document.apply(plans)
                if any(section_plan.plan.lines() for section_plan in plans):
                    admin_log.log_import(plans, author or admin_log.system_user(), str(path))
        self._report(path, plans, dry_run)
        self._report_skipped(skipped, dry_run)
        self._warn_unset_variables(document)

    def _user(self, username):
        """The user named by --user (checked before anything is read), or None."""
        if username is None:
            return None
        User = get_user_model()
        try:
            return User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"Nothing imported: no user {username!r}.", returncode=1)

    def _report(self, path, plans, dry_run):
        counts = {"created": 0, "changed": 0, "removed": 0}
        unchanged = 0
        for section_plan in plans:
            for verb, what in section_plan.plan.lines():
                counts[verb] += 1
                style = getattr(self.style, STYLES[verb])
                self.stdout.write(style(f"{CONDITIONAL[verb] if dry_run else verb} {what}"))
            unchanged += len(section_plan.plan.unchanged)
        summary = ", ".join(f"{n} {verb}" for verb, n in counts.items())
        if dry_run:
            self.stdout.write(
                f"{path}: would be {summary}; {unchanged} unchanged (dry run: nothing written)."
            )
        else:
            self.stdout.write(f"{path}: {summary}, {unchanged} unchanged.")

    def _report_skipped(self, skipped, dry_run):
        for item, reason in skipped:
            verb = "would skip" if dry_run else "skipped"
            self.stdout.write(self.style.WARNING(f"{verb} {item}: {reason}"))
        if skipped:
            verb = "would be" if dry_run else "were"
            self.stdout.write(
                f"{len(skipped)} check{'s' if len(skipped) > 1 else ''} {verb} left out "
                "(--skip-unavailable): their modules are not installed here."
            )

    def _warn_unset_variables(self, document):
        # Not an error: the workers that run checks and scrapes may have another environment.
        for what, value, where in _resolved_at_run_time(document):
            for variable in sorted(placeholders.required_names(value) - set(os.environ)):
                self.stderr.write(
                    f"warning: {what} uses ${{{variable}}}, "
                    f"which is not set here; it must be set where {where}."
                )


def _hint(document, skip_unavailable: bool) -> str:
    """How to import the rest of a file whose modules are not all installed here."""
    if skip_unavailable or not isinstance(document, dict):
        return ""
    try:
        _, skipped = config_document.without_unavailable(document)
    except ConfigError:
        return ""
    if not skipped:
        return ""
    return (
        f"\n{len(skipped)} check{'s' if len(skipped) > 1 else ''} use modules not installed "
        "here: --skip-unavailable imports the others and lists these."
    )


def _keep_skipped(plans, skipped) -> None:
    """A pruning import keeps the stored items named like the skipped ones: the
    file has them, only their code is missing here."""
    keep = {item for item, _ in skipped}
    for section_plan in plans if keep else ():
        removed = getattr(section_plan.plan, "removed", None)
        if removed:
            section_plan.plan.removed = [obj for obj in removed if str(obj) not in keep]


def _resolved_at_run_time(document: dict):
    """(what, value, where it is resolved) of every value that may hold placeholders:
    the parameters of checks and the request headers of services."""
    checks = document.get("checks", {})
    for project, tables in checks.items() if isinstance(checks, dict) else ():
        for name, table in tables.items() if isinstance(tables, dict) else ():
            if isinstance(table, dict):
                yield f"{project}/{name}", table.get("params", {}), "checks run"
    services = (document.get("errors") or {}).get("services", {})
    for name, table in services.items() if isinstance(services, dict) else ():
        if isinstance(table, dict):
            yield f"service {name}", table.get("request_headers", {}), "services are scraped"
