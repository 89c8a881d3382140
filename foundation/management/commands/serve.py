"""
`python manage.py serve`: the service on HOST:PORT, as `make run` starts it.

It replaces itself with gunicorn: one worker with threads, because the embedded
mode keeps its cache, its scheduler and its tasks in one process (see
`telescope_site.gunicorn_conf`). Extra arguments go to gunicorn.

Before that it prints where the dashboard is and how to log in to it: a fresh
database has no user, and the way to make one is a command nobody guesses.
"""

import os
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections


def login_instructions(host: str, port: int, scheme: str = "http") -> str:
    """Where the dashboard and the admin of a server listening on `host`:`port` are,
    and how to get a login to them."""
    # A browser cannot open the wildcard addresses: name this machine instead.
    host = {"": "127.0.0.1", "0": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    base_url = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
    python = _python()
    lines = [f"Dashboard: {base_url}/dashboard/   Admin: {base_url}/admin/"]
    try:
        has_login = get_user_model().objects.filter(is_staff=True, is_active=True).exists()
    except DatabaseError as exc:
        has_login, problem = None, exc
    finally:
        connections.close_all()  # this process may exec gunicorn or serve on threads
    if has_login is None:
        lines.append(
            f"The database is not ready ({problem}): run `{python} manage.py migrate`, then restart."
        )
    elif not has_login:
        lines += [
            "No one can log in yet. Create an administrator (in another terminal):",
            f"    {python} manage.py createsuperuser",
        ]
    else:
        lines.append(
            f"Log in with a staff account (forgotten password: "
            f"`{python} manage.py changepassword NAME`)."
        )
    return "\n".join(lines) + "\n"


def _python() -> str:
    """The interpreter as the user should type it: `.venv/bin/python` under `make run`."""
    try:
        return str(Path(sys.executable).relative_to(settings.BASE_DIR))
    except ValueError:
        return "python"


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
        self.stdout.write(login_instructions(settings.HOST, settings.PORT), ending="")
        sys.stdout.flush()
        os.execv(gunicorn, command)
