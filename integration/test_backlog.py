"""
Work is queued by kind (dispatchers, notifications, scrapes, checks): a backlog of
slow check runs, on the workers that serve the `checks` queue, never delays the
dispatchers nor the scrapes, which other workers serve (the Compose layout).
"""

import time

from integration.conftest import heartbeat_toml, wait_until
from integration.test_worker_killed import PAYLOAD

SLOW = 8  # seconds per run of a slow check


def queued(cluster, queue: str) -> int:
    return cluster.redis.client().llen(queue)


def test_a_backlog_of_slow_runs_delays_neither_dispatchers_nor_scrapes(cluster, upstream):
    slow = upstream.route("/slow", json={"ok": True}, delay=SLOW)
    checks = "".join(heartbeat_toml("p", f"c{i}", slow, ttl=3600) for i in range(6))
    errors = upstream.route("/errors", json=PAYLOAD)
    cluster.import_checks(
        checks + f'[errors.services.api]\nrefresh_interval = "1s"\n'
        f'static_configs = [{{ targets = ["127.0.0.1:{upstream.port}"] }}]\n'
    )
    assert errors.endswith("/errors")
    _, _, other, _ = cluster.start(
        cluster.gunicorn(), cluster.worker("runs", queues="checks"),
        cluster.worker("other", queues="dispatchers,scrapes,notifications"), cluster.beat(),
    )
    ids = [cluster.check_id("p", f"c{i}") for i in range(6)]
    cluster.shell(f"""
        from audits.tasks import run_check
        for _ in range(4):
            for check_id in {ids}:
                run_check.delay(check_id)
    """)  # 24 runs of 8 s for 2 processes: more than a minute of backlog
    wait_until(lambda: upstream.in_flight("/slow"), 30, "the slow runs never started")

    window_start = time.time()
    samples = []
    while time.time() < window_start + 15:
        samples.append((queued(cluster, "checks"), queued(cluster, "dispatchers")))
        time.sleep(1)
    scrapes = [c for c in upstream.calls("/errors") if c.start >= window_start]

    assert min(backlog for backlog, _ in samples) >= 10, samples  # the backlog was there
    assert max(waiting for _, waiting in samples) <= 2, samples  # dispatchers never waited
    # A scrape due every second: about 15 in the window, not the 0 of a shared queue.
    assert len(scrapes) >= 10, [c.start - window_start for c in scrapes]
    assert other.lines("Unrecoverable error") == []
