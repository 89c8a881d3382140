"""
State changes across processes: whatever the number of workers, each change of a
check's state is one event (one `check.state` log line, one POST per webhook).
"""

import time

from integration.conftest import heartbeat_toml, wait_until

RUNS_PER_PHASE = 4  # the events of the first 3 runs of a phase have arrived by the 4th
STATE_LINE = r" check\.state "


def test_each_state_change_produces_exactly_one_event(cluster, upstream):
    hook = upstream.route("/hook", status=204)
    url = upstream.route("/flip", json={"ok": True})
    cluster.env["WEBHOOK_URLS"] = hook
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=2))  # refreshed every 1.5 s
    w1, w2, _ = cluster.start(cluster.worker("w1"), cluster.worker("w2"), cluster.beat())

    def phase(status: int, events: int):
        """Answer `status` until RUNS_PER_PHASE runs saw it and `events` POSTs arrived."""
        upstream.route("/flip", status=status, json={"ok": status == 200})
        since = time.time()
        wait_until(
            lambda: len(upstream.calls("/flip", since=since)) >= RUNS_PER_PHASE
            and len(upstream.calls("/hook")) >= events,
            40,
            lambda: f"phase {status}: {len(upstream.calls('/flip', since=since))} runs, "
            f"webhook bodies {upstream.json_bodies('/hook')}",
        )

    phase(200, events=0)
    assert upstream.json_bodies("/hook") == [], "a first passing run sent an event"
    phase(500, events=1)
    phase(200, events=2)

    bodies = upstream.json_bodies("/hook")
    assert [b["state"] for b in bodies] == ["failing", "recovered"], bodies
    assert [b["success"] for b in bodies] == [False, True]
    assert all((b["project"], b["check"], b["url"]) == ("p", "n", "/checks/p/n") for b in bodies)
    state_lines = w1.lines(STATE_LINE) + w2.lines(STATE_LINE)
    assert len(state_lines) == 2, state_lines
    runs = cluster.runs("p", "n")
    assert len(runs) >= 3 * RUNS_PER_PHASE - 1, runs
