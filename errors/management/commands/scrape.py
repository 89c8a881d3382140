"""
`python manage.py scrape [service ...]`

Scrapes the services now (all enabled ones by default), in this process, and
prints what each scrape found: targets, targets up, errors added, problems.
Useful to check a new service's configuration without waiting for the scheduler.
"""

from django.core.management.base import BaseCommand, CommandError

from errors import scraper
from errors.models import Service


class Command(BaseCommand):
    help = "Scrape error services now."

    def add_arguments(self, parser):
        parser.add_argument("services", nargs="*", help="names (default: every enabled one)")

    def handle(self, *args, services=(), **options):
        selected = Service.objects.filter(enabled=True)
        if services:
            selected = Service.objects.filter(name__in=services)
            unknown = set(services) - set(selected.values_list("name", flat=True))
            if unknown:
                raise CommandError(f"Unknown service(s): {', '.join(sorted(unknown))}", returncode=2)
        for service in selected:
            report = scraper.scrape(service)
            self.stdout.write(
                f"{service}: {report.up}/{report.targets} targets up, "
                f"{report.increment} new errors"
            )
            for problem in report.errors:
                self.stderr.write(f"  {problem}")
