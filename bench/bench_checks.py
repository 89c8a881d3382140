#!/usr/bin/env python
"""
Benchmark of the checks API against another implementation of it (upstream
Telescope), side by side, in one run, on 127.0.0.1.

    .venv/bin/python bench/bench_checks.py [--compare-cmd COMMAND] [--rounds 5]
        [--checks 200] [--connections 32] [--duration 10] [--warm-requests 20]
        [--env NAME=VALUE ...] [--client auto|wrk|python] [--force] [--keep]
        [--figures cold,warm,cached]

What it does:

1. starts an *upstream*: a thread-per-connection HTTP server in this process
   whose every answer is `200 {"status": "ok"}` (JSON) after 100 ms, as a slow
   `__heartbeat__`;
2. writes one `config.toml` in Telescope's format: projects `bench` (for the
   cached figures), `warmup` and `cold-1` ... `cold-N` (one per round), each of
   `--checks` `checks.core.heartbeat` checks of the upstream, `ttl = 3600` so
   that nothing expires during the run;
3. starts **this service** with the production command of the README (the
   Dockerfile's: `gunicorn telescope_site.wsgi:application --workers 1
   --threads 16`), on a SQLite database migrated and loaded with
   `manage.py import_config` of that file; with `--compare-cmd`, starts **the
   other** with that shell command, in its own session, with the same
   environment: `CONFIG_FILE` (the file), `HOST=127.0.0.1`, `PORT` (a free port;
   `{port}` and `{config}` in the command are replaced too), `LOG_LEVEL=WARNING`,
   `BUGTRACKER_URL=` (nothing leaves 127.0.0.1) and each `--env`; and starts the
   **limit**: a minimal WSGI app (`minimal_app` below, answering the bytes of the
   service's cached answer) served by the same gunicorn command;
4. warms each side up (`GET /checks/warmup`: every check module imported, the
   check processes and HTTP connections of each side started), then runs
   `--rounds` rounds, each measuring the sides one after the other (A, B, limit;
   A, B, limit; ...):
   * **cold project**: `GET /checks/cold-<round>`, nothing cached, every check
     calls the upstream: seconds from connecting to the last byte, and the
     side's CPU time meanwhile (every process of its session, from /proc) per
     check; the answer must be 200 with `--checks` passing results. Limit: the
     upstream's delay;
   * **warm project**: `GET /checks/bench`, every result cached: the median of
     `--warm-requests` sequential requests on one keep-alive connection;
   * **cached single check**: `GET /checks/bench/hb-0` over `--connections`
     keep-alive connections for `--duration` seconds, after a 2 s warm-up:
     requests/s, p50, p99; and the **server CPU per request**: the CPU time of
     every process of the side's session (from /proc) over the run, divided by
     the requests. Limit: the minimal WSGI app.

The load generator is `wrk` when installed (`apt-get install wrk`), else a
Python client (http.client, one thread per connection, 2 processes); both send
`Accept: application/json` (Telescope answers 406 without an `Accept`).

`--figures` measures only some of them (e.g. `--figures cold`; the limit is
started only for the cached figure). It prints each figure of each round, then the medians of both sides, their
ratio and the limit beside them. Before starting, it refuses to run when the
1-minute load average is above 1.5 (anything else running on a 2-core machine
skews every figure), unless `--force`; it prints the share of the CPU that other
processes used meanwhile. Exit status: 0 when every answer was as expected.
"""

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_DELAY = 0.1
UPSTREAM_BODY = json.dumps({"status": "ok"}).encode()
CACHED_PROJECT = "bench"
WARMUP_SECONDS = 2
MAX_LOAD = 1.5
ACCEPT = {"Accept": "application/json"}
# The production command of the README (and the Dockerfile), on a free port.
PRODUCTION_ARGS = ("--workers", "1", "--threads", "16")
# Settings that would change what is measured if the caller's environment had
# them: both sides start from their defaults, plus --env.
SERVICE_VARIABLES = (
    "REDIS_URL", "LIMIT_GLOBAL_CONCURRENCY", "LIMIT_REQUEST_CONCURRENCY",
    "DEFAULT_TTL", "CACHE_LOCK_ENABLED", "CHECK_TIMEOUT_SECONDS", "SENTRY_DSN",
    "REQUESTS_TIMEOUT_SECONDS", "REQUESTS_CONNECT_TIMEOUT_SECONDS",
    "REQUESTS_MAX_RETRIES", "DEFAULT_REQUEST_HEADERS", "LOG_FORMAT",
    "REFRESH_SECRET", "SECURE_SSL_REDIRECT", "CELERY_BROKER_URL", "REFRESH_AHEAD",
    "EMBEDDED_WORKERS", "WEBHOOK_URLS", "BUGTRACKER_API_KEY", "CHECK_PROCESSES",
    "HISTORY_PROJECT_ID", "CONFIG_FILE", "HOST", "PORT", "DATABASE_URL",
)


class BenchError(Exception):
    """Something that makes the figures meaningless: stop and say what."""


# --- The upstream: 200 JSON after 100 ms, one thread per connection ---------------


class Upstream:
    def __init__(self, delay: float):
        self.delay = delay
        self.lock = threading.Lock()
        self.hits = 0
        self.connections = 0  # new TCP connections: keep-alive reuse shows here
        self.in_flight = 0
        self.peak = 0
        self.first = self.last = None  # arrival of the first and last request
        self.server = _UpstreamServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="upstream", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/__heartbeat__"

    def start(self) -> "Upstream":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counters(self) -> tuple[int, int, float, int]:
        """(requests received, most in flight at once, seconds between the first
        and the last arrival, new connections), then reset."""
        with self.lock:
            spread = self.last - self.first if self.hits else 0.0
            counts = self.hits, self.peak, spread, self.connections
            self.hits = self.peak = self.connections = 0
            self.first = self.last = None
        return counts

    def _handler_class(self):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server
            # Headers and body are two writes: with Nagle's algorithm, a client
            # reusing the connection would wait 40 ms for its delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with upstream.lock:
                    upstream.connections += 1

            def do_GET(self):
                with upstream.lock:
                    upstream.last = time.perf_counter()
                    upstream.first = upstream.first or upstream.last
                    upstream.hits += 1
                    upstream.in_flight += 1
                    upstream.peak = max(upstream.peak, upstream.in_flight)
                time.sleep(upstream.delay)
                with upstream.lock:  # answered: the caller may send the next one
                    upstream.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(UPSTREAM_BODY)))
                self.end_headers()
                self.wfile.write(UPSTREAM_BODY)

        return Handler


class _UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # 200 connections at once must not wait for SYN retries


# --- The sides: this service, the other, the limit ----------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(config: Path, port: int, extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        CONFIG_FILE=str(config), HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="WARNING",
        BUGTRACKER_URL="", PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def service_env(env: dict, database_url: str) -> dict:
    return {
        **env,
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
    }


def manage(env: dict, *args: str) -> str:
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command[1:])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def write_config(path: Path, projects: list[str], checks: int, url: str) -> None:
    lines = []
    for project in projects:
        for i in range(checks):
            lines += [
                f"[checks.{project}.hb-{i}]",
                f'description = "Heartbeat {i} of the benchmark."',
                'module = "checks.core.heartbeat"',
                f'params.url = "{url}"',
                "params.expected_status = 200",
                "ttl = 3600",
                "",
            ]
    path.write_text("\n".join(lines))


def gunicorn_command(app: str, port: int) -> list[str]:
    script = Path(sys.executable).parent / "gunicorn"
    gunicorn = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    return [*gunicorn, app, "--bind", f"127.0.0.1:{port}", *PRODUCTION_ARGS]


class Side:
    """A server started by a command in its own session, stopped by its process
    group; its CPU time is that of every process of the session."""

    def __init__(self, label: str, command, env: dict, port: int, log_path: Path,
                 cwd: Path = ROOT):
        self.label, self.command, self.env, self.port = label, command, env, port
        self.log_path, self.cwd = log_path, cwd
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Side":
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self.log,
            stderr=subprocess.STDOUT, shell=isinstance(self.command, str),
            start_new_session=True,  # its own process group: stopped as one
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.label} exited ({self.process.returncode}):\n"
                                 f"{self.log_tail()}")
            try:
                get(self.port, "/__lbheartbeat__", timeout=2)
                return self
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"{self.label} did not answer within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self.process = None
        if getattr(self, "log", None):
            self.log.close()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the processes of this side's session."""
        session, total = self.process.pid, 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[3]) == session:  # session id
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def minimal_app(environ, start_response):
    """The limit: what the same gunicorn command serves with no work at all."""
    start_response("200 OK", [("Content-Type", "application/json"),
                               ("Content-Length", str(len(MINIMAL_BODY)))])
    return [MINIMAL_BODY]


MINIMAL_BODY = Path(os.environ.get("BENCH_MINIMAL_BODY", "/dev/null")).read_bytes() or b"{}"


def get(port: int, path: str, timeout: float = 60) -> tuple[int, bytes, float]:
    """(status, body, seconds from connecting to the last byte), new connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=ACCEPT)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, body, time.perf_counter() - started


def expect_results(side: Side, path: str, status: int, body: bytes, checks: int) -> None:
    """Raise unless `body` is a 200 list of `checks` passing results."""
    problems = []
    if status != 200:
        problems.append(f"status {status}")
    try:
        results = json.loads(body)
    except ValueError:
        results = None
        problems.append(f"body is not JSON: {body[:200]!r}")
    if isinstance(results, list):
        failed = [r for r in results if r.get("success") is not True]
        if len(results) != checks:
            problems.append(f"{len(results)} results instead of {checks}")
        if failed:
            problems.append(f"{len(failed)} failed (e.g. {failed[0].get('name')}: "
                            f"{failed[0].get('data')!r:.200})")
    elif results is not None:
        problems.append(f"not a list: {body[:200]!r}")
    if problems:
        raise BenchError(f"{side.label}: GET {path}: " + "; ".join(problems))


# --- The figures ------------------------------------------------------------------


def cold(side: Side, project: str, checks: int) -> float:
    return cold_figures(side, project, checks)["cold"]


def cold_figures(side: Side, project: str, checks: int) -> dict:
    """Seconds to the last byte of a cold project, and the side's CPU per check
    meanwhile (every process of its session, check processes included)."""
    path = f"/checks/{project}"
    cpu_before = side.cpu_seconds()
    status, body, seconds = get(side.port, path)
    cpu = side.cpu_seconds() - cpu_before
    expect_results(side, path, status, body, checks)
    return {"cold": seconds, "cold_cpu_ms": cpu * 1000 / checks}


def warm(side: Side, checks: int, requests: int) -> float:
    """Median seconds of sequential GET /checks/bench on one keep-alive connection."""
    path = f"/checks/{CACHED_PROJECT}"
    connection = http.client.HTTPConnection("127.0.0.1", side.port, timeout=60)
    seconds = []
    try:
        for _ in range(requests + 1):  # the first one fills what is cached
            started = time.perf_counter()
            connection.request("GET", path, headers=ACCEPT)
            response = connection.getresponse()
            body = response.read()
            seconds.append(time.perf_counter() - started)
            expect_results(side, path, response.status, body, checks)
    finally:
        connection.close()
    return statistics.median(seconds[1:])


def cached(side: Side, args, upstream: "Upstream") -> dict:
    url = f"http://127.0.0.1:{side.port}/checks/{CACHED_PROJECT}/hb-0"
    load = load_wrk if args.client == "wrk" else load_python
    load(url, args.connections, WARMUP_SECONDS)
    upstream.counters()
    cpu_before = side.cpu_seconds()
    figures = load(url, args.connections, args.duration)
    cpu = side.cpu_seconds() - cpu_before
    figures["cpu_ms"] = cpu * 1000 / figures["requests"] if figures["requests"] else None
    figures["upstream_requests"] = upstream.counters()[0]
    if figures["errors"]:
        raise BenchError(f"{side.label}: the cached run had {figures['errors']} errors "
                         "or non-2xx answers")
    return figures


# --- Load generators: wrk, or a Python client in a second process ----------------


def load_wrk(url: str, connections: int, duration: float) -> dict:
    threads = max(1, min(4, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--latency", "-H", "Accept: application/json", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> dict:
    def number(pattern):
        match = re.search(pattern, output)
        if not match:
            raise BenchError(f"cannot read {pattern!r} in wrk's output:\n{output}")
        return match

    requests = int(number(r"(\d+) requests in")[1])
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match[1])
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(n) for n in match.groups())
    return {
        "requests": requests,
        "rps": float(number(r"Requests/sec:\s+([\d.]+)")[1]),
        "p50_ms": wrk_ms(number(r"\s50%\s+([\d.]+\w+)")[1]),
        "p99_ms": wrk_ms(number(r"\s99%\s+([\d.]+\w+)")[1]),
        "errors": errors,
    }


def wrk_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def load_python(url: str, connections: int, duration: float, procs: int = 2) -> dict:
    """This script's own client (`_client` below), in a subprocess."""
    command = [sys.executable, __file__, "_client", url, str(connections),
               str(duration), str(procs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise BenchError(f"the Python client failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def _client(url: str, connections: int, duration: float, procs: int) -> None:
    """Entry point of the Python load generator: prints its figures as JSON."""
    import multiprocessing

    procs = max(1, min(procs, connections))
    shares = [connections // procs + (i < connections % procs) for i in range(procs)]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 0.5  # every connection starts at once
    workers = [
        context.Process(target=_client_process, args=(url, n, start_at, duration, queue))
        for n in shares
    ]
    for worker in workers:
        worker.start()
    latencies, errors, elapsed = [], 0, 0.0
    for _ in workers:
        part, part_errors, part_elapsed = queue.get()
        latencies += part
        errors += part_errors
        elapsed = max(elapsed, part_elapsed)
    for worker in workers:
        worker.join()
    latencies.sort()
    print(json.dumps({
        "requests": len(latencies),
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "errors": errors,
    }))


def _client_process(url, connections, start_at, duration, queue):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.perf_counter() + duration

    def loop():
        mine, failed = [], 0
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                connection.request("GET", parts.path, headers=ACCEPT)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
                else:
                    mine.append(time.perf_counter() - sent)
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    began = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, errors[0], time.perf_counter() - began))


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(p / 100 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- Rounds and report ------------------------------------------------------------

# What --figures selects: the cold project, the warm project, the cached check.
FIGURE_GROUPS = ("cold", "warm", "cached")

FIGURES = (
    # (key, title, unit, scale, higher is better)
    ("rps", "cached GET /checks/bench/hb-0, requests/s", "", 1, True),
    ("p50_ms", "  p50", "ms", 1, False),
    ("p99_ms", "  p99", "ms", 1, False),
    ("cpu_ms", "server CPU per cached request", "ms", 1, False),
    ("cold", "cold GET /checks/cold-N ({checks} checks)", "s", 1, False),
    ("cold_cpu_ms", "  server CPU per check of the cold project", "ms", 1, False),
    ("warm", "warm GET /checks/bench ({checks} cached)", "ms", 1000, False),
)


def round_of(sides: list[Side], limit: Side | None, args, upstream, number: int) -> dict:
    """One round: each side measured in turn, then the limit; figures by side
    (only those of `args.figures`)."""
    figures = {}
    for side in sides:
        values, shown = {}, []
        if "cold" in args.figures:
            values.update(cold_figures(side, f"cold-{number}", args.checks))
            shown.append(f"cold {values['cold']:.3f} s ({values['cold_cpu_ms']:.2f} ms CPU/check)")
        if "warm" in args.figures:
            values["warm"] = warm(side, args.checks, args.warm_requests)
            shown.append(f"warm {values['warm'] * 1000:.1f} ms")
        if "cached" in args.figures:
            values.update(cached(side, args, upstream))
            shown.append(f"cached {values['rps']:.0f} req/s, p50 {values['p50_ms']:.1f} ms, "
                         f"p99 {values['p99_ms']:.1f} ms, "
                         f"CPU {fmt(values['cpu_ms'], '.2f')} ms/request, "
                         f"upstream requests {values['upstream_requests']}")
        figures[side.label] = values
        print(f"   round {number} {side.label:<13} " + "   ".join(shown))
    if limit is not None:
        values = cached(limit, args, upstream)
        figures[limit.label] = values
        print(f"   round {number} {limit.label:<13} {values['rps']:.0f} req/s, "
              f"p50 {values['p50_ms']:.1f} ms, p99 {values['p99_ms']:.1f} ms, "
              f"CPU {fmt(values['cpu_ms'], '.2f')} ms/request")
    return figures


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def median_of(rounds: list[dict], label: str, key: str):
    values = [r[label][key] for r in rounds if label in r and r[label].get(key) is not None]
    return statistics.median(values) if values else None


def report(args, rounds: list[dict], labels: list[str], foreign: float | None) -> None:
    ours, other = labels[0], labels[1] if len(labels) > 1 else None
    print("\n" + "=" * 96)
    print(f"Checks API, median of {len(rounds)} interleaved rounds: {args.checks} heartbeat "
          f"checks per project, upstream answering after {UPSTREAM_DELAY * 1000:.0f} ms, "
          f"{args.connections} connections, {os.cpu_count()} CPUs")
    if args.compare_cmd:
        print(f"other: {args.compare_cmd}")
    head = f"  {'figure':<44} {ours:>13} {other or '':>13} {'ratio':>7}   limit"
    print(head)
    for key, title, unit, scale, higher in FIGURES:
        title = title.format(checks=args.checks)
        a, b = median_of(rounds, ours, key), median_of(rounds, other, key) if other else None
        if a is None and b is None:
            continue  # a figure not asked for (--figures)
        ratio = (a / b if higher else b / a) if a and b else None
        print(f"  {title:<44} {_cell(a, unit, scale):>13} {_cell(b, unit, scale):>13} "
              f"{(f'{ratio:.2f}x' if ratio else ''):>7}   {_limit(rounds, key)}")
    print("  (ratio: how many times better this service is; the limit: a minimal WSGI app "
          "served by the same command, or the upstream's delay)")
    if foreign is not None:
        print(f"\nOther processes used {foreign:.0%} of the machine's CPU meanwhile"
              + ("  WARNING: the figures are low, run again on a quiet machine"
                 if foreign > 0.05 else ""))
    print("=" * 96)


def _cell(value, unit: str, scale: float) -> str:
    if value is None:
        return ""
    value *= scale
    return f"{value:,.0f}" if not unit else f"{value:.3f} {unit}" if unit == "s" else f"{value:.2f} {unit}"


def _limit(rounds: list[dict], key: str) -> str:
    if key == "cold":
        return f"{UPSTREAM_DELAY:.3f} s (the upstream's delay)"
    if key in ("warm", "cold_cpu_ms"):
        return ""
    value = median_of(rounds, "limit", key)
    return "" if value is None else _cell(value, "" if key == "rps" else "ms", 1) + " (minimal WSGI app)"


class ForeignLoad:
    """CPU time used on the machine by processes other than this benchmark's own
    (this script and its children: the sides, wrk, manage.py), from /proc/stat."""

    def __init__(self, sides):
        self.sides = sides
        self.start = self._sample()

    def _sample(self):
        try:
            fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return None
        busy = (fields[0] + fields[1] + fields[2]) / os.sysconf("SC_CLK_TCK")
        ours = os.times()
        servers = sum(side.cpu_seconds() for side in self.sides if side.process)
        mine = ours.user + ours.system + ours.children_user + ours.children_system + servers
        return busy, mine, time.monotonic()

    def share(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None:
            return None
        busy, ours, elapsed = (e - s for e, s in zip(end, self.start))
        return max(0.0, busy - ours) / (elapsed * (os.cpu_count() or 1))


def start_sides(args, tmp: Path, config: Path, env_extra: dict) -> tuple[list[Side], Side]:
    port = free_port()
    env = service_env(base_env(config, port, env_extra), f"sqlite:///{tmp / 'db.sqlite3'}")
    manage(env, "migrate", "--noinput")
    print(manage(env, "import_config", str(config)).strip().splitlines()[-1])
    sides = [Side("this service", gunicorn_command("telescope_site.wsgi:application", port),
                  env, port, tmp / "service.log")]
    if args.compare_cmd:
        port = free_port()
        command = args.compare_cmd.replace("{port}", str(port)).replace("{config}", str(config))
        sides.append(Side("other", command, base_env(config, port, env_extra), port,
                          tmp / "other.log", cwd=Path.cwd()))
    for side in sides:
        print(f"starting {side.label}: "
              + (side.command if isinstance(side.command, str) else shlex.join(side.command)))
        side.start()
    body = tmp / "minimal-body.json"
    status, content, _ = get(sides[0].port, f"/checks/{CACHED_PROJECT}/hb-0")
    body.write_bytes(content)  # the limit answers the same bytes as the service
    port = free_port()
    limit_env = {**base_env(config, port, {}), "BENCH_MINIMAL_BODY": str(body)}
    limit = Side("limit", gunicorn_command("bench_checks:minimal_app", port), limit_env, port,
                 tmp / "limit.log", cwd=ROOT / "bench")
    return sides, limit.start()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compare-cmd", default="",
                        help="shell command that starts the other implementation; it gets "
                        "CONFIG_FILE, HOST and PORT ({config}, {port} in the command)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--checks", type=int, default=200, help="heartbeat checks per project")
    parser.add_argument("--connections", type=int, default=32, help="for the cached run")
    parser.add_argument("--duration", type=float, default=10, help="seconds of a cached run")
    parser.add_argument("--warm-requests", type=int, default=20,
                        help="sequential requests of the warm project per round")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for both sides, e.g. LIMIT_GLOBAL_CONCURRENCY=200")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk when installed)")
    parser.add_argument("--force", action="store_true",
                        help=f"run even when the 1-minute load average is above {MAX_LOAD}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--figures", default=",".join(FIGURE_GROUPS),
                        help="comma-separated figures to measure, among "
                        f"{', '.join(FIGURE_GROUPS)} (default: all)")
    args = parser.parse_args(argv)
    args.figures = {name.strip() for name in args.figures.split(",") if name.strip()}
    if not args.figures or args.figures - set(FIGURE_GROUPS):
        parser.error(f"--figures takes names among {', '.join(FIGURE_GROUPS)}")
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    if args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --client python")
    env_extra = dict(item.split("=", 1) for item in args.env)
    load = os.getloadavg()[0]
    if load > MAX_LOAD and not args.force:
        print(f"The 1-minute load average is {load:.2f}, above {MAX_LOAD}: something else is "
              "running, and the figures would be wrong. Wait, or give --force.", file=sys.stderr)
        return 2

    # Ctrl-C and SIGTERM both unwind through the `finally` blocks that stop servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="telescope-bench-"))
    upstream = Upstream(UPSTREAM_DELAY).start()
    sides, limit = [], None
    try:
        config = tmp / "config.toml"
        projects = [CACHED_PROJECT, "warmup", *(f"cold-{i}" for i in range(1, args.rounds + 1))]
        write_config(config, projects, args.checks, upstream.url)
        print(f"temporary folder {tmp}; upstream {upstream.url}; load average {load:.2f}; "
              f"client {args.client}")
        sides, limit = start_sides(args, tmp, config, env_extra)
        if "cached" not in args.figures:
            limit.stop()  # it only serves the cached figure
            limit = None
        for side in sides:  # imports, check processes, connections: not measured
            print(f"   warm-up {side.label}: GET /checks/warmup "
                  f"{cold(side, 'warmup', args.checks):.3f} s")
        foreign = ForeignLoad([*sides, *([limit] if limit else [])])
        rounds = [round_of(sides, limit, args, upstream, n) for n in range(1, args.rounds + 1)]
        report(args, rounds, [side.label for side in sides], foreign.share())
        return 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        for side in [*sides, *([limit] if limit else [])]:
            side.stop()
        upstream.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        url, connections, duration, procs = sys.argv[2:6]
        _client(url, int(connections), float(duration), int(procs))
        sys.exit(0)
    sys.exit(main())
