"""
Redis is an optimisation, never a dependency of the API: while it is down, checks
run inline and the service keeps answering; when it is back, it caches again.
"""

import threading
import time
from datetime import datetime

import requests

from foundation.locks import LEASE_SECONDS
from integration.conftest import heartbeat_toml, wait_until

# A request must not hang on a dead Redis: far below gunicorn's and monitors' timeouts.
ANSWER_WITHIN = 10


def get(web, path):
    started = time.monotonic()
    response = requests.get(web.url(path), timeout=60)
    return response, time.monotonic() - started


def test_api_keeps_answering_while_redis_is_down(cluster, upstream):
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60))
    token = cluster.shell("""
        from django.contrib.auth.models import User
        from rest_framework.authtoken.models import Token
        print(Token.objects.create(user=User.objects.create_user("it-robot")).key)
    """).strip()
    web, _ = cluster.start(cluster.gunicorn(), cluster.worker("w1"))
    assert get(web, "/checks/p/n")[0].status_code == 200
    assert get(web, "/checks/p/n")[0].status_code == 200
    assert upstream.hits("/hb") == 1, "the result was not cached while Redis was up"

    cluster.redis.stop()  # the broker too: the web process runs the checks itself
    stopped_at = time.time()

    response, elapsed = get(web, "/checks/p/n")
    assert response.status_code == 200, response.text
    assert elapsed < ANSWER_WITHIN, f"{elapsed:.1f} s"
    assert upstream.hits("/hb") == 2, "the cached result was served with Redis down?"
    ran_at = datetime.fromisoformat(response.json()["datetime"]).timestamp()
    assert ran_at >= stopped_at, "not a fresh run"

    response, elapsed = get(web, "/__heartbeat__")
    assert response.status_code == 503, response.text
    assert response.json()["database"] == "ok"
    assert "cache failing" in response.json()["cache"]
    assert elapsed < ANSWER_WITHIN, f"{elapsed:.1f} s"

    # Queueing a run needs the broker: refused with an explanation, not a 500.
    started = time.monotonic()
    response = requests.post(web.url("/checks/p/n/runs"), timeout=60,
                             headers={"Authorization": f"Token {token}"})
    assert response.status_code == 503, response.text
    assert "task queue is unavailable" in response.json()["detail"]
    assert time.monotonic() - started < ANSWER_WITHIN

    cluster.redis.start()  # same port, empty

    wait_until(lambda: get(web, "/__heartbeat__")[0].status_code == 200, 20,
               lambda: f"the heartbeat did not recover: {get(web, '/__heartbeat__')[0].text}")
    hits = upstream.hits("/hb")
    assert get(web, "/checks/p/n")[0].status_code == 200
    assert get(web, "/checks/p/n")[0].status_code == 200
    assert upstream.hits("/hb") == hits + 1, "results are not cached again"
    response = requests.post(web.url("/checks/p/n/runs"), timeout=60,
                             headers={"Authorization": f"Token {token}"})
    assert response.status_code == 202, response.text


def test_api_answers_a_state_change_while_redis_is_down(cluster, upstream):
    # A failing check emits an event; with webhooks configured, its delivery is
    # queued on the broker, which is the same Redis, now down.
    hook = upstream.route("/hook", status=204)
    url = upstream.route("/down", status=500, json={"ok": False})
    cluster.env["WEBHOOK_URLS"] = hook
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60))
    web = cluster.start(cluster.gunicorn())

    cluster.redis.stop()
    response, elapsed = get(web, "/checks/p/n")

    assert upstream.hits("/down") == 1
    assert elapsed < ANSWER_WITHIN, f"{elapsed:.1f} s"
    assert response.status_code == 503, response.text
    assert response.json()["success"] is False


RESUME_WITHIN = 10  # seconds after Redis is back, scheduled runs go on


def test_workers_survive_redis_restarting_ten_times_and_the_schedule_resumes(cluster, upstream):
    # Each outage finds the worker holding messages it has not acknowledged (a
    # refresh batch waiting for its ETA, a run in flight): closing them once made
    # kombu crash the worker (AttributeError 'hostname' in restore_unacked).
    url = upstream.route("/hb", json={"ok": True}, delay=0.3)
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=2))
    web, worker, beat = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.beat())
    wait_until(lambda: upstream.calls("/hb", agent="it-w1"), 30, "no scheduled run")

    for outage in range(10):
        cluster.redis.stop()
        response, elapsed = get(web, "/checks/p/n")  # answered, Redis or not
        assert response.status_code == 200, response.text
        assert elapsed < ANSWER_WITHIN, f"outage {outage}: {elapsed:.1f} s"
        time.sleep(1)
        cluster.redis.start()
        back = time.time()
        resumed = wait_until(
            lambda: upstream.calls("/hb", agent="it-w1", since=back), RESUME_WITHIN,
            lambda: f"outage {outage}: no scheduled run since Redis came back; "
                    f"worker alive: {worker.alive}\n{worker.tail(40)}",
        )
        assert resumed[0].start - back <= RESUME_WITHIN

    assert worker.alive and beat.alive and web.alive
    assert worker.lines("Unrecoverable error") == []
    # Nothing run twice: every scheduled refresh in the history is there once.
    scheduled = [run["scheduled_for"] for run in cluster.runs("p", "n") if run["scheduled_for"]]
    assert len(scheduled) == len(set(scheduled)), sorted(scheduled)
    # And never two at once on the workers (the web runs its own while Redis is down).
    runs = sorted((c.start, c.end) for c in upstream.calls("/hb", agent="it-w1"))
    assert all(end <= later for (_, end), (later, _) in zip(runs, runs[1:])), runs


# A request on a Redis that does not answer: one socket timeout (about 1 s), then the
# process asks Redis nothing for a moment, and the check runs here.
DEGRADED_WITHIN = 2 + 1  # seconds: the bound, and the check's own run (0.3 s) with room


def test_a_frozen_redis_slows_no_request_beyond_a_timeout_and_work_resumes(cluster, upstream):
    url = upstream.route("/hb", json={"ok": True}, delay=0.3)
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=2))
    web, worker, beat = cluster.start(cluster.gunicorn(), cluster.worker("w1"), cluster.beat())
    wait_until(lambda: upstream.calls("/hb", agent="it-w1"), 30, "no scheduled run")
    assert get(web, "/checks/p/n")[0].status_code == 200

    cluster.redis.freeze()  # SIGSTOP: connections open, nothing answers
    frozen_until = time.monotonic() + 20
    answers = []
    while time.monotonic() < frozen_until - DEGRADED_WITHIN:
        response, elapsed = get(web, "/checks/p/n")
        answers.append((response.status_code, round(elapsed, 2)))
        response, elapsed = get(web, "/__heartbeat__")
        answers.append((response.status_code, round(elapsed, 2)))
        time.sleep(1)
    time.sleep(max(frozen_until - time.monotonic(), 0))
    cluster.redis.thaw()
    back = time.time()

    assert all(elapsed < DEGRADED_WITHIN for _, elapsed in answers), answers
    assert {status for status, _ in answers[0::2]} == {200}, answers  # run here
    assert {status for status, _ in answers[1::2]} == {503}, answers  # says why
    # Commands sent while Redis was frozen run when it thaws, after their senders
    # gave up: a lock taken or renewed then is held by nobody, for one lease at most.
    wait_until(lambda: upstream.calls("/hb", agent="it-w1", since=back),
               LEASE_SECONDS + RESUME_WITHIN,
               lambda: f"no scheduled run since Redis answers again:\n{worker.tail(40)}")
    assert worker.alive and beat.alive
    assert worker.lines("Unrecoverable error") == []
    scheduled = [run["scheduled_for"] for run in cluster.runs("p", "n") if run["scheduled_for"]]
    assert len(scheduled) == len(set(scheduled)), sorted(scheduled)


def test_a_request_waiting_for_a_worker_when_redis_dies_runs_the_check_itself(cluster, upstream):
    cluster.env.update(CHECK_TIMEOUT_SECONDS="60", REQUESTS_TIMEOUT_SECONDS="60")
    upstream.route("/hb", json={"ok": True}, delay=30)  # the worker's run: slow
    url = upstream.url("/hb")
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=60))
    web, _ = cluster.start(cluster.gunicorn(), cluster.worker("w1"))

    answer = {}
    waiting = threading.Thread(target=lambda: answer.update(zip(("response", "elapsed"),
                                                                 get(web, "/checks/p/n"))),
                               daemon=True)
    waiting.start()
    wait_until(lambda: upstream.in_flight("/hb", agent="it-w1"), 30, "the worker never ran it")
    upstream.route("/hb", json={"ok": True})  # the web's own run: quick
    cluster.redis.stop()
    stopped = time.monotonic()
    waiting.join(timeout=ANSWER_WITHIN)

    assert answer, "the request still waits for a worker that can no longer answer"
    assert answer["response"].status_code == 200, answer["response"].text
    assert time.monotonic() - stopped < ANSWER_WITHIN
    assert upstream.hits("/hb", agent="it-web") == 1


def test_after_a_long_outage_the_schedule_resumes_within_seconds(cluster, upstream):
    # kombu's retries space out to 30 s: the worker would notice Redis back that late.
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=2))
    worker, beat = cluster.start(cluster.worker("w1"), cluster.beat())
    wait_until(lambda: upstream.calls("/hb", agent="it-w1"), 30, "no scheduled run")

    cluster.redis.stop()
    time.sleep(44)  # kombu's tries: 2, 6, 12, 20, 30, 42, then 56 s after the loss
    cluster.redis.start()
    back = time.time()

    resumed = wait_until(lambda: upstream.calls("/hb", agent="it-w1", since=back),
                         RESUME_WITHIN, lambda: f"not resumed:\n{worker.tail(20)}")
    assert resumed[0].start - back <= RESUME_WITHIN
    assert worker.alive and beat.alive
