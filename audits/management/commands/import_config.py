"""
`python manage.py import_config [FILE] [--prune] [--dry-run]`

Reads a Telescope-format config.toml (CONFIG_FILE by default), validates all of it,
then creates and updates checks in one transaction. `--prune` also removes the
checks that the file no longer has. Prints what was created, changed and removed;
a broken file changes nothing and exits 1 with every problem listed.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audits import config_file, importer, placeholders


class Command(BaseCommand):
    help = "Import checks from a Telescope config.toml."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="default: CONFIG_FILE")
        parser.add_argument("--prune", action="store_true", help="remove checks not in the file")
        parser.add_argument("--dry-run", action="store_true", help="show what would change")

    def handle(self, *args, file=None, prune=False, dry_run=False, **options):
        path = file or settings.CONFIG_FILE
        try:
            specs = config_file.load(path)
        except config_file.ConfigError as exc:
            raise CommandError(f"Nothing imported.\n{exc}", returncode=1)
        plan = importer.plan(specs, prune=prune)
        if not dry_run:
            importer.apply(plan)
        self._report(path, plan, dry_run)
        self._warn_unset_variables(specs)

    def _report(self, path, plan, dry_run):
        for spec in plan.created:
            self.stdout.write(self.style.SUCCESS(f"created {spec.project}/{spec.name}"))
        for change in plan.changed:
            fields = ", ".join(change.fields)
            self.stdout.write(self.style.WARNING(f"changed {change.check} ({fields})"))
        for check in plan.removed:
            self.stdout.write(self.style.ERROR(f"removed {check}"))
        summary = (
            f"{path}: {len(plan.created)} created, {len(plan.changed)} changed, "
            f"{len(plan.removed)} removed, {len(plan.unchanged)} unchanged"
        )
        self.stdout.write(summary + (" (dry run: nothing written)." if dry_run else "."))

    def _warn_unset_variables(self, specs):
        # Not an error: the workers that run the checks may have another environment.
        for spec in specs:
            for name in sorted(placeholders.required_names(spec.params) - set(os.environ)):
                self.stderr.write(
                    f"warning: {spec.project}/{spec.name} uses ${{{name}}}, "
                    f"which is not set here; it must be set where checks run."
                )
