"""
A worker killed with -9 in the middle of its work: its locks are leases that free
within LEASE_SECONDS, its unacknowledged task is run again once by another worker
(acks_late, after TASK_VISIBILITY_TIMEOUT_SECONDS), and the API keeps answering.
"""

import signal
import time

import requests

from foundation.locks import LEASE_SECONDS
from integration.conftest import KEY_PREFIX, heartbeat_toml, wait_until

VISIBILITY = 6  # TASK_VISIBILITY_TIMEOUT_SECONDS here: a lost task comes back soon
PAYLOAD = {
    "aggregated_errors": [{
        "aggregation_key": "ValueError@1a2b3c4d", "total_count": 3, "severity": "error",
        "latest_errors": [{
            "error": {"class": "ValueError", "message": "boom", "stacktrace": ["f()"],
                      "cause": None},
            "uuid": "5d9893c6-51d6-11ea-8aad-f894c260afe5",
            "timestamp": "2020-02-17T22:42:45.001Z", "severity": "error",
            "http_context": None,
        }],
    }],
    "target_uuid": "5d9893c6-51d6-11ea-8aad-f894c260afe6",
}


def the_one_running(upstream, workers, path):
    agent = wait_until(lambda: upstream.in_flight(path), 30, "nothing started")[0].agent
    running = next(w for w in workers if f"it-{w.name}" == agent)
    return running, next(w for w in workers if w is not running)


def test_a_check_run_lost_with_its_worker_runs_again_once_and_its_lock_frees(cluster, upstream):
    cluster.env.update(
        TASK_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY),
        CHECK_TIMEOUT_SECONDS="120", REQUESTS_TIMEOUT_SECONDS="120",
    )  # REDIS_LOCK_TIMEOUT_SECONDS: its default, 300 s
    url = upstream.route("/hb", json={"ok": True}, delay=60)
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60))
    web, *workers = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.worker("w2"))
    check_id = cluster.check_id("p", "n")

    cluster.shell(f"from audits.tasks import run_check; run_check.delay({check_id})")
    killed, other = the_one_running(upstream, workers, "/hb")
    (lock,) = cluster.redis_keys(f"{KEY_PREFIX}:*lock:*")
    assert 0 < cluster.redis.client().pttl(lock) <= LEASE_SECONDS * 1000  # a lease

    killed.kill(signal.SIGKILL)  # mid-run: nothing released, nothing acknowledged
    killed_at = time.monotonic()
    upstream.route("/hb", json={"ok": True})  # the next run is quick
    wait_until(lambda: not cluster.redis_keys(f"{KEY_PREFIX}:*lock:*"), LEASE_SECONDS + 3,
               "the dead worker's lock outlived its lease")
    assert time.monotonic() - killed_at <= LEASE_SECONDS + 3

    # The lost run, again, once, on the other worker.
    wait_until(lambda: upstream.calls("/hb", agent=f"it-{other.name}"), VISIBILITY + 20,
               lambda: f"the lost run was not run again:\n{other.tail(30)}")
    response = requests.get(web.url("/checks/p/n"), timeout=30)
    assert response.status_code == 200, response.text
    time.sleep(VISIBILITY)  # long enough for a second redelivery, were there one
    assert upstream.hits("/hb", agent=f"it-{other.name}") == 1, "run more than once"
    assert len(cluster.runs("p", "n")) == 1  # the killed run left no row; the rerun one
    assert other.lines("Unrecoverable error") == []


def test_a_worker_killed_mid_scrape_holds_up_that_service_for_a_lease_at_most(cluster, upstream):
    cluster.env.update(
        TASK_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY), ERRORS_SCRAPE_TIMEOUT_SECONDS="120",
    )
    upstream.route("/errors", json=PAYLOAD, delay=60)
    cluster.import_checks(
        f'[errors.services.api]\nrefresh_interval = "1s"\n'
        f'static_configs = [{{ targets = ["127.0.0.1:{upstream.port}"] }}]\n'
    )
    web, *workers, _ = cluster.start(
        cluster.gunicorn(), cluster.worker("w1"), cluster.worker("w2"), cluster.beat()
    )
    wait_until(lambda: upstream.in_flight("/errors"), 30, "no scrape started")
    killed = next(w for w in workers if w.lines(r"scrape_service\[[^\]]+\] received")
                  and not w.lines(r"scrape_service\[[^\]]+\] succeeded"))
    other = next(w for w in workers if w is not killed)

    killed.kill(signal.SIGKILL)
    killed_at = time.time()
    upstream.route("/errors", json=PAYLOAD)  # the next scrapes are quick
    first = wait_until(
        lambda: [c for c in upstream.calls("/errors") if c.start > killed_at], LEASE_SECONDS + 5,
        lambda: f"no scrape since the kill:\n{other.tail(30)}",
    )[0]
    assert first.start - killed_at <= LEASE_SECONDS + 5

    # Scrapes go on (the lost one among them, run again), each error counted once.
    wait_until(lambda: len(upstream.calls("/errors")) >= 5, 30, "scrapes stopped")
    groups = requests.get(web.url("/services/api/errors/"), timeout=30).json()
    assert [g["total_count"] for g in groups] == [3], groups
    assert other.lines("Unrecoverable error") == []
