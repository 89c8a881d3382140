#!/usr/bin/env python
"""
Benchmark of Periskop's API under load: `GET /services/{service}/errors/` of a
service with 10,000 error groups, read by 16 connections at once, while a load
balancer probes `/__lbheartbeat__`.

    .venv/bin/python bench/bench_errors_api.py [--groups 10000] [--connections 16]
        [--duration 15] [--database sqlite|postgres] [--anonymous-rate RATE]
        [--identity] [--force] [--keep]

Goals (issue 11): the API answers in 50 ms or less at p50 under 16 connections,
while `/__lbheartbeat__` stays under 100 ms at p99.

What it does, all on 127.0.0.1, in a temporary folder removed at the end:

1. **Database**: a SQLite file (the embedded mode, default), or a private
   PostgreSQL database (`--database postgres`, dropped at the end); `migrate`.
2. **Seed** (`manage.py shell`): a service `big` (disabled, so that no scrape
   changes it meanwhile) with `--groups` active error groups, each with one
   occurrence as the Python client sends them (a 12-line stack trace, an HTTP
   context with headers, a credential among them, and a body).
3. **Server**: the README's production command, `manage.py serve` (gunicorn, one
   worker, 16 threads), with `DEBUG=false`, `LOG_LEVEL=WARNING` and
   `ERRORS_ANONYMOUS_RATE` set to `--anonymous-rate` (default `100000/second`: the
   16 readers come from one address, and the figure wanted is the cost of serving
   them; give e.g. `10/second`, the service's default, to see the rate limit
   answer them 429 instead).
4. **First request**: one `GET /services/big/errors/`, which renders the answer
   and stores it (a scrape does that in production); its time and size.
5. **Load**: a separate process (`_load`) opens `--connections` keep-alive
   connections, each reading `/services/big/errors/` with `Accept-Encoding: gzip`
   (as browsers, Backstage's fetch, Go and `requests` send it; `--identity`
   asks for the uncompressed answer instead) in a loop for a 2 s warm-up
   and `--duration` s; meanwhile this process probes `/__lbheartbeat__` every 20 ms
   on a new connection each time, as a load balancer does. Reported: p50, p99 and
   requests/s of the API, the statuses it answered; p50, p99 and max of the
   heartbeat; the server's RSS before and after the load, and its CPU time per
   request (a figure that other work on the machine hardly changes); each
   beside its goal.

Beside the figures: how busy the machine was before starting (over 10%:
something else runs, the figures are low). It refuses to start on a busy machine
unless `--force`.

Exit status: 0 when every answer was as expected (the goals are reported, not
enforced), 1 otherwise.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_hanging import answers, get, service_env, spawn, wait_for
from bench_scheduler import BenchError, Database, free_port, machine_busy, stop_process

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "big"
PATH = f"/services/{SERVICE}/errors/"
WARMUP_SECONDS = 2.0
PROBE_INTERVAL = 0.02
GOAL_API_P50 = 0.050
GOAL_HEARTBEAT_P99 = 0.100

SEED = """
import uuid
from datetime import timedelta
from django.utils import timezone
from errors.models import ErrorGroup, Occurrence, Service

count = {groups}
service = Service.objects.create(name="{service}", enabled=False)
now = timezone.now()
stack = ["Traceback (most recent call last):"] + [
    f'  File "/srv/app/module_{{i}}.py", line {{10 * i}}, in handler_{{i}}' for i in range(11)
]
for start in range(0, count, 1000):
    rows = [
        ErrorGroup(service=service, aggregation_key=f"ValueError@{{i:08x}}", total_count=i + 1,
                   first_seen=now - timedelta(days=1), last_seen=now - timedelta(seconds=i),
                   error_class="ValueError", message=f"invalid value {{i}}")
        for i in range(start, min(start + 1000, count))
    ]
    ErrorGroup.objects.bulk_create(rows)
groups = ErrorGroup.objects.filter(service=service).values_list("pk", "last_seen", "message")
Occurrence.objects.bulk_create(
    [Occurrence(group_id=pk, uuid=str(uuid.uuid4()), timestamp=seen, error_class="ValueError",
                message=message, stacktrace=stack + [f"ValueError: {{message}}"],
                http_context={{"request_method": "POST", "request_url": "https://shop/cart",
                              "request_headers": {{"Accept": "application/json",
                                                   "Authorization": "Bearer not-shown"}},
                              "request_body": "{{}}"}})
     for pk, seen, message in groups],
    batch_size=1000,
)
print(ErrorGroup.objects.filter(service=service).count())
"""


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def rss_mib(pid: int) -> float:
    """RSS of `pid` and its children (gunicorn's master and worker), MiB."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of `pid` and its children, from /proc."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    kids = [int(p) for p in found]
    return kids + [g for k in kids for g in _children(k)]


# --- the load, in its own process ------------------------------------------------------


def load_main(port: int, connections: int, duration: float, encoding: str) -> None:
    """`_load`: `connections` threads reading PATH; prints the figures as JSON."""
    timings: list[list[float]] = [[] for _ in range(connections)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = time.monotonic()
    measure_from, stop_at = start + WARMUP_SECONDS, start + WARMUP_SECONDS + duration

    def reader(mine: list[float]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop_at:
            began = time.monotonic()
            conn.request("GET", PATH, headers={"Accept-Encoding": encoding})
            response = conn.getresponse()
            response.read()
            if began >= measure_from:
                mine.append(time.monotonic() - began)
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=reader, args=(t,)) for t in timings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"timings": [x for t in timings for x in t], "statuses": statuses,
                      "seconds": duration}))


def probe(port: int, until: float, out: list[float], failures: list[str]) -> None:
    while time.monotonic() < until:
        began = time.monotonic()
        try:
            status, _ = get(port, "/__lbheartbeat__", timeout=30)
            if status != 200:
                failures.append(f"/__lbheartbeat__ answered {status}")
        except OSError as exc:
            failures.append(f"/__lbheartbeat__: {exc}")
        out.append(time.monotonic() - began)
        time.sleep(max(0.0, PROBE_INTERVAL - (time.monotonic() - began)))


# --- the run ------------------------------------------------------------------------


def manage(env: dict, *args: str, timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise BenchError(f"manage.py {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def run(args, tmp: Path, database_url: str) -> bool:
    port = free_port()
    env = service_env(
        argparse.Namespace(limit=60), tmp, DATABASE_URL=database_url, SECRET_KEY="bench-only",
        HOST="127.0.0.1", PORT=str(port), ERRORS_ANONYMOUS_RATE=args.anonymous_rate,
        SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false",
    )
    manage(env, "migrate", "--noinput")
    started = time.monotonic()
    seeded = manage(env, "shell", "-c", SEED.format(groups=args.groups, service=SERVICE)).split()[-1]
    print(f"seeded {int(seeded):,} groups with one occurrence each in {time.monotonic() - started:.1f} s")
    server = spawn([sys.executable, "manage.py", "serve"], env, tmp / "server.log")
    try:
        wait_for(lambda: answers(port), 60, "the server did not answer", server)
        return measure(args, port, server)
    finally:
        stop_process(server)


def measure(args, port: int, server) -> bool:
    began = time.monotonic()
    status, body = get(port, PATH, timeout=300)
    first = time.monotonic() - began
    if status != 200 or len(json.loads(body)) != args.groups:
        raise BenchError(f"first GET {PATH}: {status}, {len(body)} bytes")
    print(f"first request (renders and stores the answer): {first:.2f} s, {len(body) / 1e6:.2f} MB")
    rss_before = rss_mib(server.pid)
    cpu_before = cpu_seconds(server.pid)
    load = subprocess.Popen(
        [sys.executable, __file__, "_load", str(port), str(args.connections), str(args.duration),
         "identity" if args.identity else "gzip"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    heartbeats: list[float] = []
    failures: list[str] = []
    probe(port, time.monotonic() + WARMUP_SECONDS, [], failures)  # the warm-up
    probe(port, time.monotonic() + args.duration, heartbeats, failures)
    output, _ = load.communicate(timeout=args.duration + 120)
    result = json.loads(output)
    rss_after = rss_mib(server.pid)
    cpu = cpu_seconds(server.pid) - cpu_before
    timings, statuses = result["timings"], {int(k): v for k, v in result["statuses"].items()}
    # Every answer is timed, whatever its status: the statuses say which they were.
    api_p50, api_p99 = percentile(timings, 50), percentile(timings, 99)
    hb_p50, hb_p99 = percentile(heartbeats, 50), percentile(heartbeats, 99)
    encoding = "uncompressed" if args.identity else "gzip"
    print(f"\nPeriskop API, {args.groups:,} groups, {args.connections} connections, {encoding}, "
          f"{args.duration:g} s (ERRORS_ANONYMOUS_RATE={args.anonymous_rate}):")
    print(f"  p50 {ms(api_p50)}   goal <= 50 ms: {verdict(api_p50 <= GOAL_API_P50)}")
    print(f"  p99 {ms(api_p99)}, {len(timings) / args.duration:.0f} requests/s, statuses {statuses}")
    print(f"/__lbheartbeat__ meanwhile ({len(heartbeats)} probes, a new connection each):")
    print(f"  p99 {ms(hb_p99)}   goal < 100 ms: {verdict(hb_p99 < GOAL_HEARTBEAT_P99)}")
    print(f"  p50 {ms(hb_p50)}, max {ms(max(heartbeats))}")
    print(f"server RSS (gunicorn master and worker): {rss_before:.0f} MiB before the load, "
          f"{rss_after:.0f} MiB after")
    # Independent of what else runs on the machine: the server's own cost.
    requests_made = len(timings) * (1 + WARMUP_SECONDS / args.duration) + len(heartbeats)
    print(f"server CPU: {cpu:.1f} s over the load, about {cpu / max(requests_made, 1) * 1000:.1f} ms "
          f"a request (warm-up included, estimated)")
    unexpected = {s: n for s, n in statuses.items() if s not in (200, 429)}
    for problem in failures[:5] + ([f"unexpected statuses {unexpected}"] if unexpected else []):
        print(f"PROBLEM: {problem}")
    return not failures and not unexpected


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_load"]:
        load_main(int(argv[1]), int(argv[2]), float(argv[3]), argv[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--anonymous-rate", default="100000/second")
    parser.add_argument("--identity", action="store_true", help="ask for the answer uncompressed")
    parser.add_argument("--force", action="store_true", help="run on a busy machine")
    parser.add_argument("--keep", action="store_true", help="keep the folder and the database")
    args = parser.parse_args(argv)
    busy = machine_busy()
    print(f"CPU busy before starting: {busy:.0%}")
    if busy > 0.1 and not args.force:
        print("Something else is running: the figures would be low. Use --force to run anyway.")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-errors-api-"))
    database = Database() if args.database == "postgres" else None
    url = database.url if database else f"sqlite:///{tmp / 'db.sqlite3'}"
    try:
        return 0 if run(args, tmp, url) else 1
    except BenchError as exc:
        print(f"FAILED: {exc}")
        return 1
    finally:
        if args.keep:
            print(f"kept {tmp}" + (f" and {url}" if database else ""))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if database:
                database.drop()


if __name__ == "__main__":
    sys.exit(main())
