#!/usr/bin/env python
"""
Benchmark of what hanging checks cost the requests that do not run them: latency of
`/__lbheartbeat__` and of a cached check while N checks hang, in the embedded mode
(`manage.py serve`) and in the distributed mode (gunicorn + a Celery worker, Redis,
PostgreSQL).

    .venv/bin/python bench/bench_hanging.py [--hanging 0,50] [--samples 300]
        [--limit 20] [--modes embedded,distributed]

What it does, all on 127.0.0.1 and in a temporary folder (removed at the end):

1. writes a `config.toml` with one cached check `p/ok` (`audits.tests.checkmods.echo`:
   passes at once, no network) and, for each N of `--hanging`, a project `hang-N`
   of N checks `audits.tests.checkmods.hostile` with `how = "hang"` (`while True:
   sleep(1)`), allowed with `CHECK_MODULES=checks.,audits.tests.checkmods.`; every
   process gets `CHECK_TIMEOUT_SECONDS=--limit`, `CHECK_PROCESSES=64`,
   `LIMIT_GLOBAL_CONCURRENCY=64`, `REFRESH_AHEAD=false`, `LOG_LEVEL=WARNING`;
2. **embedded**: a SQLite database, `migrate`, `import_config`, then `manage.py
   serve` (gunicorn, 1 worker, 16 threads, the embedded scheduler);
   **distributed**: a private `redis-server`, a private PostgreSQL database (as
   `bench_scheduler.py` makes them), gunicorn as the Dockerfile runs it (`--workers 1
   --threads 16`) and one `celery worker --pool threads --concurrency 4` (as
   docker-compose.yml runs it);
3. `GET /checks/p/ok` once (it is cached from then on, and its run leaves one idle
   check process), then for each N: `GET /checks/hang-N` from a thread, waits until
   N check processes exist in the process group that runs checks (serve's, or the
   worker's; the web's in the distributed mode must have none), then sends
   `--samples` sequential `GET /__lbheartbeat__` and as many `GET /checks/p/ok`,
   each on one keep-alive connection, and prints p50 / p99 / max. It checks that the
   hangs were still in progress when the measurement ended, and waits for their
   answer (503, every check "Timed out") before the next N.

Beside the figures it prints how busy the machine was meanwhile (other processes:
a 2-core machine shared with test suites gives figures that are not the service's).

Stopping (Ctrl-C included) stops every process it started and drops the database.
Exit status: 0 when every answer was as expected, 1 otherwise.
"""

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_scheduler import (
    BenchError, Database, RedisServer, celery_command, free_port, machine_busy, manage,
    stop_process,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from testing.processes import group_size  # noqa: E402 (the project is not installed)
SERVICE_VARIABLES = (
    "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "CHECK_MODULES", "CHECK_PROCESSES",
    "CHECK_TIMEOUT_SECONDS", "LIMIT_GLOBAL_CONCURRENCY", "REFRESH_AHEAD", "SECRET_KEY",
    "SENTRY_DSN", "LOG_FORMAT", "HOST", "PORT", "DATA_DIR",
)


def write_config(path: Path, hanging: list[int]) -> None:
    lines = ['[checks.p.ok]\nmodule = "audits.tests.checkmods.echo"\n'
             'params.url = "http://example.com"\nttl = 3600\n']
    for count in hanging:
        lines += [f'[checks.hang-{count}.h{i}]\nmodule = "audits.tests.checkmods.hostile"\n'
                  'params.how = "hang"\n' for i in range(count)]
    path.write_text("\n".join(lines))


def service_env(args, tmp: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        DEBUG="false", LOG_LEVEL="WARNING", ALLOWED_HOSTS="127.0.0.1", BUGTRACKER_URL="",
        CHECK_MODULES="checks.,audits.tests.checkmods.", CHECK_TIMEOUT_SECONDS=str(args.limit),
        CHECK_PROCESSES="64", LIMIT_GLOBAL_CONCURRENCY="64", REFRESH_AHEAD="false",
        DATA_DIR=str(tmp), PYTHONUNBUFFERED="1", **extra,
    )
    return env


def spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"{what} (exit {process.poll()})")
        time.sleep(0.1)


def get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def answers(port: int) -> bool:
    try:
        return get(port, "/__lbheartbeat__", timeout=2)[0] == 200
    except OSError:
        return False


def latencies(port: int, path: str, samples: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        timings.append(time.perf_counter() - started)
        if response.status != 200:
            raise BenchError(f"GET {path} answered {response.status}")
    conn.close()
    return timings


def figures(timings: list[float]) -> str:
    p99 = statistics.quantiles(timings, n=100)[98]
    return (f"p50 {statistics.median(timings) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
            f"max {max(timings) * 1000:6.1f} ms")


def measure(args, port: int, pgid: int, web_pgid: int, count: int, others: int) -> None:
    """Start `count` hangs, measure while they are all in progress, wait for them
    (`others`: the processes of the group `pgid` that are not check processes)."""
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(get(port, f"/checks/hang-{count}")))
    if count:
        thread.start()
        deadline = time.monotonic() + 60
        while group_size(pgid) - others < count:
            if time.monotonic() > deadline:
                raise BenchError(f"only {group_size(pgid) - others} of {count} hangs started")
            time.sleep(0.1)
    busy_before = time.monotonic()
    heartbeat = latencies(port, "/__lbheartbeat__", args.samples)
    cached = latencies(port, "/checks/p/ok", args.samples)
    elapsed = time.monotonic() - busy_before
    if count and not thread.is_alive():
        raise BenchError("the hangs ended before the measurement: raise --limit")
    others_busy = machine_busy(1.0)
    print(f"  {count:3d} hanging  heartbeat: {figures(heartbeat)}")
    print(f"               cached:    {figures(cached)}   ({elapsed:.1f} s; machine busy "
          f"{others_busy:.0%} just after)")
    if web_pgid != pgid and group_size(web_pgid) != 2:
        raise BenchError(f"{group_size(web_pgid) - 2} check processes in the web's group")
    if count:
        thread.join(args.limit + 60)
        status, body = outcome[0] if outcome else (None, b"")
        if status != 503 or b"Timed out" not in body:
            raise BenchError(f"GET /checks/hang-{count}: {status} {body[:200]!r}")


def run_embedded(args, tmp: Path) -> None:
    port = free_port()
    env = service_env(args, tmp, DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
                      HOST="127.0.0.1", PORT=str(port))
    manage(env, "migrate", "--noinput")
    manage(env, "import_config", str(tmp.parent / "config.toml"))
    serve = spawn([sys.executable, "manage.py", "serve"], env, tmp / "serve.log")
    try:
        wait_for(lambda: answers(port), 60, "serve did not answer", serve)
        run_all(args, port, serve.pid, serve.pid)
    finally:
        stop_process(serve)


def run_distributed(args, tmp: Path) -> None:
    redis, database = RedisServer(tmp), Database()
    procs = []
    try:
        port = free_port()
        env = service_env(args, tmp, DATABASE_URL=database.url, REDIS_URL=redis.url,
                          SECRET_KEY="bench-hanging-not-a-secret")
        manage(env, "migrate", "--noinput")
        manage(env, "import_config", str(tmp.parent / "config.toml"))
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        web = spawn([gunicorn, "telescope_site.wsgi:application", "--bind", f"127.0.0.1:{port}",
                     "--workers", "1", "--threads", "16"], env, tmp / "web.log")
        worker = spawn([*celery_command(), "-A", "telescope_site", "worker", "--pool", "threads",
                        "--concurrency", "4", "--without-gossip", "--without-mingle"],
                       env, tmp / "worker.log")
        procs += [web, worker]
        wait_for(lambda: answers(port), 60, "gunicorn did not answer", web)
        run_all(args, port, worker.pid, web.pid)
    finally:
        for proc in procs:
            stop_process(proc)
        redis.stop()
        database.drop()


def run_all(args, port: int, pgid: int, web_pgid: int) -> None:
    status, body = get(port, "/checks/p/ok", timeout=60)
    if status != 200:
        raise BenchError(f"GET /checks/p/ok: {status} {body[:200]!r}")
    others = group_size(pgid) - 1  # besides the one idle check process of p/ok's run
    for count in args.hanging:
        measure(args, port, pgid, web_pgid, count, others)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hanging", default="0,50",
                        type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--modes", default="embedded,distributed", type=lambda s: s.split(","))
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-hanging-"))
    write_config(tmp / "config.toml", args.hanging)
    print(f"Machine busy before: {machine_busy(1.0):.0%}; {args.samples} sequential GETs each")
    try:
        for mode in args.modes:
            print(f"{mode}:")
            (tmp / mode).mkdir()
            {"embedded": run_embedded, "distributed": run_distributed}[mode](args, tmp / mode)
    except BenchError as exc:
        print(f"FAILED: {exc}  (logs in {tmp})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
