"""
Redis is an optimisation, never a dependency of the API: while it is down, checks
run inline and the service keeps answering; when it is back, it caches again.
"""

import time
from datetime import datetime

import requests

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
