"""The harness measures what the distributed tests rely on (fast, in-process)."""

import threading

import requests


def test_upstream_counts_overlapping_requests(upstream):
    url = upstream.route("/slow", body="late", delay=0.5)
    threads = [threading.Thread(target=requests.get, args=(url,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    requests.get(url)  # alone, after the others

    assert upstream.hits("/slow") == 4
    assert upstream.max_concurrency("/slow") == 3
    assert upstream.in_flight("/slow") == []


def test_upstream_records_agents_and_bodies(upstream):
    url = upstream.route("/hook", status=204)
    requests.post(url, json={"state": "failing"}, headers={"User-Agent": "it-w1"})

    (call,) = upstream.calls("/hook", agent="it-w1", method="POST")
    assert call.json() == {"state": "failing"}
    assert upstream.json_bodies("/hook") == [{"state": "failing"}]
    assert upstream.calls("/hook", agent="it-web") == []
