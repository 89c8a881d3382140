"""
The service starts with no setting at all, as a person starts it on a fresh clone:
no DEBUG, no SECRET_KEY, `make run`, `manage.py runserver` or `manage.py serve`.

Every test runs the real commands (this virtualenv's Python) in a copy of the
project made without `.venv`, `var/`, `db.sqlite3` or `.env`, serving on a free port
of 127.0.0.1, and kills them at the end. Nothing leaves this machine: the scheduled
Bugzilla sync is turned off, and the only scrape target is a server of the test.
"""

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from bs4 import BeautifulSoup

from testing.processes import Server, free_port, service_environment
from testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LEFT_BEHIND = {".venv", ".git", "var", "db.sqlite3", ".env", "test-artifacts", ".pytest_cache"}
PASSWORD = "zero-config-password"
GENERATED = "No SECRET_KEY set: generated one in"
COMMANDS = {
    "runserver": lambda port: ["manage.py", "runserver", f"127.0.0.1:{port}"],
    # Not gunicorn's control socket in the home folder, shared with a developer's own.
    "serve": lambda port: ["manage.py", "serve", "--", "--no-control-socket"],
}


def copy_project(destination: Path) -> Path:
    def ignore(folder, names):
        top = Path(folder) == ROOT
        return [n for n in names if n == "__pycache__" or (top and n in LEFT_BEHIND)]

    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


def environment(port: int, **variables: str) -> dict:
    """The environment of a person who set nothing, plus what the test needs."""
    return service_environment(
        HOST="127.0.0.1", PORT=str(port),
        BUGTRACKER_URL="",  # no request to the real Bugzilla from the scheduled sync
        LOG_FORMAT="text", PYTHONUNBUFFERED="1", **variables,
    )


def manage(project: Path, *args: str, **variables: str) -> str:
    """`python manage.py <args>` in `project`; its output. Fails on exit != 0."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=project,
        env=environment(free_port(), **variables), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    """A copy of the project with a migrated database and a staff account, and no
    key (migrate's went to a folder thrown away): copies of it start as fresh."""
    template = copy_project(tmp_path_factory.mktemp("template") / "project")
    throwaway = str(tmp_path_factory.mktemp("migrate-data"))
    manage(template, "migrate", "--noinput", DATA_DIR=throwaway)
    manage(
        template, "createsuperuser", "--noinput", DATA_DIR=throwaway,
        DJANGO_SUPERUSER_USERNAME="admin", DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        DJANGO_SUPERUSER_EMAIL="admin@example.com",
    )
    assert not (template / "var" / "secret_key").exists()
    return template


@pytest.fixture
def project(migrated_template, tmp_path) -> Path:
    return copy_project_from(migrated_template, tmp_path / "project")


def copy_project_from(template: Path, destination: Path) -> Path:
    shutil.copytree(template, destination)
    return destination


@pytest.fixture
def servers():
    """Start servers with `servers.start(...)`; all are killed at the end."""
    started: list[Server] = []

    class Servers:
        def start(self, argv, cwd, port, log_path, **variables) -> Server:
            server = Server(argv, cwd, environment(port, **variables), port, log_path)
            started.append(server)
            return server

    yield Servers()
    for server in started:
        server.stop()


def start(servers, command: str, project: Path, port: int, name: str, **variables) -> Server:
    argv = [sys.executable, *COMMANDS[command](port)]
    log_path = project.parent / f"{name}.log"
    return servers.start(argv, project, port, log_path, **variables).wait_until_serving()


def stylesheets(page: requests.Response) -> list[str]:
    soup = BeautifulSoup(page.text, "html.parser")
    return [link["href"] for link in soup.select('link[rel="stylesheet"]')]


def assert_stylesheets_load(session: requests.Session, server: Server, path: str) -> None:
    page = session.get(server.url(path), timeout=30)
    assert page.status_code == 200, page.text[:2000]
    hrefs = stylesheets(page)
    assert hrefs, f"{path} links no stylesheet"
    for href in hrefs:
        css = session.get(server.url(href), timeout=30)
        assert css.status_code == 200, f"{path}: {href} answered {css.status_code}"
        assert css.headers["Content-Type"].startswith("text/css"), href


def log_in(session: requests.Session, server: Server, login_path: str, next_path: str):
    """Log in through the real form, with its CSRF cookie, as a browser does."""
    form = session.get(server.url(login_path), timeout=30)
    assert form.status_code == 200
    answer = session.post(
        server.url(login_path),
        data={
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "username": "admin", "password": PASSWORD, "next": next_path,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.url == server.url(next_path), f"not logged in: ended on {answer.url}"
    return answer


# --- a first start and the next ones -----------------------------------------------------


@pytest.mark.parametrize("command", ["runserver", "serve"])
def test_start_without_debug_or_secret_key_serves_the_api_admin_and_dashboard(
    command, project, servers
):
    port = free_port()
    server = start(servers, command, project, port, f"{command}-1")

    assert requests.get(server.url("/checks"), timeout=30).status_code == 200
    admin, dashboard = requests.Session(), requests.Session()
    assert_stylesheets_load(admin, server, "/admin/login/")
    assert_stylesheets_load(dashboard, server, "/accounts/login/")
    # Over plain HTTP: the session and CSRF cookies must come back from the browser.
    assert "Site administration" in log_in(admin, server, "/admin/login/", "/admin/").text
    log_in(dashboard, server, "/accounts/login/", "/dashboard/")
    assert_stylesheets_load(dashboard, server, "/dashboard/")

    # The key was made by this first start, privately, and said once, never shown.
    key_file = project / "var" / "secret_key"
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert server.log().count(GENERATED) == 1, server.log()
    assert key not in server.log()
    assert f"Dashboard: http://127.0.0.1:{port}/dashboard/" in server.log()
    server.stop()

    # A second start reuses the key: the session signed before is still valid.
    again = start(servers, command, project, port, f"{command}-2")
    assert key_file.read_text().strip() == key
    assert GENERATED not in again.log()
    page = admin.get(again.url("/admin/"), timeout=30)
    assert page.url == again.url("/admin/") and "Site administration" in page.text


@pytest.mark.parametrize("command", ["runserver", "serve"])
def test_start_without_settings_fires_the_schedules_once(command, project, servers, upstream):
    """A service's first scrape is due as soon as it exists: the scheduler sends it
    within a second or two of starting, or never if it is not running."""
    upstream.route("/errors", json={"target_uuid": "zero-config", "aggregated_errors": []})
    config = project / "scraped.toml"
    config.write_text(
        f'[errors.services.zeroconf]\nstatic_configs = [{{ targets = ["127.0.0.1:{upstream.port}"] }}]\n'
    )
    manage(project, "import_config", str(config))

    server = start(servers, command, project, free_port(), command)
    wait_until(lambda: upstream.hits("/errors") >= 1, timeout=30,
               message=lambda: f"no scrape; the log:\n{server.log()[-4000:]}")
    # runserver's autoreloader runs two processes: only the one serving schedules.
    assert server.log().count("Embedded scheduler started") == 1, server.log()


def test_make_run_prints_the_dashboard_and_how_to_create_a_login(tmp_path, servers):
    """`make run` on a fresh copy: migrate, collectstatic, import, serve; with no
    user yet, it says how to make one. (The virtualenv is this suite's.)"""
    project = copy_project(tmp_path / "project")
    venv = Path(sys.executable).parent.parent
    port = free_port()
    # -o: never re-install the virtualenv, whatever its marker file says.
    argv = ["make", "--no-print-directory", "-o", f"{venv}/.installed", "run", f"VENV={venv}"]
    # gunicorn's control socket goes to XDG_RUNTIME_DIR: not the developer's own.
    server = servers.start(argv, project, port, tmp_path / "make-run.log",
                           XDG_RUNTIME_DIR=str(tmp_path))
    server.wait_until_serving(timeout=180)

    assert f"Dashboard: http://127.0.0.1:{port}/dashboard/" in server.log()
    assert "No one can log in yet" in server.log()
    assert "manage.py createsuperuser" in server.log()
    session = requests.Session()
    assert_stylesheets_load(session, server, "/admin/login/")
    # collectstatic ran and DEBUG is off (with it, names are never hashed): the
    # pages link the hashed copies, which browsers cache for good.
    href = stylesheets(session.get(server.url("/admin/login/"), timeout=30))[0]
    assert re.search(r"\.[0-9a-f]{12}\.css$", href), href
    assert (project / "var" / "secret_key").exists()


# --- the distributed mode -----------------------------------------------------------------


# Each command once, each setting that makes the distributed mode once: no server
# needs to answer, the settings refuse before connecting to any.
@pytest.mark.parametrize(
    "command, servers_configured",
    [
        ("runserver", {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test"}),
        ("serve", {"REDIS_URL": "redis://127.0.0.1:6379/0"}),
        ("gunicorn", {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/1"}),
        ("gunicorn", {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test"}),
    ],
    ids=["runserver-PostgreSQL", "serve-Redis", "gunicorn-broker", "gunicorn-PostgreSQL"],
)
def test_distributed_mode_without_secret_key_refuses_to_start_naming_it(
    command, servers_configured, tmp_path
):
    project = copy_project(tmp_path / "project")
    port = free_port()
    argv = {
        "runserver": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "serve": [sys.executable, "manage.py", "serve", "--", "--no-control-socket"],
        "gunicorn": [str(Path(sys.executable).parent / "gunicorn"), "telescope_site.wsgi",
                     "--bind", f"127.0.0.1:{port}", "--no-control-socket"],
    }[command]
    server = Server(argv, project, environment(port, **servers_configured), port,
                    tmp_path / "refused.log")
    try:
        server.popen.wait(timeout=120)
    finally:
        server.stop()

    assert server.popen.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in the distributed mode" in server.log()
    assert not (project / "var" / "secret_key").exists()
