#!/usr/bin/env python
"""
Benchmark of the errors app (Periskop-compatible): scraping many instances, and
push ingestion under gunicorn.

    .venv/bin/python bench/bench_errors.py [--instances 50,200,500] [--errors 100]
        [--samples 3] [--distinct-keys] [--database postgres|sqlite]
        [--connections 8] [--duration 15] [--push-keys 10] [--push-samples 10]
        [--push-pool 100] [--workers 2] [--threads 8] [--shard-size 50]
        [--skip-scrape] [--skip-workers] [--skip-push] [--keep] [--profile PREFIX]
        [--force]

It refuses to run while the load average is over 1.5 (the figures would be the
other processes'), unless --force.

What it does, all on 127.0.0.1 (PostgreSQL on 127.0.0.1:5432, user postgres, or
SQLite in a temporary folder):

1. **Database**: a private PostgreSQL database `telescope_bench_errors_<pid>`
   (dropped at the end) or a SQLite file, then `manage.py migrate`.
2. **Instances**: ONE separate process (`_serve`) runs an asyncio HTTP/1.1 server
   listening on one port per instance (max of --instances ports), so that the
   scraper's memory holds nothing of theirs. Every instance serves a pre-rendered
   document (Content-Length, keep-alive, as periskop-go does; the Python client
   answers HTTP/1.0 without length, which only costs a connection per scrape).
   The documents come from the real `periskop_client` (0.2.0): it is made to
   report `--errors` distinct exceptions (`--samples` times each, with an HTTP
   context) once; its export is the template of every instance, which then gets
   its own `target_uuid` and occurrence uuids (uuid1, as the client), its own
   millisecond timestamps (all distinct, within minutes before the start) and its own
   `total_count`s (samples + 0..40). By default every instance reports the SAME
   `--errors` aggregation keys (replicas of one service: `--errors` groups, N
   TargetCount rows each); `--distinct-keys` gives each instance its own keys
   (N x `--errors` groups).
3. **Scrape**, for each N of --instances, in a FRESH subprocess (`_scrape`), so
   that its peak RSS is this run's alone: Django set up against the bench
   database (DEBUG=false), a new Service `scrape-<N>` whose `static_configs`
   lists the first N instances, then `errors.scraper.scrape(service)` twice:
   a **cold** cycle (every group, count and sample is new) and a **warm** one
   (nothing changed: nothing to add). For each: wall time, the process's CPU,
   its PostgreSQL backend's CPU (from /proc), the time spent inside
   `aggregation.merge` (main thread), the SQL statements run, and VmHWM (peak
   RSS, from /proc/self/status) right after; and the RSS after Django setup
   (baseline), so that the scrape's own growth shows. It checks the result is
   exact: all N targets up, the increment and the stored sum of `total_count`
   equal to what the instances serve, nothing added by the warm cycle.
   Then peak(max N) / peak(min N) (the aim: 1.1 or less). `--profile PREFIX`
   writes a cProfile of each cycle's main thread to PREFIX.<N>.<cycle>.
4. **Workers** (`--skip-workers` to skip): a private `redis-server` on a free
   port, then for 1 and then 2 Celery workers (`celery -A telescope_site worker
   --concurrency 1`, one process each, `ERRORS_SCRAPE_SHARD_SIZE=--shard-size`),
   a fresh process (`_celery`) makes a Service of the max N instances and sends
   one `scrape_service` through the broker per cycle (cold, then warm): the
   cycle's time runs until every target was scraped and released, i.e. every
   shard task finished. Checked: all up, stored sum = what the instances serve.
   The table gives both cycles with 1 and 2 workers and their ratio (the aim:
   1.7 or more), beside the goals (warm <= 5 s, cold <= 10 s).
5. **Push**: `gunicorn telescope_site.wsgi:application --workers 2 --threads 8`
   (DEBUG=false, SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, LOG_LEVEL=WARNING, the
   bench DATABASE_URL), a user and its `rest_framework.authtoken` Token made with
   `manage.py shell -c`, a Service `push-bench`; then ONE client process
   (`_push`), `--connections` threads each with one keep-alive connection,
   POSTs `/services/push-bench/push/` with `Authorization: Token <key>` for a
   2 s warm-up and `--duration` s. Each POST is one batch-job run: its own
   target_uuid, `--push-keys` keys drawn at random from a pool of `--push-pool`
   (same real-client template), each with `--push-samples` new occurrences
   (new uuids, timestamp now) and total_count = `--push-samples`: 100
   occurrences per POST by default. Reported: occurrences ingested per second
   (sum of the answers' `increment` over the measured window / its length; the
   aim: 300/s or more), POST/s, latency p50/p99, errors; then checked against
   the database: the sum of `total_count` of the service's groups must equal the
   sum of all increments answered (warm-up included), and the TargetCount rows
   POSTs x keys; stored Occurrence rows are shown too (capped at
   ERRORS_MAX_OCCURRENCES per group, so at most pool x 100).

Beside the figures: the machine's CPU busy share just before each phase (over
10% means something else is running: the figures are low), and gunicorn's CPU.

Stopping (Ctrl-C included) stops every process it started and drops the
database (`--keep` keeps the temporary folder with the logs, and the database).
Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import asyncio
import cProfile
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PUSH_SERVICE = "push-bench"
WARMUP_SECONDS = 2.0
# Settings that would change what is measured if the caller's environment had
# them: every process starts from the service's defaults.
SERVICE_VARIABLES = (
    "REDIS_URL", "DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "LOG_LEVEL",
    "LOG_FORMAT", "SENTRY_DSN", "CELERY_BROKER_URL", "CONFIG_FILE", "EMBEDDED_WORKERS",
    "ERRORS_MAX_OCCURRENCES", "ERRORS_RETENTION_DAYS", "ERRORS_ANONYMOUS_RESOLVE",
    "ERRORS_SCRAPE_TIMEOUT_SECONDS", "ERRORS_SCRAPE_CONCURRENCY", "ERRORS_MAX_BODY_BYTES",
    "ERRORS_SCRAPE_SHARD_SIZE", "REDIS_KEY_PREFIX",
    "DJANGO_SETTINGS_MODULE",
)
EXCEPTIONS = (ValueError, KeyError, RuntimeError, TypeError, LookupError, OSError,
              ZeroDivisionError, AttributeError, IndexError, PermissionError)


# The goals of issue 13 (one service of 500 instances x 100 keys) and of issue 12
# (two workers at least 1.7 times as fast as one).
WARM_GOAL, COLD_GOAL, WORKERS_GOAL = 5.0, 10.0, 1.7
MAX_LOAD = 1.5


class BenchError(Exception):
    """Something that makes the figures meaningless: stop and say what."""


# --- small helpers -------------------------------------------------------------------


def proc_status_kib(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy since boot."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process, those already exited included
    (through the postmaster's cutime/cstime); other databases' work too."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


def machine_busy(seconds: float = 1.0) -> float:
    def sample():
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def say_busy(phase: str) -> float:
    busy = machine_busy()
    warn = "  WARNING: something else is running; the figures will be low" if busy > 0.1 else ""
    print(f"[{phase}] CPU busy before: {busy:.0%} of {os.cpu_count()} CPUs{warn}", flush=True)
    return busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso_ms(moment: datetime) -> str:
    """The Python client's timestamp format: 2024-01-02T03:04:05.678Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    if process is None:
        return
    if process.poll() is None:
        try:
            process.terminate()
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # whatever is left in its session (gunicorn workers)
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        pass


# --- the payloads: the real client's export as a template ---------------------------


def client_template(errors: int, samples: int) -> dict:
    """The JSON a real periskop_client serves after reporting `errors` distinct
    exceptions `samples` times each (with an HTTP context)."""
    sys.path.insert(0, str(ROOT))
    from errors.tests.periskop_instance import PeriskopInstance

    instance = PeriskopInstance()  # not started: only its collector is used
    try:
        for k in range(errors):
            kind = EXCEPTIONS[k % len(EXCEPTIONS)]
            instance.report(
                kind(f"bench error {k}: something went wrong while handling item {k * 7919}"),
                times=samples,
                http_context={
                    "request_method": "POST",
                    "request_url": f"http://api.example.com/v1/items/{k}",
                    "request_headers": {"Content-Type": "application/json", "User-Agent": "bench"},
                    "request_body": json.dumps({"item": k}),
                },
            )
        document = instance.payload()
    finally:
        instance._server.server_close()  # never started: stop() would wait for it
    if len(document["aggregated_errors"]) != errors:
        raise BenchError(f"the client made {len(document['aggregated_errors'])} keys, not {errors}")
    return document


def instance_document(template: dict, index: int, samples: int, distinct: bool,
                      base: datetime, rng: random.Random) -> tuple[bytes, int]:
    """One instance's body (its own target_uuid, uuids, timestamps, counts) and
    the sum of its total_counts."""
    aggregates, total = [], 0
    for k, aggregate in enumerate(template["aggregated_errors"]):
        key = aggregate["aggregation_key"]
        if distinct:
            key = f"{key.split('@')[0]}@{uuid.uuid5(uuid.NAMESPACE_OID, f'{index}/{k}').hex[:8]}"
        sample = aggregate["latest_errors"][0]
        latest = []
        for j in range(samples):
            # All distinct: one millisecond between two samples of the run.
            moment = base - timedelta(milliseconds=(index * len(template['aggregated_errors']) + k) * samples + j)
            latest.append(sample | {"uuid": str(uuid.uuid1()), "timestamp": iso_ms(moment)})
        count = samples + rng.randrange(41)
        total += count
        aggregates.append({
            "aggregation_key": key,
            "latest_errors": latest,
            "total_count": count,
            "severity": aggregate["severity"],
            "created_at": latest[-1]["timestamp"],
        })
    document = {"aggregated_errors": aggregates, "target_uuid": str(uuid.uuid1())}
    return json.dumps(document, indent=None).encode(), total


# --- the instances: one process, one asyncio server per port -------------------------


def serve_main(args) -> None:
    """`_serve`: build `--count` documents, listen on one port each, write the
    manifest, serve until SIGTERM."""
    template = client_template(args.errors, args.samples)
    Path(args.template).write_text(json.dumps(template))
    rng = random.Random(1)
    base = datetime.now(UTC) - timedelta(seconds=5)
    bodies, manifest = [], []
    for i in range(args.count):
        body, total = instance_document(template, i, args.samples, args.distinct_keys, base, rng)
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        bodies.append(head + body)
        manifest.append({"total": total, "bytes": len(body)})

    async def handle(reader, writer, response: bytes):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"GET /errors"):
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(response)
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def run():
        servers = []
        for i, response in enumerate(bodies):
            server = await asyncio.start_server(
                lambda r, w, response=response: handle(r, w, response),
                "127.0.0.1", 0, backlog=512)
            servers.append(server)
            manifest[i]["address"] = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        ready = Path(args.manifest + ".tmp")
        ready.write_text(json.dumps(manifest))
        ready.rename(args.manifest)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        for server in servers:
            server.close()

    asyncio.run(run())


# --- one scrape run: a fresh process per N -------------------------------------------


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telescope_site.settings")
    import django

    django.setup()


def scrape_main(args) -> None:
    """`_scrape`: Django, a Service of the first `--count` instances, a cold and a
    warm scrape; prints one JSON line."""
    django_setup()
    from django.db import connection
    from django.db.models import Sum

    from errors import aggregation, scraper
    from errors.models import ErrorGroup, Occurrence, Service, TargetCount

    manifest = json.loads(Path(args.manifest).read_text())[: args.count]
    expected = sum(m["total"] for m in manifest)
    vendor = connection.vendor
    backend_pid = None
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]
    Service.objects.filter(name=args.service).delete()
    service = Service.objects.create(
        name=args.service,
        discovery={"static_configs": [{"targets": [m["address"] for m in manifest]}]},
    )
    statements = [0]

    def count_statements(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    ingest_time = [0.0]
    real_merge = aggregation.merge

    def timed_merge(*a, **kw):
        started = time.perf_counter()
        try:
            return real_merge(*a, **kw)
        finally:
            ingest_time[0] += time.perf_counter() - started

    aggregation.merge = timed_merge  # scraper calls aggregation.merge by attribute
    baseline_rss = proc_status_kib("VmRSS")
    baseline_hwm = proc_status_kib("VmHWM")
    result = {"n": args.count, "expected": expected, "baseline_rss_kib": baseline_rss,
              "baseline_hwm_kib": baseline_hwm, "payload_bytes": manifest[0]["bytes"],
              "cycles": []}
    for cycle in ("cold", "warm"):
        statements[0], ingest_time[0] = 0, 0.0
        occurrences_before = Occurrence.objects.filter(group__service=service).count()
        db_cpu0 = cpu_seconds(backend_pid) if backend_pid else 0.0
        machine0, server0, pg0 = machine_cpu(), cpu_seconds(args.server_pid), postgres_cpu()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        profile = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        with connection.execute_wrapper(count_statements):
            if profile:
                profile.enable()
            report = scraper.scrape(service)
            if profile:
                profile.disable()
        wall = time.perf_counter() - started
        if profile:
            profile.dump_stats(f"{args.profile}.{args.count}.{cycle}")
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        db_cpu = (cpu_seconds(backend_pid) - db_cpu0) if backend_pid else None
        own = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        server_cpu = cpu_seconds(args.server_pid) - server0
        others = machine_cpu() - machine0 - own - server_cpu - (postgres_cpu() - pg0)
        hwm, rss = proc_status_kib("VmHWM"), proc_status_kib("VmRSS")
        groups = ErrorGroup.objects.filter(service=service)
        stored_sum = groups.aggregate(s=Sum("total_count"))["s"] or 0
        result["cycles"].append({
            "cycle": cycle, "wall": wall,
            "cpu": own, "server_cpu": server_cpu,
            "others": max(others, 0.0) / (wall * (os.cpu_count() or 1)),
            "db_cpu": db_cpu, "ingest": ingest_time[0], "statements": statements[0],
            "hwm_kib": hwm, "rss_kib": rss, "targets": report.targets, "up": report.up,
            "increment": report.increment, "errors": report.errors[:3],
            "target_errors": list(service.targets.exclude(last_error="")
                                  .values_list("last_error", flat=True)[:3]),
            "groups": groups.count(), "stored_sum": stored_sum,
            "new_occurrences": Occurrence.objects.filter(group__service=service).count()
            - occurrences_before,
            "occurrences": Occurrence.objects.filter(group__service=service).count(),
            "target_counts": TargetCount.objects.filter(group__service=service).count(),
        })
    result["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps(result), flush=True)


# --- one sharded scrape by Celery workers: a fresh process per worker count -----------


def celery_main(args) -> None:
    """`_celery`: a Service of the first `--count` instances, scraped twice (cold,
    warm) by the Celery workers already running: one `scrape_service` sent to the
    broker, then the time until every target was scraped and released (the shards
    all done); prints one JSON line."""
    django_setup()
    from django.db.models import Sum
    from django.utils import timezone

    from errors import tasks
    from errors.models import ErrorGroup, Service, Target

    manifest = json.loads(Path(args.manifest).read_text())[: args.count]
    expected = sum(m["total"] for m in manifest)
    Service.objects.filter(name=args.service).delete()
    service = Service.objects.create(
        name=args.service,
        discovery={"static_configs": [{"targets": [m["address"] for m in manifest]}]},
    )
    result = {"n": args.count, "expected": expected, "cycles": []}
    for cycle in ("cold", "warm"):
        since = timezone.now()
        started = time.perf_counter()
        tasks.scrape_service.apply_async((service.pk,))
        targets = Target.objects.filter(service=service)
        while (targets.filter(last_scrape_at__gte=since, claimed_by="").count() < args.count):
            if time.perf_counter() - started > 900:
                raise BenchError(f"the {cycle} scrape by the workers did not end in 900 s")
            time.sleep(0.1)
        wall = time.perf_counter() - started
        result["cycles"].append({
            "cycle": cycle, "wall": wall,
            "up": targets.filter(status="up").count(),
            "stored_sum": ErrorGroup.objects.filter(service=service)
            .aggregate(s=Sum("total_count"))["s"] or 0,
        })
    print("RESULT " + json.dumps(result), flush=True)


# --- the push client -------------------------------------------------------------------


def push_main(args) -> None:
    """`_push`: `--connections` keep-alive connections POSTing batch-job payloads;
    prints one JSON line."""
    template = json.loads(Path(args.template).read_text())
    pool = template["aggregated_errors"][: args.push_pool]
    if len(pool) < args.push_keys:
        raise BenchError(f"--push-pool {len(pool)} is smaller than --push-keys {args.push_keys}")
    # Per key, the aggregate as JSON text with placeholders: @R@ (this POST),
    # @TS@ (now); uuids @R@-<key>-<sample>, uuid1-shaped.
    fragments = []
    for k, aggregate in enumerate(pool):
        sample = aggregate["latest_errors"][0]
        latest = [sample | {"uuid": f"@R@-{k:04x}-11f1-{j:04x}-0242ac120002", "timestamp": "@TS@"}
                  for j in range(args.push_samples)]
        fragments.append(json.dumps({
            "aggregation_key": aggregate["aggregation_key"], "latest_errors": latest,
            "total_count": args.push_samples, "severity": aggregate["severity"],
            "created_at": "@TS@",
        }))
    path = f"/services/{PUSH_SERVICE}/push/"
    headers = {"Authorization": f"Token {args.token}", "Content-Type": "application/json"}
    counter = iter(range(1, 1 << 62))
    counter_lock = threading.Lock()
    start = time.perf_counter()
    measure_from = start + WARMUP_SECONDS
    stop_at = measure_from + args.duration
    records: list[tuple] = []  # (started, ended, status, increment, new_occurrences)
    failures: list[str] = []

    def body() -> bytes:
        with counter_lock:
            n = next(counter)
        rng = random.Random(n)
        keys = rng.sample(range(len(fragments)), args.push_keys)
        text = ('{"aggregated_errors": [' + ", ".join(fragments[k] for k in keys)
                + '], "target_uuid": "@R@-0000-11f1-0000-0242ac120002"}')
        return (text.replace("@R@", f"{os.getpid() & 0xffff:04x}{n:04x}"[-8:].rjust(8, "0"))
                .replace("@TS@", iso_ms(datetime.now(UTC))).encode())

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        while time.perf_counter() < stop_at:
            data = body()
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
                continue
            ended = time.perf_counter()
            increment = new = 0
            if status == 200:
                merged = json.loads(answer)
                increment, new = merged["increment"], merged["new_occurrences"]
            elif len(failures) < 20:
                failures.append(f"HTTP {status}: {answer[:200]!r}")
            records.append((started, ended, status, increment, new))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measured = [r for r in records if r[0] >= measure_from and r[1] <= stop_at]
    window = args.duration
    ok = [r for r in measured if r[2] == 200]
    print("RESULT " + json.dumps({
        "posts": len(measured), "ok": len(ok), "window": window,
        "posts_per_s": len(ok) / window,
        "occurrences_per_s": sum(r[3] for r in ok) / window,
        "samples_per_s": sum(r[4] for r in ok) / window,
        "p50_ms": percentile([(r[1] - r[0]) * 1000 for r in ok], 0.50),
        "p99_ms": percentile([(r[1] - r[0]) * 1000 for r in ok], 0.99),
        "all_posts": len(records), "all_ok": sum(1 for r in records if r[2] == 200),
        "all_increment": sum(r[3] for r in records if r[2] == 200),
        "all_new_occurrences": sum(r[4] for r in records if r[2] == 200),
        "failures": failures[:5], "failure_count": len(failures)
        + sum(1 for r in records if r[2] != 200),
        "body_bytes": len(body()),
        "own_cpu": sum(os.times()[:2]),
    }), flush=True)


# --- the orchestration ---------------------------------------------------------------


class Database:
    def __init__(self, kind: str, folder: Path):
        self.kind = kind
        if kind == "sqlite":
            self.name = str(folder / "db.sqlite3")
            self.url = f"sqlite:///{self.name}"
            return
        import psycopg

        self.psycopg = psycopg
        self.name = f"telescope_bench_errors_{os.getpid()}"
        self.url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"
        try:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.Error as exc:
            raise BenchError(f"cannot create the database on {PG_HOST}:{PG_PORT}: {exc}") from None

    def _admin(self):
        return self.psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER,
                                    dbname="postgres", autocommit=True)

    def drop(self) -> None:
        if self.kind == "postgres":
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def service_env(database_url: str, folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        DATABASE_URL=database_url, DEBUG="false", SECRET_KEY="bench-errors-not-a-secret",
        ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING",
        CONFIG_FILE=str(folder / "config.toml"), PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict, *arguments: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError(f"manage.py {arguments[0]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def child_result(process: subprocess.Popen, what: str, timeout: float) -> dict:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(process)
        raise BenchError(f"{what} took more than {timeout:.0f} s") from None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise BenchError(f"{what} failed (exit {process.returncode}):\n{err[-3000:]}")


class Bench:
    def __init__(self, args, folder: Path):
        self.args, self.folder = args, folder
        self.processes: list[subprocess.Popen] = []
        self.problems: list[str] = []

    def spawn(self, argv: list[str], env: dict | None = None, log: str | None = None,
              **kwargs) -> subprocess.Popen:
        out = open(self.folder / log, "w") if log else subprocess.PIPE  # noqa: SIM115
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT if log else subprocess.PIPE,
                                   text=True, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)
            print(f"  CHECK FAILED: {message}", flush=True)

    # --- instances ---

    def start_instances(self, count: int) -> list[dict]:
        manifest = self.folder / "instances.json"
        template = self.folder / "template.json"
        argv = [PYTHON, __file__, "_serve", "--count", str(count), "--errors", str(self.args.errors),
                "--samples", str(self.args.samples), "--manifest", str(manifest),
                "--template", str(template)]
        if self.args.distinct_keys:
            argv.append("--distinct-keys")
        process = self.spawn(argv, env=service_env("", self.folder), log="instances.log")
        deadline = time.monotonic() + 300
        while not manifest.exists():
            if process.poll() is not None:
                raise BenchError(f"the instances server died: {(self.folder / 'instances.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise BenchError("the instances server did not start in 300 s")
            time.sleep(0.2)
        self.instances_pid = process.pid
        return json.loads(manifest.read_text())

    # --- scrape ---

    def scrape_runs(self, env: dict) -> list[dict]:
        results = []
        for n in self.args.instances:
            say_busy(f"scrape {n}")
            profile = ["--profile", self.args.profile] if self.args.profile else []
            process = self.spawn([PYTHON, __file__, "_scrape", *profile, "--count", str(n),
                                  "--service", f"scrape-{n}",
                                  "--manifest", str(self.folder / "instances.json"),
                                  "--server-pid", str(self.instances_pid)], env=env)
            result = child_result(process, f"the scrape of {n} instances", 1800)
            self.show_scrape(result)
            results.append(result)
        return results

    def show_scrape(self, r: dict) -> None:
        n = r["n"]
        groups = self.args.errors * (n if self.args.distinct_keys else 1)
        for c in r["cycles"]:
            db = f"{c['db_cpu']:.2f}" if c["db_cpu"] is not None else "n/a"
            print(f"  N={n} {c['cycle']}: {c['wall']:.2f} s wall, {c['cpu']:.2f} s CPU "
                  f"(DB backend {db} s), merge {c['ingest']:.2f} s, {c['statements']} SQL, "
                  f"peak RSS {c['hwm_kib'] / 1024:.1f} MiB; up {c['up']}/{c['targets']}, "
                  f"+{c['increment']}, {c['new_occurrences']:+d} samples, {c['groups']} groups; "
                  f"instances' CPU {c['server_cpu']:.2f} s, other processes {c['others']:.0%} of the machine",
                  flush=True)
            if c["errors"] or c["target_errors"]:
                print(f"    errors: {c['errors']} {c['target_errors']}")
        cold, warm = r["cycles"]
        self.check(cold["up"] == n and warm["up"] == n, f"N={n}: not every target was up")
        self.check(cold["increment"] == r["expected"] == cold["stored_sum"],
                   f"N={n}: cold increment {cold['increment']} / stored {cold['stored_sum']} "
                   f"!= served {r['expected']}")
        self.check(warm["increment"] == 0 and warm["stored_sum"] == r["expected"],
                   f"N={n}: the warm cycle added {warm['increment']}")
        self.check(warm["new_occurrences"] == 0,
                   f"N={n}: the warm cycle changed the stored samples by {warm['new_occurrences']}")
        self.check(cold["groups"] == groups, f"N={n}: {cold['groups']} groups, expected {groups}")

    # --- sharded scrapes by Celery workers ---

    def start_redis(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise BenchError("redis-server is not on PATH (apt-get install redis-server)")
        port = free_port()
        self.spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no"], log="redis.log")
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return f"redis://127.0.0.1:{port}/0"
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("redis-server did not answer in 30 s")
            time.sleep(0.1)

    def start_workers(self, env: dict, count: int) -> list[subprocess.Popen]:
        workers = []
        for k in range(count):
            log = f"worker-{count}-{k}.log"
            workers.append(self.spawn(
                [str(ROOT / ".venv/bin/celery"), "-A", "telescope_site", "worker",
                 "--concurrency", "1", "--loglevel", "INFO", "-n", f"bench{count}-{k}@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env=env, log=log))
        deadline = time.monotonic() + 120
        for k, worker in enumerate(workers):
            log = self.folder / f"worker-{count}-{k}.log"
            while "ready." not in log.read_text():
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"a Celery worker did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        return workers

    def celery_runs(self, env: dict) -> list[dict]:
        n = max(self.args.instances)
        env = {**env, "REDIS_URL": self.start_redis(),
               "ERRORS_SCRAPE_SHARD_SIZE": str(self.args.shard_size)}
        results = []
        for count in (1, 2):
            workers = self.start_workers(env, count)
            say_busy(f"{count} worker(s), {n} instances")
            process = self.spawn([PYTHON, __file__, "_celery", "--count", str(n),
                                  "--service", f"celery-{count}",
                                  "--manifest", str(self.folder / "instances.json")], env=env)
            result = child_result(process, f"the scrape by {count} worker(s)", 1900)
            result["workers"] = count
            for worker in workers:
                stop_process(worker)
            for c in result["cycles"]:
                print(f"  {count} worker(s), N={n} {c['cycle']}: {c['wall']:.2f} s; "
                      f"up {c['up']}/{n}, stored {c['stored_sum']}", flush=True)
                self.check(c["up"] == n, f"{count} worker(s) {c['cycle']}: {c['up']}/{n} up")
                self.check(c["stored_sum"] == result["expected"],
                           f"{count} worker(s) {c['cycle']}: stored {c['stored_sum']} "
                           f"!= served {result['expected']}")
            results.append(result)
        return results

    # --- push ---

    def push_run(self, env: dict) -> dict:
        args = self.args
        out = manage(env, "shell", "-c", (
            "from django.contrib.auth.models import User\n"
            "from rest_framework.authtoken.models import Token\n"
            "from errors.models import Service\n"
            "user = User.objects.create_user('bench-push')\n"
            f"Service.objects.get_or_create(name='{PUSH_SERVICE}')\n"
            "print('TOKEN', Token.objects.create(user=user).key)\n"))
        token = next(line.split()[1] for line in out.splitlines() if line.startswith("TOKEN "))
        port = free_port()
        gunicorn = self.spawn(
            [str(ROOT / ".venv/bin/gunicorn"), "telescope_site.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--threads", str(args.threads)], env=env, log="gunicorn.log")
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/-/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if gunicorn.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not start: {(self.folder / 'gunicorn.log').read_text()[-2000:]}")
            time.sleep(0.2)
        # One request per worker, so that first-request costs are out of the way.
        for _ in range(args.workers * 2):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/services/")
            conn.getresponse().read()
            conn.close()
        say_busy("push")
        gunicorn_pids = [gunicorn.pid] + [int(p) for p in Path(f"/proc/{gunicorn.pid}/task/{gunicorn.pid}/children").read_text().split()]
        cpu0 = sum(cpu_seconds(p) for p in gunicorn_pids)
        machine0, pg0, wall0 = machine_cpu(), postgres_cpu(), time.monotonic()
        client = self.spawn([PYTHON, __file__, "_push", "--port", str(port), "--token", token,
                             "--template", str(self.folder / "template.json"),
                             "--connections", str(args.connections), "--duration", str(args.duration),
                             "--push-keys", str(args.push_keys), "--push-samples", str(args.push_samples),
                             "--push-pool", str(args.push_pool)], env=service_env("", self.folder))
        result = child_result(client, "the push client", args.duration + 300)
        result["gunicorn_cpu"] = sum(cpu_seconds(p) for p in gunicorn_pids) - cpu0
        result["pg_cpu"] = postgres_cpu() - pg0
        result["client_cpu"] = result.pop("own_cpu")
        others = (machine_cpu() - machine0 - result["gunicorn_cpu"] - result["pg_cpu"]
                  - result["client_cpu"])
        result["others"] = max(others, 0.0) / ((time.monotonic() - wall0) * (os.cpu_count() or 1))
        stop_process(gunicorn)
        out = manage(env, "shell", "-c", (
            "import json\n"
            "from django.db.models import Sum\n"
            "from errors.models import ErrorGroup, Occurrence, TargetCount\n"
            f"g = ErrorGroup.objects.filter(service__name='{PUSH_SERVICE}')\n"
            "print('DB', json.dumps({'groups': g.count(), "
            "'sum': g.aggregate(s=Sum('total_count'))['s'] or 0, "
            f"'occurrences': Occurrence.objects.filter(group__service__name='{PUSH_SERVICE}').count(), "
            f"'target_counts': TargetCount.objects.filter(group__service__name='{PUSH_SERVICE}').count()}}))\n"))
        result["db"] = json.loads(next(line[3:] for line in out.splitlines() if line.startswith("DB ")))
        self.show_push(result)
        return result

    def show_push(self, r: dict) -> None:
        a, db = self.args, r["db"]
        print(f"  push: {r['occurrences_per_s']:.0f} occurrences/s ({r['posts_per_s']:.1f} POST/s of "
              f"{a.push_keys}x{a.push_samples}, {r['body_bytes'] // 1024} KiB), p50 {r['p50_ms']:.0f} ms, "
              f"p99 {r['p99_ms']:.0f} ms, {r['failure_count']} failures", flush=True)
        print(f"  CPU over the {WARMUP_SECONDS + r['window']:.0f} s: gunicorn {r['gunicorn_cpu']:.1f} s, "
              f"PostgreSQL {r['pg_cpu']:.1f} s (all databases), client {r['client_cpu']:.1f} s; "
              f"other processes {r['others']:.0%} of the machine", flush=True)
        print(f"  database: sum(total_count) {db['sum']} (answers: {r['all_increment']} over "
              f"{r['all_ok']} POSTs), {db['target_counts']} TargetCount rows, {db['occurrences']} "
              f"Occurrence rows (answers: {r['all_new_occurrences']} stored before trimming), "
              f"{db['groups']} groups", flush=True)
        for failure in r["failures"]:
            print(f"    {failure}")
        self.check(r["failure_count"] == 0, f"push: {r['failure_count']} failed POSTs")
        self.check(db["sum"] == r["all_increment"] == r["all_ok"] * a.push_keys * a.push_samples,
                   f"push: stored {db['sum']} != answered {r['all_increment']}")
        self.check(db["target_counts"] == r["all_ok"] * a.push_keys,
                   f"push: {db['target_counts']} TargetCount rows for {r['all_ok']} POSTs")

    # --- the table ---

    def table(self, scrapes: list[dict], push: dict | None, backend: str,
              celery: list[dict] | None = None) -> None:
        a = self.args
        print()
        print(f"errors benchmark, {backend}, {os.cpu_count()} CPUs, "
              f"ERRORS_SCRAPE_CONCURRENCY default, workers' ERRORS_SCRAPE_SHARD_SIZE {a.shard_size}, {a.errors} errors x {a.samples} samples "
              f"per instance, {'distinct' if a.distinct_keys else 'shared'} keys")
        if scrapes:
            print()
            print("| instances | cycle | wall s | CPU s | DB CPU s | merge s | SQL | "
                  "RSS base MiB | peak RSS MiB | growth MiB | others |")
            print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for r in scrapes:
                for c in r["cycles"]:
                    db = f"{c['db_cpu']:.2f}" if c["db_cpu"] is not None else "n/a"
                    print(f"| {r['n']} | {c['cycle']} | {c['wall']:.2f} | {c['cpu']:.2f} | {db} | "
                          f"{c['ingest']:.2f} | {c['statements']} | {r['baseline_rss_kib'] / 1024:.1f} | "
                          f"{c['hwm_kib'] / 1024:.1f} | "
                          f"{(c['hwm_kib'] - r['baseline_rss_kib']) / 1024:.1f} | {c['others']:.0%} |")
            first, last = scrapes[0], scrapes[-1]
            peak0, peak1 = first["cycles"][-1]["hwm_kib"], last["cycles"][-1]["hwm_kib"]
            ratio = peak1 / peak0
            print()
            print(f"peak RSS at {last['n']} / at {first['n']}: {ratio:.2f} (aim: <= 1.1) "
                  f"{'OK' if ratio <= 1.1 else 'MISSED'}")
            for c in last["cycles"]:
                goal = COLD_GOAL if c["cycle"] == "cold" else WARM_GOAL
                print(f"{c['cycle']} scrape cycle of {last['n']} instances, one process: "
                      f"{c['wall']:.2f} s (goal: <= {goal} s) {'OK' if c['wall'] <= goal else 'MISSED'}")
        if celery:
            one, two = celery
            print()
            print(f"| {one['n']} instances, Celery workers (1 process each) | cycle | 1 worker s "
                  "| 2 workers s | ratio | goal |")
            print("|---|---|---:|---:|---:|---|")
            for c1, c2 in zip(one["cycles"], two["cycles"]):
                goal = COLD_GOAL if c1["cycle"] == "cold" else WARM_GOAL
                ratio = c1["wall"] / c2["wall"] if c2["wall"] else float("nan")
                print(f"| shards of {self.args.shard_size} | "
                      f"{c1['cycle']} | {c1['wall']:.2f} | {c2['wall']:.2f} | {ratio:.2f} | "
                      f"ratio >= {WORKERS_GOAL} {'OK' if ratio >= WORKERS_GOAL else 'MISSED'}; "
                      f"<= {goal} s {'OK' if min(c1['wall'], c2['wall']) <= goal else 'MISSED'} |")
        if push:
            print()
            print("| push | occurrences/s | POST/s | p50 ms | p99 ms | failures | DB sum == answers | others |")
            print("|---|---:|---:|---:|---:|---:|---|---:|")
            print(f"| {a.connections} conns, {a.workers}w x {a.threads}t, {a.push_keys}x{a.push_samples} "
                  f"per POST | {push['occurrences_per_s']:.0f} | {push['posts_per_s']:.1f} | "
                  f"{push['p50_ms']:.0f} | {push['p99_ms']:.0f} | {push['failure_count']} | "
                  f"{'yes' if push['db']['sum'] == push['all_increment'] else 'NO'} | {push['others']:.0%} |")
            print()
            rate = push["occurrences_per_s"]
            print(f"push ingestion: {rate:.0f} occurrences/s (aim: >= 300) "
                  f"{'OK' if rate >= 300 else 'MISSED'}")
        print()
        print("checks: " + ("all passed" if not self.problems else "; ".join(self.problems)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1].startswith("_") else None
    if sub:
        sys.argv.pop(1)
    parser.add_argument("--instances", default="50,200,500")
    parser.add_argument("--errors", type=int, default=100)
    parser.add_argument("--samples", type=int, default=3, help="latest_errors per key and instance")
    parser.add_argument("--distinct-keys", action="store_true")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--push-keys", type=int, default=10)
    parser.add_argument("--push-samples", type=int, default=10)
    parser.add_argument("--push-pool", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--skip-scrape", action="store_true")
    parser.add_argument("--skip-push", action="store_true")
    parser.add_argument("--skip-workers", action="store_true",
                        help="skip the sharded scrape by 1 and 2 Celery workers")
    parser.add_argument("--shard-size", type=int, default=50,
                        help="ERRORS_SCRAPE_SHARD_SIZE of the workers")
    parser.add_argument("--force", action="store_true",
                        help=f"run even when the load average is over {MAX_LOAD}")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="cProfile each scrape cycle into PREFIX.<instances>.<cycle>")
    # Internal (the sub-processes).
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    parser.add_argument("--service", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if sub == "_serve":
        serve_main(args)
        return 0
    if sub == "_scrape":
        scrape_main(args)
        return 0
    if sub == "_push":
        push_main(args)
        return 0
    if sub == "_celery":
        celery_main(args)
        return 0
    if sub:
        parser.error(f"unknown mode {sub}")
    args.instances = sorted(int(n) for n in args.instances.split(","))
    load = os.getloadavg()[0]
    if load > MAX_LOAD and not args.force:
        print(f"refused: the load average is {load:.2f}, over {MAX_LOAD}: the figures would "
              "say more about the other processes (--force runs anyway)", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="telescope-bench-errors-"))
    (folder / "config.toml").write_text("")
    bench = Bench(args, folder)
    database = None
    scrapes, push, celery = [], None, None
    try:
        database = Database(args.database, folder)
        env = service_env(database.url, folder)
        print(f"database {database.name}; logs in {folder}", flush=True)
        started = time.monotonic()
        manage(env, "migrate", "--noinput")
        print(f"migrated in {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        needed = not (args.skip_scrape and args.skip_workers)
        manifest = bench.start_instances(max(args.instances) if needed else 1)
        print(f"{len(manifest)} instances served by one process (pid {bench.instances_pid}), "
              f"{manifest[0]['bytes'] // 1024} KiB each, ready in {time.monotonic() - started:.1f} s",
              flush=True)
        if not args.skip_scrape:
            scrapes = bench.scrape_runs(env)
        if not args.skip_workers:
            if args.database != "postgres":
                raise BenchError("the Celery workers need PostgreSQL (--skip-workers)")
            celery = bench.celery_runs(env)
        if not args.skip_push:
            push = bench.push_run(env)
        bench.table(scrapes, push, "PostgreSQL 127.0.0.1" if args.database == "postgres" else "SQLite",
                    celery)
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        bench.problems.append(str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        bench.problems.append("interrupted")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip this
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in reversed(bench.processes):
            stop_process(process)
        if database is not None and not args.keep:
            try:
                database.drop()
            except Exception as exc:  # noqa: BLE001
                print(f"could not drop {database.name}: {exc}", file=sys.stderr)
        if args.keep:
            print(f"kept {folder} (and the database {database.name if database else '-'})")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if not bench.problems else 1


if __name__ == "__main__":
    sys.exit(main())
