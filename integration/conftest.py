"""
Harness of the integration tests of the distributed mode.

The service runs here as it runs in production: real processes (gunicorn, Celery
workers, Celery beat) sharing a PostgreSQL database and a Redis server, their check
modules making real HTTP requests to an upstream server run by the test.

Fixtures
--------

* `postgres_url` (session): a private database `telescope_it_<random>` created on
  the PostgreSQL server of `TEST_POSTGRES_URL` (default postgres@127.0.0.1:5432),
  migrated once with `manage.py migrate`, dropped at the end of the session. Every
  test starts from empty tables (the `cluster` fixture truncates them).
* `redis_server` (session): a private `redis-server` on a free port, started by the
  tests (no persistence), so that a test may `stop()` and `start()` it again on the
  same port without disturbing the machine's Redis. It is flushed before each test.
* `upstream`: a `TracingUpstream`, the `testing.upstream.Upstream` server that also
  records every request's User-Agent, body, start and end times: tests count who
  called (`calls(path, agent=...)`), read webhook bodies (`json_bodies(path)`) and
  measure how many requests to a path overlapped (`max_concurrency(path)`).
* `cluster`: starts the service's processes for one test with the environment of
  the distributed mode (`cluster.env`, editable before starting them) and kills
  every one of them (its whole process group, SIGKILL) at teardown. Each process's
  output goes to `<tmp_path>/<name>.log`; the end of every log is attached to the
  report of a failing test.

Example::

    def test_something(cluster, upstream):
        cluster.env["REDIS_LOCK_TIMEOUT_SECONDS"] = "3"   # processes started after
        cluster.import_checks(f'''
            [checks.p.n]
            module = "checks.core.heartbeat"
            params.url = "{upstream.route('/hb', json={'ok': True})}"
        ''')                                              # manage.py import_config
        web, w1, beat = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.beat())
        requests.get(web.url("/checks/p/n"))
        w1.kill()                                         # SIGKILL, process group

Each process gets its own `SERVICE_NAME` (`it-web`, `it-w1`, `it-beat`...), which
check modules send as their User-Agent: `upstream.calls("/hb", agent="it-w1")` are
the runs of worker w1. `REQUESTS_MAX_RETRIES=0`, so one upstream request is one run.

Missing services: without PostgreSQL or the `redis-server` binary the tests are
skipped with the reason, except under `CI`, where that fails them (the semantics
of `testing.services.require`).
"""

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from testing import services
from testing.upstream import Upstream
from testing.waiting import wait_until  # noqa: F401 (the tests import it from here)

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = BASE_DIR / ".venv" / "bin"
if not (BIN / "python").exists():
    BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
KEY_PREFIX = "telescope-it"
START_TIMEOUT = 45  # seconds for a process to be ready (2 cores, several at once)
LOG_TAIL_LINES = 150

_RUNNING: set["Proc"] = set()  # every process started, for the last-resort cleanup


# --- small utilities ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing(message: str):
    """Skip, or fail under CI, as `testing.services.require` does."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI needs it")
    pytest.skip(f"{message}; install or start it to run the integration tests")


def log_time(line: str) -> float | None:
    """The epoch time of a log line of LOG_FORMAT=text (`2025-01-01 10:00:00,123 ...`)."""
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
    if not match:
        return None
    moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
    return moment.timestamp() + int(match.group(2)) / 1000  # local time, as logged


def heartbeat_toml(project: str, name: str, url: str, **fields) -> str:
    """The config.toml table of a `checks.core.heartbeat` check of `url`."""
    lines = [
        f"[checks.{project}.{name}]",
        f'description = "{project}/{name} of the integration tests"',
        'module = "checks.core.heartbeat"',
        f"params.url = {json.dumps(url)}",
        *(f"{key} = {json.dumps(value)}" for key, value in fields.items()),
    ]
    return "\n".join(lines) + "\n"


# --- processes ------------------------------------------------------------------------


class Proc:
    """A process started in its own process group, output in `log_path`."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path, ready=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._ready = ready  # callable(proc) that waits until it serves
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, env=env, cwd=BASE_DIR, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.base_url = None
        _RUNNING.add(self)

    def __repr__(self):
        return f"<Proc {self.name} pid={self.pid}>"

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def lines(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in self.output().splitlines() if regex.search(line)]

    def wait_for_log(self, pattern: str, timeout: float = START_TIMEOUT, count: int = 1):
        """The lines matching `pattern`, once there are `count` of them."""

        def found():
            lines = self.lines(pattern)
            if len(lines) >= count:
                return lines
            if not self.alive:
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before logging "
                    f"{pattern!r}:\n{self.tail()}"
                )
            return None

        return wait_until(
            found, timeout, lambda: f"{self.name} never logged {pattern!r} "
            f"{count} time(s):\n{self.tail()}", interval=0.1,
        )

    def wait_ready(self):
        if self._ready:
            self._ready(self)
        return self

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    def kill(self, sig=signal.SIGKILL, timeout: float = 10):
        """Send `sig` to the whole process group; after SIGKILL, wait until it is gone."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        if sig != signal.SIGKILL:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the children (prefork pool, gunicorn worker)
            try:
                os.killpg(self.pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                break
            if _group_only_zombies(self.pid):
                break
            time.sleep(0.05)
        _RUNNING.discard(self)
        self._log.close()


def _group_only_zombies(pgid: int) -> bool:
    """True when every process left in the group is a zombie (reaped by init later)."""
    try:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return False
    except OSError:
        return False
    return True


def _kill_everything():
    for proc in list(_RUNNING):
        proc.kill()


atexit.register(_kill_everything)


# --- the upstream server, traced --------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str  # without the query string
    agent: str
    body: bytes
    start: float  # time.time()
    end: float | None = None  # when the answer started; None until then

    def json(self):
        return json.loads(self.body)


class TracingUpstream(Upstream):
    """`testing.upstream.Upstream`, recording who called, what, and when."""

    def __init__(self):
        super().__init__()
        self.calls_lock = threading.Lock()
        self.traced: list[Call] = []

    def calls(self, path=None, agent=None, method=None, since=None) -> list[Call]:
        with self.calls_lock:
            calls = list(self.traced)
        return [
            c for c in calls
            if (path is None or c.path == path)
            and (agent is None or c.agent == agent)
            and (method is None or c.method == method)
            and (since is None or c.start >= since)
        ]

    def hits(self, path: str, agent: str | None = None) -> int:
        return len(self.calls(path, agent=agent))

    def in_flight(self, path: str, agent: str | None = None) -> list[Call]:
        return [c for c in self.calls(path, agent=agent) if c.end is None]

    def json_bodies(self, path: str) -> list:
        return [c.json() for c in self.calls(path, method="POST")]

    def max_concurrency(self, path: str) -> int:
        """The largest number of requests to `path` in flight at the same moment."""
        events = []
        for call in self.calls(path):
            events.append((call.start, 1))
            events.append((call.end if call.end is not None else float("inf"), -1))
        events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same time
        current = peak = 0
        for _, step in events:
            current += step
            peak = max(peak, current)
        return peak

    def received(self, method, path, headers, body):
        call = Call(method, path.split("?")[0], headers.get("User-Agent", ""), body, time.time())
        with self.calls_lock:
            self.traced.append(call)
        super().received(method, path, headers, body)
        return call

    def answering(self, call: Call) -> None:
        # Recorded before answering: a client's next request always starts after
        # this, so sequential requests never look concurrent.
        call.end = time.time()


@pytest.fixture
def upstream():
    """A real HTTP server on 127.0.0.1 that records who called it and when."""
    server = TracingUpstream().start()
    yield server
    server.stop()


# --- PostgreSQL -----------------------------------------------------------------------


def _admin_url() -> str:
    parts = urlsplit(services.POSTGRES_URL)
    return urlunsplit(parts._replace(path="/postgres"))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A private, migrated PostgreSQL database for the session; dropped at the end."""
    import psycopg

    admin = _admin_url()
    parts = urlsplit(admin)
    services.require("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    name = f"telescope_it_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        env = {**_clean_environ(), "DATABASE_URL": url, "SECRET_KEY": "migrate",
               "DJANGO_SETTINGS_MODULE": "telescope_site.settings"}
        done = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput"], cwd=BASE_DIR, env=env,
            capture_output=True, text=True, timeout=180,
        )
        assert done.returncode == 0, f"migrate failed:\n{done.stdout}\n{done.stderr}"
        yield url
    finally:
        _kill_everything()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_database(url: str) -> None:
    """Empty every table but those `migrate` fills (migrations, content types...)."""
    import psycopg

    keep = {"django_migrations", "django_content_type", "auth_permission"}
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ) if row[0] not in keep
        ]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


# --- Redis ------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server on 127.0.0.1:`port`, which tests may stop and restart."""

    def __init__(self, binary: str, port: int, log_path: Path):
        self.binary = binary
        self.port = port
        self.log_path = log_path
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.alive

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, timeout: float = 15) -> "RedisServer":
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.proc = Proc("redis", argv, os.environ.copy(), self.log_path)

        def answers():
            if not self.proc.alive:
                raise AssertionError(f"redis-server exited:\n{self.proc.tail()}")
            try:
                return self.client().ping()
            except Exception:
                return False

        wait_until(answers, timeout, lambda: f"redis-server does not answer:\n{self.proc.tail()}")
        return self

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, and nothing answers (a hung host)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Kill it (as a crash would), and wait until its port refuses connections."""
        if self.proc is not None:
            self.proc.kill()
            self.proc = None

        def refused():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return False
            except OSError:
                return True

        wait_until(refused, 10, f"port {self.port} still answers after stopping Redis")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """The session's private redis-server (see RedisServer)."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("The redis-server binary is not on PATH (apt-get install redis-server)")
    server = RedisServer(binary, free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    server.start()
    yield server
    if server.proc is not None:
        server.proc.kill()


# --- the cluster: the service's processes for one test ------------------------------------


def _clean_environ() -> dict:
    """This process's environment without any of the service's settings."""
    from telescope_site import settings as site_settings

    names = set(site_settings.env.scheme) | {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"}
    return {k: v for k, v in os.environ.items() if k not in names}


class Cluster:
    """The processes of one test, sharing `env` (the distributed mode's settings)."""

    def __init__(self, tmp_path: Path, postgres_url: str, redis: RedisServer):
        self.tmp_path = tmp_path
        self.postgres_url = postgres_url
        self.redis = redis
        self.procs: list[Proc] = []
        self.env = {
            **_clean_environ(),
            "DJANGO_SETTINGS_MODULE": "telescope_site.settings",
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis.url,
            "REDIS_KEY_PREFIX": KEY_PREFIX,
            "SECRET_KEY": f"integration-tests-{secrets.token_hex(16)}",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "INFO",
            # Whole seconds: django-celery-beat stores intervals as integers, and
            # fractions are refused at start-up.
            "REFRESH_DISPATCH_SECONDS": "1",
            "REQUESTS_MAX_RETRIES": "0",  # one upstream request is one run
            "PYTHONUNBUFFERED": "1",
        }

    # Processes. Each constructor starts the process and returns at once: pass them
    # to start() to wait until all are ready (they boot in parallel).

    def spawn(self, name: str, argv: list[str], ready=None, **env) -> Proc:
        environment = {**self.env, "SERVICE_NAME": f"it-{name}", **env}
        proc = Proc(name, argv, environment, self.tmp_path / f"{name}.log", ready)
        self.procs.append(proc)
        return proc

    def start(self, *procs: Proc):
        for proc in procs:
            proc.wait_ready()
        return procs if len(procs) != 1 else procs[0]

    def gunicorn(self, name: str = "web", workers: int = 1, **env) -> Proc:
        port = free_port()
        argv = [str(BIN / "gunicorn"), "--config", "telescope_site/gunicorn_conf.py",
                "telescope_site.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "8",
                # Not the shared ~/.gunicorn/gunicorn.ctl of a developer's own server.
                "--no-control-socket"]
        proc = self.spawn(name, argv, ready=_gunicorn_ready, **env)
        proc.base_url = f"http://127.0.0.1:{port}"
        return proc

    def worker(self, name: str = "w1", queues: str | None = None, **env) -> Proc:
        """A Celery worker serving `queues` (-Q), or every queue."""
        argv = [str(BIN / "celery"), "-A", "telescope_site", "worker", "--loglevel=INFO",
                "--concurrency=2", "-n", f"{name}@%h", "--without-gossip", "--without-mingle"]
        if queues:
            argv += ["-Q", queues]
        return self.spawn(name, argv, ready=lambda p: p.wait_for_log(r"\bready\."), **env)

    def beat(self, name: str = "beat", **env) -> Proc:
        schedule = self.tmp_path / f"{name}-schedule"
        argv = [str(BIN / "celery"), "-A", "telescope_site", "beat", "--loglevel=INFO",
                "-s", str(schedule)]
        return self.spawn(name, argv, ready=lambda p: p.wait_for_log(r"beat: Starting"), **env)

    def kill_all(self) -> None:
        for proc in self.procs:
            proc.kill()

    # Commands.

    def manage(self, *args: str, timeout: float = 120, **env) -> str:
        """`manage.py <args>` with the cluster's environment; its output. Fails on exit != 0."""
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=BASE_DIR, env={**self.env, **env},
            capture_output=True, text=True, timeout=timeout,
        )
        assert done.returncode == 0, (
            f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def shell(self, code: str, **env) -> str:
        return self.manage("shell", "--no-imports", "-c", dedent(code), **env)

    def import_checks(self, toml: str) -> str:
        """`manage.py import_config` of a config.toml holding `toml`; its output."""
        path = self.tmp_path / "config.toml"
        path.write_text(dedent(toml))
        return self.manage("import_config", str(path))

    # The database, read from the test process.

    def sql(self, query: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def check_id(self, project: str, name: str) -> int:
        rows = self.sql(
            "SELECT id FROM audits_check WHERE project = %s AND name = %s", (project, name)
        )
        assert rows, f"no check {project}/{name} in the database"
        return rows[0][0]

    def runs(self, project: str, name: str) -> list[dict]:
        rows = self.sql(
            "SELECT r.started_at, r.scheduled_for, r.success FROM audits_checkrun r "
            "JOIN audits_check c ON c.id = r.check_id "
            "WHERE c.project = %s AND c.name = %s ORDER BY r.started_at",
            (project, name),
        )
        return [dict(zip(("started_at", "scheduled_for", "success"), row)) for row in rows]

    # Redis, as the processes see it.

    def redis_keys(self, pattern: str) -> list[str]:
        return sorted(k.decode() for k in self.redis.client().keys(pattern))


def _gunicorn_ready(proc: Proc) -> None:
    def answers():
        if not proc.alive:
            raise AssertionError(f"gunicorn exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            return requests.get(proc.url("/__lbheartbeat__"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, START_TIMEOUT, lambda: f"gunicorn never answered:\n{proc.tail()}",
               interval=0.1)


@pytest.fixture
def cluster(request, tmp_path, postgres_url, redis_server):
    """Processes of the service for this test, killed at teardown (see Cluster)."""
    if not redis_server.running:  # a test stopped it and failed before restarting it
        redis_server.start()
    redis_server.client().flushall()
    _reset_database(postgres_url)
    cluster = Cluster(tmp_path, postgres_url, redis_server)
    request.node._it_cluster = cluster
    yield cluster
    cluster.kill_all()
    if redis_server.running:
        redis_server.thaw()  # a test that froze it and failed
    else:
        redis_server.start()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Attach the end of each process's log to the report of a failing test."""
    report = yield
    cluster = getattr(item, "_it_cluster", None)
    if cluster is not None and report.failed and report.when in ("setup", "call"):
        for proc in cluster.procs:
            report.sections.append(
                (f"{proc.name} (pid {proc.pid}) {proc.log_path}", proc.tail())
            )
    return report
