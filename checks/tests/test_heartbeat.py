from checks import config
from checks.core import heartbeat


def test_heartbeat_with_expected_status_passes_and_returns_the_json_body(upstream):
    url = upstream.route("/__heartbeat__", json={"database": "ok"})

    assert heartbeat.run(url=url) == (True, {"database": "ok"})


def test_heartbeat_with_unexpected_status_fails(upstream):
    url = upstream.route("/__heartbeat__", status=503, json={"database": "down"})

    assert heartbeat.run(url=url) == (False, {"database": "down"})


def test_heartbeat_with_a_custom_expected_status_passes(upstream):
    url = upstream.route("/__heartbeat__", status=503, json={})

    assert heartbeat.run(url=url, expected_status=503) == (True, {})


def test_heartbeat_returns_text_when_the_body_is_not_json(upstream):
    url = upstream.route("/", body="I am fine")

    assert heartbeat.run(url=url) == (True, "I am fine")


def test_heartbeat_returns_none_for_an_empty_json_body(upstream):
    url = upstream.route("/", body=b"", headers={"Content-Type": "application/json"})

    assert heartbeat.run(url=url) == (True, None)


def test_heartbeat_without_content_type_returns_the_text(upstream):
    url = upstream.route("/", body=b"plain")

    assert heartbeat.run(url=url) == (True, "plain")


def test_heartbeat_with_non_utf8_body_fails_with_explanation(upstream):
    url = upstream.route("/", body=b"\xff\xfe oops", headers={"Content-Type": "text/plain"})

    success, data = heartbeat.run(url=url)

    assert not success
    assert "not valid utf-8" in data


def test_heartbeat_with_invalid_json_fails_with_explanation(upstream):
    url = upstream.route("/", body=b"{nope", headers={"Content-Type": "application/json"})

    success, data = heartbeat.run(url=url)

    assert not success
    assert "invalid JSON" in data


def test_heartbeat_unreachable_fails_with_message(closed_port_url):
    success, data = heartbeat.run(url=closed_port_url + "/__heartbeat__")

    assert not success
    assert "connection refused" in data


def test_heartbeat_does_not_retry_an_error_status(upstream):
    config.configure(max_retries=2)
    url = upstream.route("/__heartbeat__", status=500, body="boom")

    heartbeat.run(url=url)

    assert upstream.hits("/__heartbeat__") == 1


def test_heartbeat_failing_with_a_page_says_the_status_and_the_start_of_the_text(upstream):
    page = "<html>\n  <body><h1>502 Bad Gateway</h1>" + "x" * 5000 + "</body></html>"
    url = upstream.route("/__heartbeat__", status=502, body=page)

    success, data = heartbeat.run(url=url)

    assert not success
    assert data.startswith("HTTP 502: <html> <body><h1>502 Bad Gateway</h1>xxx")
    assert len(data) <= len("HTTP 502: ") + heartbeat.SNIPPET_CHARACTERS


def test_heartbeat_failing_with_an_empty_body_says_the_status(upstream):
    url = upstream.route("/__heartbeat__", status=503, body=b"",
                         headers={"Content-Type": "application/json"})

    assert heartbeat.run(url=url) == (False, "HTTP 503")
