"""
`python manage.py export_config [-o FILE]`

Writes every check as a Telescope-format config.toml (to standard output by
default). Placeholders are written as stored: the export holds no secret.
"""

from pathlib import Path

from django.core.management.base import BaseCommand

from audits.exporter import export_toml


class Command(BaseCommand):
    help = "Export the checks as a Telescope config.toml."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="file to write (default: stdout)")

    def handle(self, *args, output=None, **options):
        text = export_toml()
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
