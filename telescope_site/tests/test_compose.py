"""
docker-compose.yml, the Dockerfile and .env.example start the project's real entry
points, in the right order, with an environment that works.

No Docker needed: the files are parsed (PyYAML, plus Compose's `${VAR:-default}`
interpolation filled from .env.example, which is what Compose reads once copied to
.env), and every command line is checked against the code: gunicorn loads the WSGI
application and answers the health check's URL, `celery -A` finds the Celery app and
accepts the options, beat's scheduler is a Celery scheduler, and every
`manage.py <command>` exists and accepts its options. The commands run in a
subprocess with the production settings and the environment of .env.example.
"""

import functools
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Services without a health check, and why (the compose file says it too).
NO_HEALTHCHECK = {
    "migrate": "one-shot: the others wait for it to exit 0",
    "beat": "nothing waits for it; a standby takes the leader lock of a hung one",
}


# --- Reading the files ----------------------------------------------------------------

class MissingVariable(Exception):
    pass


_VARIABLE = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


def interpolate(value, variables):
    """Compose's interpolation of every string in `value`: ${A}, ${A:-d}, ${A:?e}, $$."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match):
        escaped, name, operator, argument, bare = match.groups()
        if escaped:
            return "$"
        name = name or bare
        current = variables.get(name)
        unset = current is None or (current == "" and operator in (":-", ":?"))
        if operator in (":-", "-") and unset:
            return argument
        if operator in (":?", "?") and unset:
            raise MissingVariable(f"{name}: {argument}")
        return current or ""

    return _VARIABLE.sub(substitute, value)


def compose_variables(value) -> set[str]:
    """The names of the variables Compose interpolates in `value`."""
    if isinstance(value, dict):
        return set().union(*map(compose_variables, value.values()), set())
    if isinstance(value, list):
        return set().union(*map(compose_variables, value), set())
    if not isinstance(value, str):
        return set()
    return {m[2] or m[5] for m in _VARIABLE.finditer(value) if not m[1]}


@functools.cache
def env_example() -> dict[str, str]:
    """The variables set in .env.example (`KEY=value` lines)."""
    variables = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            variables[match[1]] = match[2].strip().strip("'\"")
    return variables


def documented_variables() -> set[str]:
    """Set or shown commented out (`# KEY=value`) in .env.example."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def example_with_secret_key() -> dict[str, str]:
    return {**env_example(), "SECRET_KEY": secrets.token_urlsafe(50)}


@functools.cache
def raw_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@functools.cache
def compose() -> dict:
    """docker-compose.yml as Compose sees it with .env copied from .env.example."""
    return interpolate(raw_compose(), example_with_secret_key())


def service(name: str) -> dict:
    return compose()["services"][name]


def command_line(command) -> str:
    """A service's command or health check test as one shell string."""
    if isinstance(command, str):
        return command
    if command[0] == "CMD-SHELL":
        return command[1]
    if command[:2] == ["sh", "-c"]:
        return command[2]
    if command[0] == "CMD":
        command = command[1:]
    return shlex.join(command)


def argv(command) -> list[str]:
    return shlex.split(command_line(command))


def option(args: list[str], *names: str) -> str | None:
    """The value of an option given as `--name value`, `--name=value` or `-n value`."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


@functools.cache
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_args(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == keyword]


def production_env() -> dict[str, str]:
    """What a container gets: .env (from .env.example) and the production settings."""
    return {
        **os.environ,
        **example_with_secret_key(),
        "DJANGO_SETTINGS_MODULE": "telescope_site.settings",
    }


def run(args: list[str], *, input: str | None = None) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        args, cwd=ROOT, env=production_env(), input=input,
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, (
        f"{shlex.join(args)} exited {completed.returncode}:\n"
        f"{completed.stdout}{completed.stderr}"
    )
    return completed


def executable(name: str) -> str:
    """`name` as the container finds it on PATH: here, in the virtualenv first."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def python_snippet(code: str, *args: str) -> dict:
    completed = run([sys.executable, "-c", code, *args])
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- The services -----------------------------------------------------------------------

def test_services_exist():
    assert {"web", "worker", "beat", "redis", "postgres", "migrate"} <= set(
        compose()["services"]
    )


def test_long_running_services_have_health_checks():
    for name, definition in compose()["services"].items():
        if name in NO_HEALTHCHECK:
            continue
        healthcheck = definition.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), name
        assert healthcheck["test"][0] in ("CMD", "CMD-SHELL"), name


def test_dependencies_wait_for_health_and_for_migrations():
    services = compose()["services"]
    for name, definition in services.items():
        for dependency, spec in (definition.get("depends_on") or {}).items():
            condition = spec["condition"]
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck"), (name, dependency)
    for name in ("web", "worker", "beat"):
        depends_on = service(name)["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"
    migrate = service("migrate")
    assert "migrate" not in migrate["depends_on"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    # Migrations first, then the checks of config.toml, and only if they succeeded.
    line = command_line(migrate["command"])
    assert re.search(r"manage\.py migrate\b.*&&.*manage\.py import_config\b", line), line


def test_django_services_share_the_env_file():
    for name in APP_SERVICES:
        env_file = service(name)["env_file"]
        paths = [env_file] if isinstance(env_file, str) else [
            item if isinstance(item, str) else item["path"] for item in env_file
        ]
        assert ".env" in paths, name
        assert service(name)["image"] == service("web")["image"], name


def test_compose_refuses_to_start_without_a_secret_key():
    assert env_example()["SECRET_KEY"] == "", ".env.example must not ship a usable key"
    with pytest.raises(MissingVariable, match="SECRET_KEY"):
        interpolate(raw_compose(), env_example())


def test_workers_and_beat_can_be_scaled():
    for name in ("worker", "beat"):
        definition = service(name)
        assert "container_name" not in definition, name
        assert "hostname" not in definition, name
        assert not definition.get("ports"), name
    # Each worker replica is celery@<its container's host name>; the health check
    # pings exactly that node, so no -n/--hostname may rename it.
    assert option(argv(service("worker")["command"]), "-n", "--hostname") is None


def compose_seconds(duration: str) -> float:
    """A Compose duration (`75s`, `1m15s`, `1h`, `500ms`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(number) * units[unit] for number, unit in parts)


def setting_in_containers(name: str):
    """A setting as the containers get it: from .env, else the settings' default."""
    from telescope_site import settings

    cast, default = settings.env.scheme[name]
    value = env_example().get(name)
    return cast(value) if value not in (None, "") else default


def test_worker_is_given_time_to_finish_what_it_runs_before_being_killed():
    # Celery's warm shutdown waits for the running checks and scrapes; Docker kills
    # the container after stop_grace_period (10 s unless set).
    grace = compose_seconds(service("worker")["stop_grace_period"])
    longest = max(setting_in_containers("CHECK_TIMEOUT_SECONDS"),
                  setting_in_containers("ERRORS_SCRAPE_TIMEOUT_SECONDS"))
    assert grace > longest


def bind_mounts(name: str) -> dict[str, tuple[str, str]]:
    """A service's short-syntax bind mounts: {container path: (host path, mode)}."""
    mounts = {}
    for volume in service(name).get("volumes", []):
        source, target, *mode = volume.split(":")
        if source.startswith((".", "/")):
            mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def test_file_sd_targets_are_mounted_where_the_scrapers_look_for_them():
    # The containers' CONFIG_FILE, resolved in their working directory (WORKDIR).
    config_file = PurePosixPath(dockerfile_args("WORKDIR")[-1]) / setting_in_containers(
        "CONFIG_FILE"
    )
    # file_sd_configs' `files` are relative to the folder of the file imported, which
    # the containers import from CONFIG_FILE (README: targets/*.json).
    targets = str(config_file.parent / "targets")
    for name in ("worker", "web"):  # the scheduled scrapes; `manage.py scrape`
        assert bind_mounts(name).get(targets) == ("./targets", "ro"), name
    assert (ROOT / "targets").is_dir(), "ship the folder, or Docker creates it as root"
    readme = (ROOT / "README.md").read_text()
    assert re.search(r'file_sd_configs = \[\{ files = \["targets/', readme)


# --- The commands are the project's real entry points ----------------------------------

def test_web_serves_the_project_wsgi_application():
    args = argv(service("web")["command"])
    assert Path(args[0]).name == "gunicorn"
    wsgi = next(arg for arg in args[1:] if re.fullmatch(r"[\w.]+:[\w.]+", arg))
    # gunicorn itself parses the whole command line and imports the application.
    run([executable("gunicorn"), "--check-config", *args[1:]])

    # The application is a WSGI callable that answers the health check's request.
    url = urlsplit(argv(service("web")["healthcheck"]["test"])[-1])
    result = python_snippet(
        """
import importlib, json, sys
from wsgiref.util import setup_testing_defaults
module, attribute = sys.argv[1].split(":")
application = getattr(importlib.import_module(module), attribute)
environ = {"PATH_INFO": sys.argv[2], "HTTP_HOST": sys.argv[3]}
setup_testing_defaults(environ)
statuses = []
b"".join(application(environ, lambda status, headers, exc_info=None: statuses.append(status)))
print(json.dumps({"callable": callable(application), "status": statuses[0]}))
""",
        wsgi, url.path, url.netloc,
    )
    assert result["callable"]
    assert result["status"].startswith("200"), result


def test_worker_and_beat_find_the_celery_app():
    for name in ("worker", "beat"):
        args = argv(service(name)["command"])
        assert Path(args[0]).name == "celery"
        assert args[1:4] == ["-A", "telescope_site", name]
        # The real CLI loads the app and rejects unknown options (--help exits 0).
        run([executable("celery"), *args[1:], "--help"])

    app = option(argv(service("worker")["command"]), "-A", "--app")
    result = python_snippet(
        """
import json, sys
from celery import Celery
from celery.app.utils import find_app
import telescope_site
app = find_app(sys.argv[1])
print(json.dumps({
    "is_celery": isinstance(app, Celery),
    "is_celery_app": app is telescope_site.celery_app,
    "broker": app.conf.broker_url.split(":")[0],
    "eager": app.conf.task_always_eager,
}))
""",
        app,
    )
    assert result["is_celery"] and result["is_celery_app"], result
    # The compose environment sends tasks to the workers, through Redis.
    assert result["broker"] == "redis" and result["eager"] is False, result


def test_beat_scheduler_is_a_shared_celery_scheduler():
    args = argv(service("beat")["command"])
    result = python_snippet(
        """
import json, sys
import django
from celery.app.utils import find_app
from celery.beat import PersistentScheduler, Scheduler
from celery.utils.imports import symbol_by_name
app = find_app(sys.argv[1])
django.setup()
name = sys.argv[2] or app.conf.beat_scheduler
scheduler = symbol_by_name(name)
print(json.dumps({
    "name": name,
    "is_scheduler": isinstance(scheduler, type) and issubclass(scheduler, Scheduler),
    "file_based": isinstance(scheduler, type) and issubclass(scheduler, PersistentScheduler),
}))
""",
        option(args, "-A", "--app"), option(args, "-S", "--scheduler") or "",
    )
    assert result["is_scheduler"], result
    # A schedule file would be per container (and /app is not writable by the user).
    assert not result["file_based"], result


def test_worker_health_check_pings_its_own_node():
    test = service("worker")["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL", "the shell expands $HOSTNAME"
    args = argv(test)
    # The same program and app as the worker itself.
    assert args[:3] == argv(service("worker")["command"])[:3]
    assert args[3:5] == ["inspect", "ping"]
    assert option(args, "-d", "--destination") == "celery@${HOSTNAME}"
    assert float(option(args, "-t", "--timeout")) < float(
        re.fullmatch(r"(\d+)s", service("worker")["healthcheck"]["timeout"])[1]
    )
    run([executable("celery"), *args[1:], "--help"])


def shell_commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, as words: split at &&, ||, ;, | and &
    outside quotes (a quoted `;`, as in `python -c 'a; b'`, stays in its word)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [words for words in commands if words]


def manage_py_invocations() -> list[list[str]]:
    lines = [command_line(definition["command"])
             for definition in compose()["services"].values() if "command" in definition]
    lines += [command_line(definition["healthcheck"]["test"])
              for definition in compose()["services"].values()
              if definition.get("healthcheck", {}).get("test")]
    lines += dockerfile_args("RUN")
    lines += [command_line(json.loads(cmd)) for cmd in dockerfile_args("CMD")]
    invocations = []
    for line in lines:
        for words in shell_commands(line):
            if "manage.py" in words:
                invocations.append(words[words.index("manage.py") + 1 :])
    return invocations


def test_every_manage_py_command_exists_and_accepts_its_options():
    invocations = manage_py_invocations()
    names = {words[0] for words in invocations}
    assert {"migrate", "import_config", "collectstatic"} <= names
    commands = get_commands()
    for words in invocations:
        name, *options = words
        assert name in commands, f"manage.py {name}: no such command"
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        parser.parse_args(options)  # CommandError on an unknown option


# --- The Dockerfile -----------------------------------------------------------------

def test_dockerfile_cmd_is_the_web_command():
    (cmd,) = dockerfile_args("CMD")
    # The defaults of the compose file (no WEB_* variable set) give the image's CMD.
    web = interpolate(raw_compose()["services"]["web"]["command"], {})
    assert json.loads(cmd) == web


def test_dockerfile_builds_a_non_root_image_with_its_static_files():
    (base,) = dockerfile_args("FROM")
    assert base.startswith("python:3.11-slim")
    user = dockerfile_args("USER")[-1].split(":")[0]
    assert user not in ("", "root", "0")
    assert [i for i, _ in dockerfile()].index("USER") < [i for i, _ in dockerfile()].index("CMD")
    assert any("manage.py collectstatic" in run_ for run_ in dockerfile_args("RUN"))
    # The build-time key is given to that command only, never kept in the image.
    for keyword in ("ENV", "ARG"):
        assert not any("SECRET_KEY" in arguments for arguments in dockerfile_args(keyword))
    # curl: the web health check and checks.core.http_versions use it.
    assert argv(service("web")["healthcheck"]["test"])[0] == "curl"
    assert any(re.search(r"apt-get install .*\bcurl\b", run_) for run_ in dockerfile_args("RUN"))
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "/db.sqlite3"} <= set(ignored)


def test_ports_match_the_bind_address():
    args = argv(service("web")["command"])
    host, port = option(args, "-b", "--bind").rsplit(":", 1)
    assert host == "0.0.0.0", "inside the container, listen beyond loopback"
    url = urlsplit(argv(service("web")["healthcheck"]["test"])[-1])
    assert url.port == int(port)
    assert all(str(mapping).rsplit(":", 1)[-1] == port for mapping in service("web")["ports"])
    assert dockerfile_args("EXPOSE") == [port]
    # config.toml's self-checks call http://${HOST}:${PORT}/ from any container.
    assert env_example()["PORT"] == port
    assert env_example()["HOST"] == "web"


# --- .env.example -------------------------------------------------------------------

def test_env_example_points_at_the_compose_services():
    variables = env_example()
    services = compose()["services"]
    database = urlsplit(variables["DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert database.scheme in ("postgres", "postgresql")
    assert database.hostname in services and database.hostname == "postgres"
    assert (database.username, database.password, database.path.lstrip("/")) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"]
    )
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        assert urlsplit(variables[name]).hostname == "redis", name
    assert variables["REDIS_URL"] != variables["CELERY_BROKER_URL"]
    # The health check's host and the containers' name of the web service.
    allowed = variables["ALLOWED_HOSTS"].split(",")
    health_host = urlsplit(argv(service("web")["healthcheck"]["test"])[-1]).hostname
    assert health_host in allowed and variables["HOST"] in allowed


def test_env_example_documents_every_variable():
    from telescope_site import settings

    used_by_compose = compose_variables(raw_compose())
    assert used_by_compose - documented_variables() == set()
    known = set(settings.env.scheme) | used_by_compose
    assert set(env_example()) - known == set(), "not a setting nor a compose variable"


def test_compose_environment_passes_the_deployment_checks():
    run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"])


WORKER_SERVICES = ("worker", "scraper", "dispatcher")


def test_every_queue_is_served_by_a_worker_service_that_docker_restarts():
    from django.conf import settings

    served = set()
    for name in WORKER_SERVICES:
        definition = service(name)
        command = argv(definition["command"])
        assert command[:4] == ["celery", "-A", "telescope_site", "worker"], name
        served |= set(option(command, "-Q", "--queues").split(","))
        assert definition["restart"] == "unless-stopped", name  # a worker that exits
    assert served == {queue.name for queue in settings.CELERY_TASK_QUEUES}


def test_the_dispatchers_have_a_worker_of_their_own():
    # A backlog of check runs or scrapes must not hold up the dispatchers.
    queues = {name: option(argv(service(name)["command"]), "-Q", "--queues").split(",")
              for name in WORKER_SERVICES}
    owners = [name for name, served in queues.items() if "dispatchers" in served]
    assert owners == ["dispatcher"]
    assert "checks" not in queues["dispatcher"] and "scrapes" not in queues["dispatcher"]
