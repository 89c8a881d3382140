"""
Refresh-ahead in the distributed mode: beat dispatches, workers run the checks and
write Redis, gunicorn answers from Redis.
"""

from datetime import datetime

import requests

from integration.conftest import KEY_PREFIX, heartbeat_toml, wait_until

SENT_DISPATCH = r"Sending due task audits\.dispatch_refreshes "


def test_scheduled_check_runs_on_a_worker_and_is_served_from_redis(cluster, upstream):
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=6))

    web, _, _ = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.beat())

    # No API call has been made: the run comes from beat's dispatch, on the worker.
    wait_until(lambda: upstream.calls("/hb", agent="it-w1"), 30,
               "the worker never ran the check")
    wait_until(lambda: cluster.redis_keys(f"{KEY_PREFIX}:*:check:v1:*"), 10,
               "the worker's result never reached Redis")
    assert upstream.calls("/hb", agent="it-web") == []

    response = requests.get(web.url("/checks/p/n"), timeout=30)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["data"] == {"ok": True}
    assert upstream.calls("/hb", agent="it-web") == [], "gunicorn ran the check itself"
    runs = cluster.runs("p", "n")
    assert any(run["scheduled_for"] is not None for run in runs), runs
    # The answer is the worker's run, as stored in the history.
    served = datetime.fromisoformat(body["datetime"])
    assert served in [run["started_at"] for run in runs], (served, runs)
    assert all(run["scheduled_for"] is not None for run in runs if run["started_at"] == served)


def test_refresh_ahead_off_runs_checks_only_when_requested(cluster, upstream):
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=6))
    cluster.env["REFRESH_AHEAD"] = "false"

    web, worker, beat = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.beat())

    # Beat is leading and the worker has run several dispatches, each claiming nothing:
    # with refresh-ahead on, the first one would have claimed the new check at once.
    beat.wait_for_log(r"Beat \S+: leading", timeout=15)
    worker.wait_for_log(r"dispatch_refreshes\[[^\]]+\] succeeded in [\d.]+s: 0", count=4,
                        timeout=20)
    assert worker.lines(r"dispatch_refreshes\[[^\]]+\] succeeded in [\d.]+s: [1-9]") == []
    assert upstream.hits("/hb") == 0
    assert cluster.runs("p", "n") == []

    response = requests.get(web.url("/checks/p/n"), timeout=30)

    assert response.status_code == 200, response.text
    assert upstream.hits("/hb", agent="it-w1") == 1  # queued by the request, run by the worker
    assert upstream.hits("/hb") == 1
