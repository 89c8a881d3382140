"""
Two beat processes (started by mistake, or during a deployment): only the one
holding the Redis leader lock fires the schedules, and the other takes over when
the leader dies.
"""

import signal
import time

import requests

from foundation.beat import LEADER_LOCK_SECONDS
from integration.conftest import heartbeat_toml, wait_until

INTERVAL = 2  # the check's own schedule, "2s"
LEADING = r"Beat \S+: leading"


def runs_between(upstream, start: float, end: float) -> int:
    return len([c for c in upstream.calls("/hb") if start <= c.start < end])


def test_two_beats_never_fire_a_schedule_twice(cluster, upstream):
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=3600, schedule=f"{INTERVAL}s"))
    web, _, beat_a, beat_b = cluster.start(
        cluster.gunicorn(), cluster.worker("w1"), cluster.beat("beat-a"), cluster.beat("beat-b")
    )

    wait_until(lambda: beat_a.lines(LEADING) or beat_b.lines(LEADING), 15, "no beat leads")
    leader, standby = (beat_a, beat_b) if beat_a.lines(LEADING) else (beat_b, beat_a)
    first = wait_until(lambda: upstream.calls("/hb"), 15, "the schedule never fired")[0]

    # Over 10 s, one schedule of 2 s fires about 5 times: not twice as often.
    window_end = first.start + 10
    wait_until(lambda: time.time() > window_end + 1, 15, "")  # the window's runs have arrived
    fired = runs_between(upstream, first.start, window_end)
    assert 3 <= fired <= 10 / INTERVAL + 2, fired
    assert standby.lines(LEADING) == [], "both beats lead"

    leader.kill(signal.SIGKILL)
    killed_at = time.time()
    # The API answers meanwhile: its result comes from the last run, cached.
    response = requests.get(web.url("/checks/p/n"), timeout=30)
    assert response.status_code == 200, response.text

    wait_until(lambda: standby.lines(LEADING), LEADER_LOCK_SECONDS + 3,
               "the standby beat did not take over")
    resumed = wait_until(
        lambda: [c for c in upstream.calls("/hb") if c.start > killed_at + 1.5], 5,
        "the schedule did not fire again after the take-over",
    )[0]
    assert resumed.start - killed_at <= LEADER_LOCK_SECONDS + 4
    # After the take-over, still one schedule's worth of runs.
    window_end = resumed.start + 6
    wait_until(lambda: time.time() > window_end + 1, 10, "")
    fired = runs_between(upstream, resumed.start, window_end)
    assert 2 <= fired <= 6 / INTERVAL + 2, fired


def test_a_standby_beat_keeps_the_schedule_of_the_leader_it_replaces(cluster, upstream):
    period = 15  # longer than a take-over (about LEADER_LOCK_SECONDS)
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=3600, schedule=f"{period}s"))
    _, beat_a, beat_b = cluster.start(
        cluster.worker("w1"), cluster.beat("beat-a"), cluster.beat("beat-b")
    )
    wait_until(lambda: beat_a.lines(LEADING) or beat_b.lines(LEADING), 15, "no beat leads")
    leader, standby = (beat_a, beat_b) if beat_a.lines(LEADING) else (beat_b, beat_a)

    last = wait_until(lambda: upstream.calls("/hb"), period + 15, "never fired")[0]
    leader.kill(signal.SIGKILL)  # just after it fired: the next run is due in `period`
    standby.wait_for_log(LEADING, timeout=LEADER_LOCK_SECONDS + 3)

    after = wait_until(lambda: upstream.calls("/hb", since=last.start + 0.5), period + 5,
                       "the schedule did not fire after the take-over")[0]
    assert after.start - last.start >= period - 1.5, (
        f"the new leader fired {after.start - last.start:.1f} s after the dead "
        f"leader's run, for a schedule of every {period} s"
    )
