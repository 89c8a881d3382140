#!/usr/bin/env python
"""
Benchmark of the checks API, served the way production serves it (gunicorn).

    .venv/bin/python bench/bench_checks.py [--checks 200] [--connections 32]
        [--duration 10] [--concurrency N] [--workers W] [--threads T]
        [--cold-runs 5] [--client auto|wrk|python] [--gunicorn-args ARGS] [--keep]

What it does, all on 127.0.0.1 and in a temporary folder (removed at the end):

1. starts an *upstream*: a thread-per-connection HTTP server whose every answer
   is `200 {"status": "ok"}` (JSON) after 100 ms, as a slow `__heartbeat__`;
2. creates a SQLite database (`manage.py migrate`), and imports a generated
   `config.toml` of `--checks` `checks.core.heartbeat` checks per project
   (`[checks.bench.hb-<i>]`, then `bench-2`, `bench-3`... for the repeated cold
   runs), all pointing at the upstream;
3. starts `gunicorn telescope_site.wsgi:application --workers W --threads T` with
   DEBUG=false, SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, LOG_LEVEL=WARNING and
   DATABASE_URL, and waits for `/__lbheartbeat__`;
4. **cold run**: times `GET /checks/bench` (nothing cached: every check calls the
   upstream), checks the status is 200 with `--checks` successful results, and
   repeats on `bench-2`, `bench-3`... (each is cold too). It does so with the
   default limits (LIMIT_GLOBAL_CONCURRENCY=32: 200 checks run 32 at a time, so
   the floor is 7 x 100 ms = 0.7 s), then restarts the service with
   LIMIT_GLOBAL_CONCURRENCY=N (`--concurrency`, default: `--checks`) and, when N
   is over its default of 128, once more with LIMIT_REQUEST_CONCURRENCY=N too
   (the process-wide cap on outbound requests in flight), so that the last run
   shows what the runner itself can do. The floor is 100 ms (one upstream
   answer); the aim is 0.25 s or less;
5. **cached run**: `GET /checks/bench/hb-0`, already cached, from a second process
   over `--connections` keep-alive connections for `--duration` seconds (after a
   2 s warm-up that is not counted, which also fills the cache of every worker):
   requests per second, p50 and p99 latency. The load generator is `wrk` when it
   is installed (`apt-get install wrk`), else a Python client (http.client, one
   thread per connection, spread over 2 processes); `--client` picks one.

Beside each figure it prints what explains it: the CPU time gunicorn used (from
/proc: a cold run whose CPU time is close to its wall time is CPU-bound, not
waiting for the upstream), how many upstream requests were in flight at most and
over how long they were sent (200 at once in ~0 s is the ideal), the service's CPU
per cached request, and the share of the machine's CPU that *other* processes used
meanwhile (over 5%: the figures are low, run again on a quiet machine).

The default cache is local to each gunicorn worker: a cold run happens in the one
worker that received it, and with several workers each fills its own cache. The
upstream, the service and the load generator share this machine's CPUs.
`--gunicorn-args '--config python:telescope_site.gunicorn_conf'` serves as
`manage.py serve` does (with the embedded scheduler, when that file exists).

Stopping (Ctrl-C included) stops gunicorn and the upstream. Exit status: 0 when
every response was as expected, 1 otherwise.
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
PROJECT = "bench"
WARMUP_SECONDS = 2
# Settings of the service that would change what is measured if the caller's
# environment had them: the benchmark always starts from the service's defaults.
SERVICE_VARIABLES = (
    "REDIS_URL", "LIMIT_GLOBAL_CONCURRENCY", "LIMIT_REQUEST_CONCURRENCY",
    "DEFAULT_TTL", "CACHE_LOCK_ENABLED", "CHECK_TIMEOUT_SECONDS", "SENTRY_DSN",
    "REQUESTS_TIMEOUT_SECONDS", "REQUESTS_CONNECT_TIMEOUT_SECONDS",
    "REQUESTS_MAX_RETRIES", "DEFAULT_REQUEST_HEADERS", "LOG_FORMAT",
    "REFRESH_SECRET", "SECURE_SSL_REDIRECT", "CELERY_BROKER_URL", "REFRESH_AHEAD",
    "EMBEDDED_WORKERS", "WEBHOOK_URLS", "BUGTRACKER_API_KEY",
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


# --- The service under test -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(database_url: str, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-secret-key-not-for-production-0123456789abcdef",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        # Nothing may leave 127.0.0.1: no Bugzilla sync (its default is the real one).
        BUGTRACKER_URL="",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


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
                "",
            ]
    path.write_text("\n".join(lines))


def gunicorn_command() -> list[str]:
    script = Path(sys.executable).parent / "gunicorn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]


class Service:
    """gunicorn, started as production does, stopped by its pid."""

    def __init__(self, workers: int, threads: int, env: dict, log_path: Path,
                 extra_args: list[str] = ()):
        self.workers, self.threads, self.env = workers, threads, env
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "Service":
        command = gunicorn_command() + [
            "telescope_site.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            *self.extra_args,
        ]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C is ours to handle: we stop it cleanly
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                status, _, _ = get(self.port, "/__lbheartbeat__", timeout=2)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"gunicorn did not answer within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: workers finish
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "log", None):
            self.log.close()

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by gunicorn's master and workers (Linux /proc)."""
        try:
            pid = self.process.pid
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            total = 0
            for each in [pid, *children]:
                fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            return total / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def get(port: int, path: str, timeout: float = 60) -> tuple[int, bytes, float]:
    """(status, body, seconds from connecting to the last byte), new connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, body, time.perf_counter() - started


# --- Cold runs --------------------------------------------------------------------


def cold_run(service: Service, upstream: Upstream, project: str, checks: int) -> dict:
    upstream.counters()
    cpu_before = service.cpu_seconds()
    status, body, seconds = get(service.port, f"/checks/{project}")
    cpu_after = service.cpu_seconds()
    hits, peak, spread, connections = upstream.counters()
    problems = []
    if status != 200:
        problems.append(f"status {status}")
    try:
        results = json.loads(body)
    except ValueError:
        results = None
        problems.append(f"body is not JSON: {body[:200]!r}")
    if isinstance(results, list):
        failed = [r.get("name") for r in results if r.get("success") is not True]
        if len(results) != checks:
            problems.append(f"{len(results)} results instead of {checks}")
        if failed:
            problems.append(f"{len(failed)} failed (e.g. {failed[0]}: "
                            f"{next(r['data'] for r in results if r['name'] == failed[0])!r:.200})")
    elif results is not None:
        problems.append(f"not a list: {body[:200]!r}")
    if problems:
        raise BenchError(f"GET /checks/{project}: " + "; ".join(problems))
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return {"seconds": seconds, "upstream_requests": hits, "upstream_peak": peak,
            "upstream_spread": spread, "upstream_connections": connections,
            "service_cpu": cpu}


def cold_runs(args, label, env_extra, database_url, tmp, upstream) -> dict:
    env = service_env(database_url, env_extra)
    service = Service(args.workers, args.threads, env, tmp / "gunicorn.log",
                      shlex.split(args.gunicorn_args))
    print(f"\n== cold GET /checks/{{project}}, {label}")
    service.start()
    try:
        warm_process(service)
        runs = []
        for project in projects(args.cold_runs):
            run = cold_run(service, upstream, project, args.checks)
            runs.append(run)
            print(f"   GET /checks/{project:<9} {run['seconds']:6.3f} s   "
                  f"service CPU {fmt_seconds(run['service_cpu'])}   "
                  f"upstream: {run['upstream_requests']} requests "
                  f"({run['upstream_connections']} new connections), at most "
                  f"{run['upstream_peak']} at once, sent over {run['upstream_spread']:.3f} s")
        cached = None
        if env_extra == {}:
            cached = cached_run(args, service, upstream)
        return {"label": label, "runs": runs, "cached": cached}
    finally:
        service.stop()


def warm_process(service: Service) -> None:
    """Imports and first-request costs out of the way (nothing is run or cached):
    `GET /checks` loads the check module of every check."""
    for _ in range(service.workers * 2):
        status, body, _ = get(service.port, "/checks")
        if status != 200:
            raise BenchError(f"GET /checks answered {status}: {body[:200]!r}")


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def machine_busy(seconds: float = 1.0) -> float | None:
    """Share of the machine's CPU busy over `seconds` before the benchmark (0..1),
    from /proc/stat: other work on a 2-core machine skews every figure."""
    def sample():
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields[:8]), idle

    try:
        total_before, idle_before = sample()
        time.sleep(seconds)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total_after - total_before
    return 1 - (idle_after - idle_before) / total if total else None


class ForeignLoad:
    """CPU time used on the machine by processes other than this benchmark's own
    (this script, gunicorn, wrk, manage.py), from /proc/stat and os.times():
    another test suite running meanwhile makes every figure worse."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return None
        busy = (fields[0] + fields[1] + fields[2]) / os.sysconf("SC_CLK_TCK")  # user nice system
        ours = os.times()
        return busy, ours.user + ours.system + ours.children_user + ours.children_system, time.monotonic()

    def share(self) -> float | None:
        """Share of the machine (all CPUs) used by others since the start; valid
        once every child process has been waited for."""
        end = self._sample()
        if self.start is None or end is None:
            return None
        busy, ours, elapsed = (e - s for e, s in zip(end, self.start))
        return max(0.0, busy - ours) / (elapsed * (os.cpu_count() or 1))


def projects(count: int) -> list[str]:
    return [PROJECT] + [f"{PROJECT}-{i}" for i in range(2, count + 1)]


# --- Cached run: a load generator in a second process -----------------------------


def cached_run(args, service: Service, upstream: Upstream) -> dict:
    path = f"/checks/{PROJECT}/hb-0"
    url = f"http://127.0.0.1:{service.port}{path}"
    status, body, _ = get(service.port, path)  # cached by the cold run's worker
    if status != 200 or json.loads(body).get("success") is not True:
        raise BenchError(f"GET {path} answered {status}: {body[:200]!r}")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    print(f"\n== cached GET {path}: {args.connections} keep-alive connections, "
          f"{args.duration:g} s, client {client} (after a {WARMUP_SECONDS} s warm-up)")
    load = load_wrk if client == "wrk" else load_python
    load(url, args.connections, WARMUP_SECONDS)  # fills every worker's cache
    upstream.counters()
    cpu_before = service.cpu_seconds()
    figures = load(url, args.connections, args.duration)
    cpu_after = service.cpu_seconds()
    figures["client"] = client
    figures["upstream_requests"] = upstream.counters()[0]
    figures["cpu_ms_per_request"] = (
        (cpu_after - cpu_before) * 1000 / figures["requests"]
        if cpu_before is not None and cpu_after is not None and figures["requests"] else None
    )
    per_request = figures["cpu_ms_per_request"]
    print(f"   {figures['requests']} requests, {figures['rps']:.0f} requests/s, "
          f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, "
          f"errors {figures['errors']}; service CPU per request "
          + (f"{per_request:.2f} ms" if per_request is not None else "n/a")
          + f"; upstream requests {figures['upstream_requests']}")
    if figures["errors"]:
        raise BenchError(f"the cached run had {figures['errors']} errors or non-2xx answers")
    return figures


def load_wrk(url: str, connections: int, duration: float) -> dict:
    threads = max(1, min(4, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--latency", url]
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
                connection.request("GET", parts.path)
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


# --- Report -----------------------------------------------------------------------


def report(args, outcomes: list[dict], foreign: float | None) -> None:
    print("\n" + "=" * 78)
    print(f"Telescope checks API benchmark: {args.checks} heartbeat checks, upstream "
          f"answering after {UPSTREAM_DELAY * 1000:.0f} ms")
    print(f"gunicorn --workers {args.workers} --threads {args.threads}, "
          f"{os.cpu_count()} CPUs, cache: local memory (per worker)")
    print(f"\nCold GET /checks/{PROJECT} ({args.checks} checks; floor 0.100 s, aim <= 0.250 s)")
    print(f"  {'configuration':<50} {'first':>7} {'median':>7}  {'CPU':>6}  in flight")
    for outcome in outcomes:
        runs = outcome["runs"]
        seconds = [run["seconds"] for run in runs]
        cpu = [run["service_cpu"] for run in runs if run["service_cpu"] is not None]
        print(f"  {outcome['label']:<50} {seconds[0]:6.3f}s {statistics.median(seconds):6.3f}s  "
              f"{(f'{statistics.median(cpu):5.2f}s' if cpu else '   n/a')}  "
              f"{max(run['upstream_peak'] for run in runs):>9}")
    print("  (median of the cold runs on bench, bench-2...; CPU: the service's, median; "
          "in flight: most upstream requests at once)")
    cached = next(o["cached"] for o in outcomes if o["cached"])
    per_request = cached["cpu_ms_per_request"]
    print(f"\nCached GET /checks/{PROJECT}/hb-0 ({args.connections} keep-alive connections, "
          f"{args.duration:g} s, {cached['client']}, second process)")
    print(f"  {cached['rps']:.0f} requests/s   p50 {cached['p50_ms']:.2f} ms   "
          f"p99 {cached['p99_ms']:.2f} ms   ({cached['requests']} requests, "
          f"{cached['errors']} errors, service CPU "
          + (f"{per_request:.2f} ms" if per_request is not None else "n/a")
          + " per request)")
    if foreign is not None:
        print(f"\nOther processes used {foreign:.0%} of the machine's CPU meanwhile"
              + ("  WARNING: the figures are low, run again on a quiet machine"
                 if foreign > 0.05 else ""))
    print("=" * 78)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=200, help="heartbeat checks per project")
    parser.add_argument("--connections", type=int, default=32, help="for the cached run")
    parser.add_argument("--duration", type=float, default=10, help="seconds of the cached run")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="raised LIMIT_GLOBAL_CONCURRENCY (default: --checks)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn threads per worker")
    parser.add_argument("--gunicorn-args", default="",
                        help="more gunicorn arguments, e.g. "
                        "'--config python:telescope_site.gunicorn_conf'")
    parser.add_argument("--cold-runs", type=int, default=5,
                        help="cold runs per configuration (projects bench, bench-2...)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator of the cached run (auto: wrk when installed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    args.concurrency = args.concurrency or args.checks
    if args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --client python")

    # Ctrl-C and SIGTERM both unwind through the `finally` blocks that stop servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="telescope-bench-"))
    upstream = Upstream(UPSTREAM_DELAY).start()
    try:
        database_url = f"sqlite:///{tmp / 'db.sqlite3'}"
        config = tmp / "config.toml"
        write_config(config, projects(args.cold_runs), args.checks, upstream.url)
        env = service_env(database_url)
        print(f"temporary folder {tmp}; upstream {upstream.url} "
              f"({UPSTREAM_DELAY * 1000:.0f} ms per answer)")
        busy = machine_busy()
        if busy is not None:
            print(f"CPU busy before starting: {busy:.0%} of {os.cpu_count()} CPUs"
                  + ("  WARNING: something else is running; the figures will be low"
                     if busy > 0.1 else ""))
        manage(env, "migrate", "--noinput")
        print(manage(env, "import_config", str(config)).strip().splitlines()[-1])
        print(" ".join(filter(None, [
            f"gunicorn: --workers {args.workers} --threads {args.threads}",
            args.gunicorn_args,
            "(1 x 16 is what the Dockerfile and `manage.py serve` use; the cache is per worker)",
        ])))

        configurations = [("defaults (LIMIT_GLOBAL_CONCURRENCY=32)", {})]
        configurations.append((
            f"LIMIT_GLOBAL_CONCURRENCY={args.concurrency}",
            {"LIMIT_GLOBAL_CONCURRENCY": args.concurrency},
        ))
        if args.concurrency > 128:  # LIMIT_REQUEST_CONCURRENCY's default
            configurations.append((
                f"LIMIT_GLOBAL_ and LIMIT_REQUEST_CONCURRENCY={args.concurrency}",
                {"LIMIT_GLOBAL_CONCURRENCY": args.concurrency,
                 "LIMIT_REQUEST_CONCURRENCY": args.concurrency},
            ))
        foreign = ForeignLoad()
        outcomes = [
            cold_runs(args, label, extra, database_url, tmp, upstream)
            for label, extra in configurations
        ]
        report(args, outcomes, foreign.share())
        return 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
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
