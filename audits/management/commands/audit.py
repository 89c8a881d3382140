"""
`python manage.py audit [project] [name] [--force] [--force-exit-zero]`

Telescope's CLI: runs the selected checks (all by default) and prints, for each,
its description and its data as JSON, green when it passed and red when it failed.
Exit code: 0 when every check passed, 1 when one failed, 2 when one crashed or the
project or check is unknown (`--force-exit-zero` always exits 0).
"""

import json
import sys

from django.core.management.base import BaseCommand

from audits import runner
from audits.models import Check

PASSED, FAILED, CRASHED = 0, 1, 2


class Command(BaseCommand):
    help = "Run checks and print their results (Telescope's `check` command)."

    def add_arguments(self, parser):
        parser.add_argument("project", nargs="?")
        parser.add_argument("name", nargs="?")
        parser.add_argument("--force", action="store_true", help="ignore cached results")
        parser.add_argument(
            "--force-exit-zero", action="store_true", help="exit 0 even when checks fail"
        )

    def handle(self, *args, project=None, name=None, force=False, **options):
        checks = self._select(project, name)
        if not checks:
            self.stderr.write(self.style.ERROR(_nothing_to_run(project, name)))
            sys.exit(CRASHED)
        results = runner.run_checks(checks, force=force, progress=self._progress)
        for check, result in zip(checks, results):
            self._print(check, result)
        sys.exit(PASSED if options["force_exit_zero"] else _exit_code(results))

    def _select(self, project, name) -> list[Check]:
        checks = Check.objects.enabled().prefetch_related("tags")
        if project:
            checks = checks.filter(project=project)
        if name:
            checks = checks.filter(name=name)
        return list(checks)

    def _progress(self, done: int, total: int):
        # Only on a terminal: a log file does not need a line per finished check.
        if self.stderr.isatty():
            ending = "\n" if done == total else ""
            self.stderr.write(f"\r{done}/{total} checks done", ending=ending)

    def _print(self, check: Check, result: runner.Result):
        style = self.style.SUCCESS if result.success else self.style.ERROR
        self.stdout.write(self.style.MIGRATE_HEADING(f"{check}: {check.description}"))
        self.stdout.write(style(json.dumps(result.data, indent=2)))
        self.stdout.write("")


def _nothing_to_run(project, name) -> str:
    if name:
        return f"Unknown check {project}/{name}."
    if project:
        return f"Unknown project {project}."
    return "No check is configured: import some with `manage.py import_config`."


def _exit_code(results) -> int:
    if any(r.crashed for r in results):
        return CRASHED
    return PASSED if all(r.success for r in results) else FAILED
