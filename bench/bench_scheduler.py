#!/usr/bin/env python
"""
Benchmark of the scheduled audits: Celery beat + workers refreshing checks ahead
of their TTL, on PostgreSQL and Redis, the way the distributed mode runs them.

    .venv/bin/python bench/bench_scheduler.py [--checks 1000] [--ttl 60,8]
        [--duration 120] [--warmup 60] [--workers 1,2] [--pool threads]
        [--concurrency N] [--worker-args ARGS] [--spread] [--keep-logs]

What it does, all on 127.0.0.1:

1. starts an *upstream* in its own process: an asyncio HTTP/1.1 server (keep-alive,
   backlog 4096) whose every answer is `200 {"status": "ok"}` after 100 ms
   (`asyncio.sleep`, so thousands of requests can wait at once for one thread and
   next to no CPU), counting the requests it receives (`GET /__stats__`);
2. starts a private `redis-server` on a free port (no persistence), and creates a
   private PostgreSQL database `telescope_bench_<pid>` (user postgres, trust auth),
   runs `manage.py migrate` and `manage.py import_config` of a generated
   `config.toml` of `--checks` `checks.core.heartbeat` checks
   (`[checks.bench.hb-<i>]`) pointing at the upstream;
3. for each TTL of `--ttl` (the checks' `ttl` is set with one UPDATE), and each
   worker count W of `--workers`: empties the history, the checks' state and
   Redis, starts W `celery -A telescope_site worker` processes (`--pool`,
   `--concurrency`), waits until they answer a ping, then starts one
   `celery -A telescope_site beat`; every process gets DATABASE_URL, REDIS_URL,
   SECRET_KEY, DEBUG=false and LOG_LEVEL=WARNING, and nothing else of the
   service's settings from the caller's environment;
4. lets it run `--warmup` seconds (the *initial burst*: at the first dispatch no
   check has a `next_refresh_at`, so every check is due at once), then measures
   `--duration` seconds of *steady state*; stops beat, lets the runs in flight
   finish (until the history stops growing, 15 s at most), stops the workers;
5. reads the `CheckRun` table:
   * steady state: runs per minute (started in the window; counted over the
     largest whole number of refresh intervals inside it, since refreshes can come
     in bursts), the rate the schedule asks for (`checks x 60 / interval`, where
     interval = ttl - lead, `audits.refresh`), lag = started_at - scheduled_for
     p50 / p99 / max (negative: a run started before it was due), share over 1 s,
     successes, and the upstream's request count over the same intervals;
   * initial burst: each check's first run: how long after the first dispatch
     the last one started, and its lag p50 / p99 / max;
6. resources, from /proc: CPU seconds over the steady window and peak RSS of the
   workers (each worker's whole process tree: prefork children, check threads are
   threads) and of beat; and, for context on a 2-core machine, the CPU of the
   upstream, of the private redis-server, of the whole PostgreSQL server (every
   database: another client would show here) and of the machine.

The workers: `--pool threads --concurrency 4` by default, the best of those
tried on 2 cores (bench/README.md has the comparison): one process per worker
running 4 batches at once, each `run_checks_batch` running its
REFRESH_BATCH_SIZE (25) checks on its own thread pool (LIMIT_GLOBAL_CONCURRENCY,
32). `--pool prefork --concurrency 0` is what `celery worker` does without
options (2 processes on 2 cores).

`--spread` is a what-if, not the service's behaviour: just before beat starts,
each check gets a random `next_refresh_at` within one interval (one UPDATE), so
that there is no initial burst and the steady state shows an even schedule (the
service itself gives every check the same first due time, and keeps them in step).

Stopping (Ctrl-C, SIGTERM, an error) stops every process it started and drops the
database. Exit status: 0 when every configuration ran, 1 otherwise.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_DELAY = 0.1
UPSTREAM_BODY = json.dumps({"status": "ok"}).encode()
PROJECT = "bench"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# Default of REFRESH_DISPATCH_SECONDS; audits.refresh derives the interval from it.
DISPATCH_SECONDS = 2.0
GRACE_SECONDS = 15
# Settings of the service that would change what is measured if the caller's
# environment had them: every process starts from the service's defaults.
SERVICE_VARIABLES = (
    "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "LIMIT_GLOBAL_CONCURRENCY",
    "LIMIT_REQUEST_CONCURRENCY", "DEFAULT_TTL", "CACHE_LOCK_ENABLED",
    "CHECK_TIMEOUT_SECONDS", "SENTRY_DSN", "REQUESTS_TIMEOUT_SECONDS",
    "REQUESTS_CONNECT_TIMEOUT_SECONDS", "REQUESTS_MAX_RETRIES",
    "DEFAULT_REQUEST_HEADERS", "LOG_FORMAT", "REFRESH_AHEAD",
    "REFRESH_DISPATCH_SECONDS", "REFRESH_BATCH_SIZE", "EMBEDDED_WORKERS",
    "WEBHOOK_URLS", "HISTORY_DAYS", "REDIS_KEY_PREFIX",
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class BenchError(Exception):
    """Something that makes the figures meaningless: stop and say what."""


# --- The upstream: an asyncio server in its own process ---------------------------


def upstream_main(port: int) -> None:
    """Entry point of the upstream process: prints its port, serves until killed."""
    stats = {"hits": 0, "in_flight": 0, "peak": 0}
    head_end = b"\r\n\r\n"
    length_header = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(head_end)
                path = head.split(b" ", 2)[1]
                if match := length_header.search(head):
                    await reader.readexactly(int(match[1]))
                if path == b"/__stats__":
                    body = json.dumps(stats).encode()
                else:
                    stats["hits"] += 1
                    stats["in_flight"] += 1
                    stats["peak"] = max(stats["peak"], stats["in_flight"])
                    try:
                        await asyncio.sleep(UPSTREAM_DELAY)
                    finally:
                        stats["in_flight"] -= 1
                    body = UPSTREAM_BODY
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                IndexError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


class Upstream:
    def __init__(self, log: Path):
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "_upstream"], stdout=subprocess.PIPE,
            stderr=self.log, text=True, start_new_session=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            raise BenchError(f"the upstream did not start (see {log})")
        self.port = int(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/__heartbeat__"

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__stats__", timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


# --- /proc: CPU and memory of process trees ----------------------------------------


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, CPU seconds including reaped children, RSS bytes), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    # fields[n - 3] is field n of proc(5): 4 ppid, 14-17 u/s/cu/cs time, 24 rss.
    cpu = sum(int(v) for v in fields[11:15]) / CLOCK_TICKS
    return int(fields[1]), cpu, int(fields[21]) * PAGE_SIZE


def _process_table() -> dict[int, tuple[int, float, int]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None:
            table[int(name)] = stat
    return table


def _tree(table, root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children.get(pid, ()))
    return found


class Resources:
    """CPU (snapshots) and peak RSS (sampled every 0.5 s) of named process trees.

    A tree's CPU is the sum over its live processes of their own and their reaped
    children's time, so processes that came and went (prefork children,
    PostgreSQL backends) are counted once their parent has reaped them."""

    def __init__(self):
        self.roots: dict[str, int] = {}
        self.peak_rss: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def watch(self, name: str, pid: int) -> None:
        with self.lock:
            self.roots[name] = pid
            self.peak_rss[name] = 0

    def forget(self, name: str) -> None:
        with self.lock:
            self.roots.pop(name, None)

    def cpu(self) -> dict[str, float]:
        table = _process_table()
        with self.lock:
            roots = dict(self.roots)
        return {name: sum(table[p][1] for p in _tree(table, pid))
                for name, pid in roots.items()}

    def _sample(self) -> None:
        while not self.stopping.wait(0.5):
            table = _process_table()
            with self.lock:
                for name, pid in self.roots.items():
                    rss = sum(table[p][2] for p in _tree(table, pid))
                    self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)

    def stop(self) -> None:
        self.stopping.set()


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def machine_busy(seconds: float = 1.0) -> float:
    busy0, total0 = machine_cpu()
    time.sleep(seconds)
    busy1, total1 = machine_cpu()
    return (busy1 - busy0) / max(total1 - total0, 1e-9)


# --- Processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to the process (warm shutdown for Celery), then SIGKILL to its group."""
    if process.poll() is None:
        try:
            process.terminate()
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # anything left in its session (prefork children, a stuck child)
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        pass


class RedisServer:
    def __init__(self, folder: Path):
        self.port = free_port()
        binary = shutil.which("redis-server")
        if not binary:
            raise BenchError("redis-server is not installed")
        self.log = folder / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise BenchError(f"redis-server did not start (see {self.log})")
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.client.close()
        stop_process(self.process)


class Database:
    """A private PostgreSQL database, dropped by `drop()`."""

    def __init__(self):
        import psycopg

        self.psycopg = psycopg
        self.name = f"telescope_bench_{os.getpid()}"
        self.url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"
        try:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.Error as exc:
            raise BenchError(f"cannot create the database on {PG_HOST}:{PG_PORT}: {exc}")
        self.created = True

    def _admin(self):
        return self.psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER,
                                    dbname="postgres", autocommit=True)

    def connect(self):
        return self.psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER,
                                    dbname=self.name, autocommit=True)

    def postmaster_pid(self) -> int | None:
        try:
            with self.connect() as conn:
                folder = conn.execute("SHOW data_directory").fetchone()[0]
            return int(Path(folder, "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, self.psycopg.Error):
            return None

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def service_env(database_url: str, redis_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-scheduler-not-a-secret",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def celery_command() -> list[str]:
    script = Path(sys.executable).parent / "celery"
    return [str(script)] if script.exists() else [sys.executable, "-m", "celery"]


def write_config(path: Path, count: int, url: str, ttl: int) -> None:
    lines = []
    for i in range(count):
        lines += [
            f"[checks.{PROJECT}.hb-{i}]",
            'description = "Benchmark heartbeat."',
            'module = "checks.core.heartbeat"',
            f'params.url = "{url}"',
            f"ttl = {ttl}",
            "",
        ]
    path.write_text("\n".join(lines))


def interval_seconds(ttl: int) -> float:
    """audits.refresh.interval_seconds() with the default REFRESH_DISPATCH_SECONDS."""
    lead = min(ttl / 4, 2 * DISPATCH_SECONDS + 5)
    return max(ttl - lead, 1.0)


# --- One configuration -------------------------------------------------------------


class Run:
    """W workers and one beat on the shared database, Redis and upstream."""

    def __init__(self, args, ttl: int, workers: int, env: dict, folder: Path,
                 database: Database, redis_server: RedisServer, upstream: Upstream,
                 resources: Resources):
        self.args, self.ttl, self.workers = args, ttl, workers
        self.env, self.folder = env, folder
        self.database, self.redis, self.upstream = database, redis_server, upstream
        self.resources = resources
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.label = f"ttl {ttl}, {workers} worker{'s' if workers > 1 else ''}" + (
            " spread" if args.spread else "")

    def reset(self) -> None:
        """Every check due at once again, no history, nothing queued or cached."""
        with self.database.connect() as conn:
            conn.execute("TRUNCATE audits_checkrun")
            conn.execute(
                "UPDATE audits_check SET ttl = %s, next_refresh_at = NULL, "
                "alert_state = 'unknown', consecutive_failures = 0, last_run_at = NULL, "
                "last_success = NULL, last_scalar = NULL", (self.ttl,))
        self.redis.client.flushall()

    def spread(self) -> None:
        """--spread: each check's first refresh at a random time within one interval,
        instead of all at once, to show the steady state of an even schedule."""
        with self.database.connect() as conn:
            conn.execute(
                "UPDATE audits_check SET next_refresh_at = "
                "now() + random() * %s * interval '1 second'",
                (interval_seconds(self.ttl),))

    def start(self, name: str, command: list[str]) -> None:
        log = self.folder / f"{self.ttl}-{self.workers}-{name}.log"
        self.logs[name] = log
        with open(log, "w") as out:
            self.processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.resources.watch(name, self.processes[name].pid)

    def start_workers(self) -> None:
        args = self.args
        for i in range(1, self.workers + 1):
            command = celery_command() + [
                "-A", "telescope_site", "worker", "--loglevel", "WARNING",
                "--hostname", f"bench{i}@%h", "--pool", args.pool,
            ]
            if args.concurrency:
                command += ["--concurrency", str(args.concurrency)]
            command += shlex.split(args.worker_args)
            self.start(f"worker{i}", command)
        self.wait_for_workers()

    def wait_for_workers(self, timeout: float = 90) -> None:
        from celery import Celery

        app = Celery(broker=self.redis.url)
        expected = {f"bench{i}@{socket.gethostname()}" for i in range(1, self.workers + 1)}
        deadline = time.monotonic() + timeout
        try:
            while True:
                for name, process in self.processes.items():
                    if process.poll() is not None:
                        raise BenchError(f"{name} exited: {tail(self.logs[name])}")
                replies = app.control.ping(timeout=1.0) or []
                answered = {host for reply in replies for host in reply}
                if expected <= answered:
                    return
                if time.monotonic() > deadline:
                    raise BenchError(f"workers did not answer a ping: {expected - answered}")
        finally:
            app.close()

    def start_beat(self) -> None:
        self.start("beat", celery_command() + [
            "-A", "telescope_site", "beat", "--loglevel", "WARNING",
            # The scheduler keeps its state in the database; this file stays unused.
            "--schedule", str(self.folder / "celerybeat-schedule"),
        ])

    def stop(self) -> None:
        for name in [n for n in self.processes if n == "beat"] + \
                    [n for n in self.processes if n != "beat"]:
            stop_process(self.processes[name])
            self.resources.forget(name)
        self.processes.clear()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}: "
                                 f"{tail(self.logs[name])}")

    def count_runs(self) -> int:
        with self.database.connect() as conn:
            return conn.execute("SELECT count(*) FROM audits_checkrun").fetchone()[0]

    def sleep_until(self, moment: float, began: float) -> None:
        next_note = time.time() + 15
        while (now := time.time()) < moment:
            self.check_alive()
            time.sleep(min(1.0, moment - now))
            if time.time() >= next_note and time.time() < moment - 5:
                next_note += 15
                print(f"    t+{time.time() - began:5.0f}s  {self.count_runs():7d} runs "
                      f"recorded, {self.upstream.stats()['hits']:7d} upstream requests",
                      flush=True)

    def snapshot(self) -> dict:
        cpu = self.resources.cpu()
        busy, total = machine_cpu()
        return {"time": time.time(), "cpu": cpu, "machine": (busy, total),
                "hits": self.upstream.stats()["hits"]}

    def execute(self) -> dict:
        args = self.args
        print(f"\n== {self.label}: {args.checks} checks every "
              f"{interval_seconds(self.ttl):g} s; warm-up {args.warmup:g} s, "
              f"then {args.duration:g} s measured", flush=True)
        self.reset()
        self.start_workers()
        if args.spread:
            self.spread()
        began = time.time()
        self.start_beat()
        self.sleep_until(began + args.warmup, began)
        first = self.snapshot()
        # The upstream's count over the same whole refresh intervals as runs/min.
        self.sleep_until(first["time"] + self.rate_window(args.duration), began)
        rate_hits = self.upstream.stats()["hits"]
        self.sleep_until(first["time"] + args.duration, began)
        last = self.snapshot()
        last["rate_hits"] = rate_hits
        # Stop the schedule, let the runs in flight land in the history, then stop.
        stop_process(self.processes.pop("beat"))
        self.resources.forget("beat")
        last["peak_rss"] = dict(self.resources.peak_rss)
        count, stable_since, deadline = -1, time.monotonic(), time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and time.monotonic() - stable_since < 2:
            time.sleep(0.5)
            now_count = self.count_runs()
            if now_count != count:
                count, stable_since = now_count, time.monotonic()
        self.stop()
        return self.measure(began, first, last)

    def rate_window(self, window: float) -> float:
        """The largest whole number of refresh intervals in `window` (or `window`)."""
        interval = interval_seconds(self.ttl)
        periods = int(window // interval)
        return periods * interval if periods >= 1 else window

    def measure(self, began: float, first: dict, last: dict) -> dict:
        w0, w1 = first["time"], last["time"]
        window = w1 - w0
        interval = interval_seconds(self.ttl)
        rate_window = self.rate_window(self.args.duration)
        periods = round(rate_window / interval)
        utc = dt.timezone.utc
        t = lambda seconds: dt.datetime.fromtimestamp(seconds, utc)  # noqa: E731
        with self.database.connect() as conn:
            runs_rate = conn.execute(
                "SELECT count(*) FROM audits_checkrun WHERE started_at >= %s "
                "AND started_at < %s", (t(w0), t(w0 + rate_window))).fetchone()[0]
            rows = conn.execute(
                "SELECT extract(epoch FROM started_at - scheduled_for)::float8, success, "
                "duration FROM audits_checkrun WHERE started_at >= %s AND started_at < %s",
                (t(w0), t(w1))).fetchall()
            firsts = conn.execute(
                "SELECT DISTINCT ON (check_id) extract(epoch FROM started_at)::float8, "
                "extract(epoch FROM scheduled_for)::float8 FROM audits_checkrun "
                "ORDER BY check_id, started_at").fetchall()
            total = conn.execute("SELECT count(*) FROM audits_checkrun").fetchone()[0]
            measured_interval = conn.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FROM ("
                " SELECT extract(epoch FROM scheduled_for - lag(scheduled_for) OVER"
                " (PARTITION BY check_id ORDER BY scheduled_for))::float8 AS gap"
                " FROM audits_checkrun WHERE scheduled_for IS NOT NULL) gaps "
                "WHERE gap IS NOT NULL").fetchone()[0]
        lags = sorted(r[0] for r in rows if r[0] is not None)
        durations = sorted(r[2] for r in rows)
        burst_lags = sorted(s - d for s, d in firsts if d is not None)
        burst_start = min((d for _, d in firsts if d is not None), default=None)
        seconds = lambda name: last["cpu"].get(name, 0) - first["cpu"].get(name, 0)  # noqa
        busy = last["machine"][0] - first["machine"][0]
        total_cpu = last["machine"][1] - first["machine"][1]
        worker_names = [f"worker{i}" for i in range(1, self.workers + 1)]
        return {
            "label": self.label, "ttl": self.ttl, "workers": self.workers,
            "interval": interval, "measured_interval": measured_interval,
            "scheduled_per_min": self.args.checks * 60 / interval,
            "window": window, "rate_window": rate_window, "periods": periods,
            "runs_per_min": runs_rate * 60 / rate_window,
            "runs_in_window": len(rows),
            "success": sum(1 for r in rows if r[1]),
            "lag": lags,
            "duration_p50": percentile(durations, 50),
            "upstream_per_min": (last["rate_hits"] - first["hits"]) * 60 / rate_window,
            "burst": {
                "checks": len(firsts),
                "drained": (max(s for s, _ in firsts) - burst_start)
                if firsts and burst_start else None,
                "lag": burst_lags,
                "since_beat": burst_start - began if burst_start else None,
            },
            "total_runs": total,
            "cpu": {
                "workers": sum(seconds(n) for n in worker_names),
                "per_worker": [seconds(n) for n in worker_names],
                "beat": seconds("beat"),
                "upstream": seconds("upstream"),
                "redis": seconds("redis"),
                "postgres": seconds("postgres"),
                "machine": busy,
                "machine_share": busy / max(total_cpu, 1e-9),
                "other": busy - sum(seconds(n) for n in
                                    worker_names + ["beat", "upstream", "redis", "postgres"]),
            },
            "rss": {
                "workers": sum(last["peak_rss"].get(n, 0) for n in worker_names),
                "per_worker": [last["peak_rss"].get(n, 0) for n in worker_names],
                "beat": last["peak_rss"].get("beat", 0),
            },
            "log_errors": {name: count_errors(path) for name, path in self.logs.items()},
        }


def count_errors(path: Path) -> int:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines()
               if re.search(r"\bERROR\b|Traceback|CRITICAL", line))


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None for an empty one)."""
    if not sorted_values:
        return None
    rank = max(1, round(p / 100 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- Report ----------------------------------------------------------------------


def seconds_text(value: float | None) -> str:
    return "    n/a" if value is None else f"{value:6.2f}s"


def report(args, outcomes: list[dict], upstream_peak: int) -> None:
    mb = 1024 * 1024
    worker_text = f"--pool {args.pool}" + (
        f" --concurrency {args.concurrency}" if args.concurrency else " (default concurrency)")
    if args.worker_args:
        worker_text += f" {args.worker_args}"
    print("\n" + "=" * 100)
    print(f"Scheduled audits benchmark: {args.checks} heartbeat checks, upstream answering "
          f"after {UPSTREAM_DELAY * 1000:.0f} ms (asyncio, own process); {os.cpu_count()} CPUs")
    print(f"celery worker {worker_text}; one celery beat; PostgreSQL "
          f"{PG_HOST}:{PG_PORT}; private redis-server")
    print("\nSteady state (after the warm-up). Aim: 10,000 runs/min, lag p99 < 1 s")
    print(f"  {'configuration':<26} {'runs/min':>9} {'asked':>7} {'lag p50':>8} "
          f"{'p99':>8} {'max':>8} {'>1s':>6} {'ok':>6} {'upstream/min':>12} {'run p50':>8}")
    for o in outcomes:
        lags = o["lag"]
        late = sum(1 for v in lags if v > 1) / len(lags) if lags else 0
        ok = o["success"] / o["runs_in_window"] if o["runs_in_window"] else 0
        print(f"  {o['label']:<26} {o['runs_per_min']:9.0f} {o['scheduled_per_min']:7.0f} "
              f"{seconds_text(percentile(lags, 50)):>8} {seconds_text(percentile(lags, 99)):>8} "
              f"{seconds_text(lags[-1] if lags else None):>8} {late:6.1%} {ok:6.1%} "
              f"{o['upstream_per_min']:12.0f} "
              f"{(o['duration_p50'] or 0):6.0f}ms")
    print("  runs/min: runs started in the window, over whole refresh intervals; asked: "
          "checks x 60 / (ttl - lead);\n  upstream/min: requests it received over the "
          "same intervals; lag: started_at - scheduled_for (negative: "
          "early); >1s: share of runs over 1 s late; run p50: CheckRun.duration")

    print("\nInitial burst (every check due at the first dispatch)")
    print(f"  {'configuration':<26} {'checks':>7} {'all started':>12} "
          f"{'lag p50':>8} {'p99':>8} {'max':>8}")
    for o in outcomes:
        b = o["burst"]
        print(f"  {o['label']:<26} {b['checks']:7d} "
              f"{('after ' + seconds_text(b['drained']).strip()) if b['drained'] is not None else 'n/a':>12} "
              f"{seconds_text(percentile(b['lag'], 50)):>8} "
              f"{seconds_text(percentile(b['lag'], 99)):>8} "
              f"{seconds_text(b['lag'][-1] if b['lag'] else None):>8}")

    print("\nResources over the steady window (CPU: seconds, and % of one core)")
    print(f"  {'configuration':<26} {'workers CPU':>16} {'workers RSS':>12} "
          f"{'beat CPU':>14} {'beat RSS':>9} {'upstream':>9} {'redis':>8} "
          f"{'postgres*':>10} {'machine':>8} {'other':>6}")
    for o in outcomes:
        c, r, w = o["cpu"], o["rss"], o["window"]
        pct = lambda s: f"{s:6.1f}s {s / w:4.0%}"  # noqa: E731
        print(f"  {o['label']:<26} {pct(c['workers']):>16} {r['workers'] / mb:9.0f} MB "
              f"{pct(c['beat']):>14} {r['beat'] / mb:6.0f} MB {c['upstream'] / w:8.0%} "
              f"{c['redis'] / w:8.0%} {c['postgres'] / w:10.0%} {c['machine_share']:8.0%} "
              f"{c['other'] / w:6.0%}")
        if o["workers"] > 1:
            split = ", ".join(f"{s:.1f}s/{m / mb:.0f} MB"
                              for s, m in zip(c["per_worker"], r["per_worker"]))
            print(f"  {'':<26} per worker: {split}")
    print("  RSS: peak of the sum over each process tree (prefork children share pages); "
          "upstream, redis, postgres: % of one core;\n  machine: share of all CPUs busy; "
          "* the whole PostgreSQL server, other databases included; other: machine busy\n"
          "  minus all of the above (processes this benchmark did not start), % of one core")
    errors = {o["label"]: {k: v for k, v in o["log_errors"].items() if v}
              for o in outcomes}
    if any(errors.values()):
        print(f"\nError lines in the logs: {errors}")
    print(f"\nUpstream: at most {upstream_peak} requests in flight at once.")
    for o in outcomes:
        if o["measured_interval"] and abs(o["measured_interval"] - o["interval"]) > 0.5:
            print(f"  note: {o['label']}: measured refresh interval "
                  f"{o['measured_interval']:.2f} s, expected {o['interval']:.2f} s")
    print("=" * 100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the scheduled refreshes (celery beat + workers).")
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--ttl", default="60,8",
                        help="comma-separated TTLs of the checks (default: 60, and 8, "
                        "the capacity configuration: refreshed every 6 s, so 1,000 "
                        "checks ask for 10,000 runs/min)")
    parser.add_argument("--duration", type=float, default=120,
                        help="seconds measured after the warm-up")
    parser.add_argument("--warmup", type=float, default=60,
                        help="seconds from beat's start to the measured window")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--pool", default="threads", choices=("prefork", "threads", "solo"),
                        help="celery worker --pool (default threads: see bench/README.md)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="celery worker --concurrency (default 4; 0: Celery's default, "
                        "the number of CPUs)")
    parser.add_argument("--worker-args", default="", help="more celery worker arguments")
    parser.add_argument("--spread", action="store_true",
                        help="what-if, not the service's behaviour: give each check a "
                        "random first refresh within one interval (no initial burst)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the temporary folder with the processes' logs")
    args = parser.parse_args(argv)
    ttls = [int(v) for v in args.ttl.split(",") if v.strip()]
    worker_counts = [int(v) for v in args.workers.split(",") if v.strip()]
    if not ttls or not worker_counts or min(ttls) < 1 or min(worker_counts) < 1:
        parser.error("--ttl and --workers need positive integers")

    # Ctrl-C and SIGTERM unwind through the `finally` below (SIGINT explicitly:
    # a shell starting this in the background would have it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="telescope-bench-scheduler-"))
    resources = Resources()
    upstream = redis_server = database = run = None
    outcomes: list[dict] = []
    status = 1
    try:
        busy = machine_busy()
        print(f"CPU busy before starting: {busy:.0%} of {os.cpu_count()} CPUs"
              + ("  WARNING: something else is running; the figures will be low"
                 if busy > 0.1 else ""), flush=True)
        if (ROOT / ".env").exists():
            print(f"note: {ROOT / '.env'} exists; settings it has that this benchmark "
                  "does not set apply to every process")
        upstream = Upstream(folder / "upstream.log")
        resources.watch("upstream", upstream.pid)
        redis_server = RedisServer(folder)
        resources.watch("redis", redis_server.process.pid)
        database = Database()
        if (postmaster := database.postmaster_pid()) is not None:
            resources.watch("postgres", postmaster)
        print(f"upstream {upstream.url}; redis {redis_server.url}; "
              f"database {database.name}; logs in {folder}", flush=True)
        env = service_env(database.url, redis_server.url)
        manage(env, "migrate", "--noinput")
        config = folder / "config.toml"
        write_config(config, args.checks, upstream.url, ttls[0])
        print(manage(env, "import_config", str(config)).strip().splitlines()[-1][:200],
              flush=True)
        for ttl in ttls:
            for workers in worker_counts:
                run = Run(args, ttl, workers, env, folder, database, redis_server,
                          upstream, resources)
                try:
                    outcomes.append(run.execute())
                finally:
                    run.stop()
        report(args, outcomes, upstream.stats()["peak"])
        status = 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        if outcomes:
            report(args, outcomes, 0)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip this
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if run is not None:
            run.stop()
        resources.stop()
        for stop in (upstream, redis_server):
            if stop is not None:
                stop.stop()
        if database is not None:
            try:
                database.drop()
            except Exception as exc:  # say so: it must be dropped by hand
                print(f"could not drop database {database.name}: {exc}", file=sys.stderr)
        if args.keep_logs:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return status


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_upstream":
        upstream_main(0)
        sys.exit(0)
    sys.exit(main())
