from checks.core import latency


def test_latency_under_the_maximum_passes(upstream):
    url = upstream.route("/", body="ok")

    success, elapsed = latency.run(url=url, max_milliseconds=1000)

    assert success
    assert isinstance(elapsed, int) and 0 <= elapsed < 1000
    assert upstream.requests[0][0] == "HEAD"


def test_latency_over_the_maximum_fails(upstream):
    url = upstream.route("/", body="ok", delay=0.2)

    success, elapsed = latency.run(url=url, max_milliseconds=100)

    assert not success
    assert elapsed >= 200


def test_latency_of_an_unreachable_url_fails_with_message(closed_port_url):
    success, data = latency.run(url=closed_port_url, max_milliseconds=1000)

    assert not success
    assert "connection refused" in data
