"""
`python manage.py serve`: the service on HOST:PORT, as `make run` starts it.

It replaces itself with gunicorn: one worker with threads, because the embedded
mode keeps its cache, its scheduler and its tasks in one process (see
`telescope_site.gunicorn_conf`). Extra arguments go to gunicorn.
"""

import os
import shutil
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the service with gunicorn on HOST:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=16)
        parser.add_argument("gunicorn_args", nargs="*", help="more gunicorn arguments")

    def handle(self, *args, threads=16, gunicorn_args=(), **options):
        gunicorn = shutil.which("gunicorn") or os.path.join(
            os.path.dirname(sys.executable), "gunicorn"
        )
        if not os.path.exists(gunicorn):
            raise CommandError("gunicorn is not installed: run `make run` or pip install -r requirements.txt")
        command = [
            gunicorn, "telescope_site.wsgi:application",
            "--bind", f"{settings.HOST}:{settings.PORT}",
            "--config", "python:telescope_site.gunicorn_conf",
            "--workers", "1", "--threads", str(threads),
            *gunicorn_args,
        ]
        self.stdout.write(f"Serving on http://{settings.HOST}:{settings.PORT}/")
        sys.stdout.flush()
        os.execv(gunicorn, command)
