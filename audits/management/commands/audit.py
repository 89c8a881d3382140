"""
`python manage.py audit [project] [name] [--force] [--force-exit-zero] [--json]`

Telescope's CLI: runs the selected checks (all by default) and prints, for each, a
marker (`✓` passed, `✗` failed, `!` crashed), its name and description, and its
data as JSON (a failing check blocked by a failing dependency says so: `✗ web/api
(blocked by infra/dns)`); then a summary (`12 passed, 2 failed, 1 crashed in 2.3 s`). The
markers carry the outcome when the output is piped to a file or another program;
on a terminal the lines are coloured too, unless `NO_COLOR` is set (no-color.org)
or `--no-color` is given. `--json` prints one JSON document instead, for scripts.

The service's log lines (a failing check's ERROR line included) stay off the
terminal unless `-v 2` is given: they would break into the progress line and the
results. Critical ones still show.

Exit code: 0 when every check passed, 1 when one failed, 2 when one crashed or the
project or check is unknown (`--force-exit-zero` always exits 0).
"""

import json as json_module
import logging
import os
import sys
import time

from django.core.management.base import BaseCommand
from django.core.management.color import no_style

from audits import runner
from audits.models import Check, prefetch_parents

PASSED, FAILED, CRASHED = 0, 1, 2
MARKERS = {PASSED: "✓", FAILED: "✗", CRASHED: "!"}
WORDS = {PASSED: "passed", FAILED: "failed", CRASHED: "crashed"}


class Command(BaseCommand):
    help = "Run checks and print their results (Telescope's `check` command)."

    def add_arguments(self, parser):
        parser.add_argument("project", nargs="?")
        parser.add_argument("name", nargs="?")
        parser.add_argument("--force", action="store_true", help="ignore cached results")
        parser.add_argument(
            "--force-exit-zero", action="store_true", help="exit 0 even when checks fail"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **options):
        if os.environ.get("NO_COLOR"):
            self.style, self.stderr.style_func = no_style(), None
        if options["verbosity"] < 2:
            logging.disable(logging.ERROR)  # a failing check logs an ERROR line too
        try:
            code = self._audit(**options)
        finally:
            logging.disable(logging.NOTSET)
        sys.exit(PASSED if options["force_exit_zero"] else code)

    def _audit(self, project=None, name=None, force=False, json=False, **options) -> int:
        checks = self._select(project, name)
        if not checks:
            self.stderr.write(self.style.ERROR(_nothing_to_run(project, name)))
            return CRASHED
        started = time.monotonic()
        results = runner.run_checks(checks, force=force, progress=None if json else self._progress)
        seconds = time.monotonic() - started
        outcomes = {check.pk: result.success for check, result in zip(checks, results)}
        prefetch_parents(checks, outcomes)  # one query: what blocks a failing check
        self.blocked = {
            check.pk: parent.key
            for check, result in zip(checks, results)
            if (parent := check.blocked_by(result.success, outcomes))
        }
        if json:
            self._print_json(checks, results, seconds)
        else:
            for check, result in zip(checks, results):
                self._print(check, result)
            self.stdout.write(self._summary(results, seconds))
        return _exit_code(results)

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
            # Not in stderr's error style: progress is not a failure.
            self.stderr.write(f"\r{done}/{total} checks done", ending=ending, style_func=str)

    def _print(self, check: Check, result: runner.Result):
        outcome = _outcome(result)
        style = (self.style.SUCCESS, self.style.ERROR, self.style.WARNING)[outcome]
        description = f": {check.description}" if check.description else ""
        blocked = f" (blocked by {self.blocked[check.pk]})" if check.pk in self.blocked else ""
        self.stdout.write(style(f"{MARKERS[outcome]} {check}{description}{blocked}"))
        self.stdout.write(json_module.dumps(result.data, indent=2))
        self.stdout.write("")

    def _summary(self, results, seconds: float) -> str:
        counts = _counts(results)
        line = ", ".join(f"{counts[o]} {WORDS[o]}" for o in (PASSED, FAILED, CRASHED))
        worst = CRASHED if counts[CRASHED] else FAILED if counts[FAILED] else PASSED
        style = (self.style.SUCCESS, self.style.ERROR, self.style.WARNING)[worst]
        return style(f"{line} in {seconds:.1f} s")

    def _print_json(self, checks, results, seconds: float):
        document = {
            "results": [
                {"project": c.project, "name": c.name, "outcome": WORDS[_outcome(r)], **r.as_dict(),
                 "blocked_by": self.blocked.get(c.pk)}
                for c, r in zip(checks, results)
            ],
            "summary": {WORDS[o]: n for o, n in _counts(results).items()},
        }
        document["summary"]["seconds"] = round(seconds, 3)
        self.stdout.write(json_module.dumps(document, indent=2))


def _outcome(result: runner.Result) -> int:
    if result.crashed:
        return CRASHED
    return PASSED if result.success else FAILED


def _counts(results) -> dict[int, int]:
    outcomes = [_outcome(r) for r in results]
    return {o: outcomes.count(o) for o in (PASSED, FAILED, CRASHED)}


def _nothing_to_run(project, name) -> str:
    if name:
        return f"Unknown check {project}/{name}."
    if project:
        return f"Unknown project {project}."
    return "No check is configured: import some with `manage.py import_config`."


def _exit_code(results) -> int:
    counts = _counts(results)
    if counts[CRASHED]:
        return CRASHED
    return FAILED if counts[FAILED] else PASSED
