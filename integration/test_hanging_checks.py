"""
Nothing a check does takes the service down. While 50 runs of a check that hangs
are in progress, the load balancer's heartbeat and a cached check answer within
100 ms (p99 of 200 requests each; on a machine so busy that they were slower than
that before the hangs, no more than twice as slow as before), and a normal check
still passes afterwards: in
the distributed mode the hangs run on a Celery worker, and the web process runs no
check code at all (requests wait for the workers' results, share one run, and give
up with a 500 when no worker answers); in the embedded mode (`manage.py serve`)
they run in the serve process's check processes.
"""

import http.client
import os
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from integration.conftest import BASE_DIR, PYTHON, heartbeat_toml, wait_until
from testing.processes import Server, free_port, group_size, service_environment

HANGING = 50
LATENCY_BOUND = 0.100  # seconds, p99, on a machine that is not otherwise busy
# On a shared machine the same requests may already be slower than that before any
# check hangs: then the hangs must not make them more than this much slower.
SLOWDOWN_BOUND = 2.0
SAMPLES = 200
TIME_LIMIT = 30  # long enough to measure while every hang is in progress (busy 2 cores)
CHECK_MODULES = "checks.,audits.tests.checkmods."


def hanging_toml(count: int) -> str:
    return "".join(
        f'[checks.hang.h{i}]\ndescription = "hangs"\n'
        f'module = "audits.tests.checkmods.hostile"\nparams.how = "hang"\n\n'
        for i in range(count)
    )


def p99_latency(base_url: str, path: str) -> float:
    """The p99 of SAMPLES sequential GETs of `path` on one keep-alive connection
    (http.client: the client's own CPU, on a busy machine, stays small)."""
    conn = http.client.HTTPConnection(urlsplit(base_url).hostname, urlsplit(base_url).port,
                                      timeout=10)
    timings = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        timings.append(time.perf_counter() - started)
        assert response.status == 200, body
    conn.close()
    return statistics.quantiles(timings, n=100)[98]


def request_in_background(url: str) -> tuple[threading.Thread, list]:
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(requests.get(url, timeout=120)))
    thread.start()
    return thread, answers


def check_threads(group: int, others: int) -> int:
    """The threads of the check processes of the process group `group` (its
    processes after the first `others`), besides the main thread of each."""
    members = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            if int(fields[2]) == group and fields[0] != "Z":
                members.append((int(entry), len(os.listdir(f"/proc/{entry}/task")) - 1))
        except OSError:
            continue  # gone meanwhile
    return sum(threads for _, threads in sorted(members)[others:])


def assert_serving_while_hanging(base_url: str, pgid: int, others: int):
    """Start HANGING hangs through `GET /checks/hang` and measure the latencies
    while they run in the process group `pgid` (`others`: its processes besides
    the check processes)."""
    # The same before the hangs: a busy machine, or the hangs?
    before = [p99_latency(base_url, path) for path in ("/__lbheartbeat__", "/checks/p/ok")]
    thread, answers = request_in_background(f"{base_url}/checks/hang")
    # A check process runs many checks at once, each on a thread of its own.
    wait_until(lambda: check_threads(pgid, others) >= HANGING, 30,
               lambda: f"{check_threads(pgid, others)} checks running, not {HANGING}")
    heartbeat = p99_latency(base_url, "/__lbheartbeat__")
    cached = p99_latency(base_url, "/checks/p/ok")
    assert thread.is_alive(), "the hangs ended before the measurement did"
    measured = (("heartbeat", heartbeat, before[0]), ("cached check", cached, before[1]))
    for name, during, baseline in measured:
        assert during < max(LATENCY_BOUND, SLOWDOWN_BOUND * baseline), (
            f"{name} p99 {during * 1000:.0f} ms while {HANGING} checks hang "
            f"({baseline * 1000:.0f} ms before the hangs)"
        )
    thread.join(TIME_LIMIT + 30)
    (response,) = answers
    assert response.status_code == 503, response.text
    assert {r["data"] for r in response.json()} == {f"Timed out after {TIME_LIMIT} s"}


# --- the distributed mode ---------------------------------------------------------------


def test_a_request_waits_for_the_worker_and_concurrent_requests_share_its_run(
    cluster, upstream
):
    url = upstream.route("/slow", json={"ok": True}, delay=1)
    # Longer than the 8 check processes take to start on a busy machine.
    cold = upstream.route("/cold", json={"ok": True}, delay=3)
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60) + "".join(
        heartbeat_toml("cold", f"c{i}", cold, ttl=60) for i in range(8)
    ))
    web, _ = cluster.start(cluster.gunicorn(), cluster.worker("w1"))

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: requests.get(web.url("/checks/p/n"), timeout=30),
                                range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert len({a.json()["datetime"] for a in answers}) == 1, "not one shared run"
    assert [c.agent for c in upstream.calls("/slow")] == ["it-w1"]

    started = time.monotonic()
    response = requests.get(web.url("/checks/cold"), timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert upstream.max_concurrency("/cold") == 8, "the project's checks ran one by one"
    assert elapsed < 10, f"a cold project of 3 s checks took {elapsed:.1f} s"
    assert {c.agent for c in upstream.calls("/cold")} == {"it-w1"}
    # The worker stores the history of its batch once all of it ran.
    wait_until(lambda: len(cluster.runs("cold", "c0")) == 1, 10, "no run in the history")


def test_a_request_no_worker_answers_fails_within_the_time_limit(cluster, upstream):
    cluster.env["CHECK_TIMEOUT_SECONDS"] = "2"
    cluster.import_checks(heartbeat_toml("p", "n", upstream.route("/hb", json={}), ttl=60))
    web = cluster.start(cluster.gunicorn())

    started = time.monotonic()
    response = requests.get(web.url("/checks/p/n"), timeout=60)
    elapsed = time.monotonic() - started

    assert response.status_code == 500, response.text
    assert response.json()["data"] == "No worker answered within 7 s"
    assert 7 <= elapsed < 10, f"{elapsed:.1f} s"
    assert upstream.hits("/hb") == 0, "the web process ran the check itself"

    cluster.start(cluster.worker("w1"))  # the queued run was kept: the worker does it
    wait_until(lambda: upstream.hits("/hb") == 1, 30, "the queued run never ran")
    assert requests.get(web.url("/checks/p/n"), timeout=30).status_code == 200
    assert upstream.hits("/hb") == 1


def test_hanging_checks_on_the_workers_leave_the_web_answering(cluster, upstream):
    cluster.env.update(CHECK_MODULES=CHECK_MODULES, CHECK_TIMEOUT_SECONDS=str(TIME_LIMIT))
    ok = upstream.route("/ok", json={"ok": True})
    cluster.import_checks(
        heartbeat_toml("p", "ok", ok, ttl=600) + heartbeat_toml("p", "later", ok, ttl=600)
        + hanging_toml(HANGING)
    )
    web, worker = cluster.start(cluster.gunicorn(), cluster.worker("w1"))
    assert requests.get(web.url("/checks/p/ok"), timeout=30).status_code == 200
    # The worker: its main process and its 2 pool processes, besides check processes.
    assert_serving_while_hanging(web.base_url, worker.pid, others=3)

    assert group_size(web.pid) == 2, "check processes in the web's process group"
    response = requests.get(web.url("/checks/p/later"), timeout=60)
    assert response.status_code == 200, response.text
    assert {c.agent for c in upstream.calls("/ok")} == {"it-w1"}


# --- the embedded mode ------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path):
    """`manage.py serve` of a SQLite database migrated with the checks of `toml`."""
    servers = []

    def start(toml: str) -> Server:
        port = free_port()
        env = service_environment(
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DATA_DIR=str(tmp_path),
            HOST="127.0.0.1", PORT=str(port), CHECK_MODULES=CHECK_MODULES,
            CHECK_TIMEOUT_SECONDS=str(TIME_LIMIT), CHECK_PROCESSES="64",
            LIMIT_GLOBAL_CONCURRENCY="64", REFRESH_AHEAD="false", LOG_FORMAT="text",
        )
        (tmp_path / "config.toml").write_text(toml)
        for args in (["migrate", "--noinput"], ["import_config", str(tmp_path / "config.toml")]):
            done = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env,
                                  capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stdout + done.stderr
        server = Server([PYTHON, "manage.py", "serve"], BASE_DIR, env, port,
                        tmp_path / "serve.log")
        servers.append(server)
        return server.wait_until_serving()

    yield start
    for server in servers:
        server.stop()


def test_hanging_checks_in_the_embedded_mode_leave_serve_answering(serve, upstream):
    ok = upstream.route("/ok", json={"ok": True})
    web = serve(
        heartbeat_toml("p", "ok", ok, ttl=600) + heartbeat_toml("p", "later", ok, ttl=600)
        + hanging_toml(HANGING)
    )
    assert requests.get(web.url("/checks/p/ok"), timeout=30).status_code == 200
    # gunicorn's master and its one worker, besides the check processes.
    assert_serving_while_hanging(web.base_url, web.popen.pid, others=2)

    response = requests.get(web.url("/checks/p/later"), timeout=60)
    assert response.status_code == 200, response.text
