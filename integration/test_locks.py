"""
The lock of a check, in Redis: one run at a time across processes, and no dead
process holding it for longer than REDIS_LOCK_TIMEOUT_SECONDS.
"""

import signal
import time

import requests

from integration.conftest import KEY_PREFIX, heartbeat_toml, log_time, wait_until

RECEIVED = r"Task audits\.tasks\.run_check\[[^\]]+\] received"
SUCCEEDED = r"Task audits\.tasks\.run_check\[[^\]]+\] succeeded"


def test_two_workers_never_run_the_same_check_at_once(cluster, upstream):
    url = upstream.route("/slow", json={"ok": True}, delay=1.5)
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60))
    w1, w2 = cluster.start(cluster.worker("w1"), cluster.worker("w2"))
    check_id = cluster.check_id("p", "n")

    cluster.shell(f"""
        from audits.tasks import run_check
        for _ in range(6):
            run_check.delay({check_id})
    """)

    wait_until(lambda: len(w1.lines(SUCCEEDED)) + len(w2.lines(SUCCEEDED)) == 6, 30,
               lambda: f"the 6 tasks did not all finish: {upstream.calls('/slow')}")
    calls = upstream.calls("/slow")
    assert calls, "no worker ran the check"
    # The test means something only if both workers held tasks while a run was in
    # flight: each received one before the first upstream request ended.
    first_end = calls[0].end
    for worker in (w1, w2):
        received = [log_time(line) for line in worker.lines(RECEIVED)]
        assert received and min(received) < first_end, (
            f"{worker.name} received no task during the first run: {received}"
        )
    assert upstream.max_concurrency("/slow") == 1, [
        (c.agent, c.start, c.end) for c in calls
    ]
    assert len(calls) < 6, "the waiting tasks did not share the run in flight"


def test_worker_killed_mid_run_leaves_no_lock_beyond_its_timeout(cluster, upstream):
    lock_timeout = 3
    cluster.env.update(
        REDIS_LOCK_TIMEOUT_SECONDS=str(lock_timeout),
        REDIS_LOCK_BLOCKING_TIMEOUT_SECONDS="20",
        CHECK_TIMEOUT_SECONDS="120",
        REQUESTS_TIMEOUT_SECONDS="120",
    )
    url = upstream.route("/hb", json={"ok": True}, delay=30)
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60))
    # Two workers: the one that takes the run is killed, the other serves the request.
    web, *workers = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.worker("w2"))
    check_id = cluster.check_id("p", "n")

    cluster.shell(f"from audits.tasks import run_check; run_check.delay({check_id})")
    wait_until(lambda: upstream.in_flight("/hb"), 30, "no worker started the run")
    (lock,) = cluster.redis_keys(f"{KEY_PREFIX}:*lock:*")
    ttl_ms = cluster.redis.client().pttl(lock)
    assert 0 < ttl_ms <= lock_timeout * 1000, ttl_ms

    running = upstream.in_flight("/hb")[0].agent
    killed = next(w for w in workers if f"it-{w.name}" == running)
    other = next(w for w in workers if w is not killed)
    killed.kill(signal.SIGKILL)  # mid-run: the lock is never released
    upstream.route("/hb", json={"ok": True})  # the next run is quick
    started = time.monotonic()
    response = requests.get(web.url("/checks/p/n"), timeout=60)
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert elapsed < lock_timeout + 2, f"the GET waited {elapsed:.1f} s for a dead lock"
    assert upstream.hits("/hb", agent=f"it-{other.name}") == 1
    assert cluster.redis_keys(f"{KEY_PREFIX}:*lock:*") == []
