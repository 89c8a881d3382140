"""
`python manage.py export_config [-o FILE]`

Writes every check and error service as a config.toml (to standard output by
default) that imports back to identical rows. Placeholders are written as
stored: the export holds no secret.
"""

from pathlib import Path

import tomli_w
from django.core.management.base import BaseCommand

from foundation.config import document as config_document


class Command(BaseCommand):
    help = "Export the checks and error services as a config.toml."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="file to write (default: stdout)")

    def handle(self, *args, output=None, **options):
        text = tomli_w.dumps(config_document.export(), multiline_strings=True)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
