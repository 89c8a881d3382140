import threading
import time

import pytest

from checks import config, http


def test_fetch_sends_user_agent_and_default_headers(upstream):
    config.configure(user_agent="telescope-test/1", default_headers={"X-Team": "sre"})
    upstream.route("/", body="ok")

    http.fetch("GET", upstream.url("/"), headers={"X-Call": "yes"})

    _, _, headers = upstream.requests[0]
    assert headers["User-Agent"] == "telescope-test/1"
    assert headers["X-Team"] == "sre"
    assert headers["X-Call"] == "yes"


def test_per_call_headers_override_default_headers(upstream):
    config.configure(default_headers={"X-Team": "sre"})
    upstream.route("/", body="ok")

    http.fetch("GET", upstream.url("/"), headers={"X-Team": "web"})

    assert upstream.requests[0][2]["X-Team"] == "web"


def test_configuration_changes_apply_to_the_next_request(upstream):
    upstream.route("/", body="ok")
    http.fetch("GET", upstream.url("/"))
    config.configure(user_agent="changed")

    http.fetch("GET", upstream.url("/"))

    assert upstream.requests[1][2]["User-Agent"] == "changed"


def test_fetch_retries_on_read_timeout(upstream):
    config.configure(timeout_seconds=0.2, max_retries=2)
    upstream.route("/slow", body="late", delay=0.5)

    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", upstream.url("/slow"))

    assert upstream.hits("/slow") == 3
    assert "no response within 0.2s (3 attempts)" in str(error.value)


def test_fetch_retries_when_the_connection_drops(dropping_server):
    url, accepted = dropping_server
    config.configure(max_retries=2)

    with pytest.raises(http.HTTPError):
        http.fetch("GET", url)

    assert len(accepted) == 3


def test_fetch_does_not_retry_on_server_error(upstream):
    config.configure(max_retries=2)
    upstream.route("/boom", status=500, body="boom")

    response = http.fetch("GET", upstream.url("/boom"))

    assert response.status_code == 500
    assert upstream.hits("/boom") == 1


def test_fetch_to_a_closed_port_explains_connection_refused(closed_port_url):
    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", closed_port_url + "/x")

    assert str(error.value) == f"GET {closed_port_url}/x failed: connection refused"


def test_fetch_with_an_invalid_url_raises_http_error():
    with pytest.raises(http.HTTPError, match="invalid URL"):
        http.fetch("GET", "not a url")


def test_error_message_never_contains_the_authorization_header(closed_port_url):
    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", closed_port_url, headers={"Authorization": "token s3cr3t-value"})

    assert "s3cr3t-value" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_short_header_values_are_not_masked_in_error_messages(closed_port_url):
    config.configure(default_headers={"X-Key-Id": "1"})

    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", closed_port_url)

    assert closed_port_url in str(error.value)


def test_error_message_masks_a_token_echoed_by_the_server(upstream):
    upstream.route("/api", status=401, body="bad credentials: token s3cr3t-value")

    with pytest.raises(http.HTTPError) as error:
        http.fetch_json(upstream.url("/api"), headers={"Authorization": "token s3cr3t-value"})

    assert "s3cr3t-value" not in str(error.value)
    assert "HTTP 401" in str(error.value)


def test_error_message_hides_url_credentials(closed_port_url):
    url = closed_port_url.replace("//", "//bob:hunter2@") + "/?token=abc123&page=2"

    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", url)

    message = str(error.value)
    assert "hunter2" not in message and "bob" not in message and "abc123" not in message
    assert "page=2" in message


def test_fetch_json_returns_the_decoded_body(upstream):
    upstream.route("/data", json={"a": [1, 2]})

    assert http.fetch_json(upstream.url("/data")) == {"a": [1, 2]}


def test_fetch_json_with_invalid_json_explains(upstream):
    json_type = {"Content-Type": "application/json"}
    upstream.route("/data", body=b"<html>oops</html>", headers=json_type)

    with pytest.raises(http.HTTPError, match=r"invalid JSON .*<html>oops"):
        http.fetch_json(upstream.url("/data"))


def test_fetch_json_with_an_error_status_raises_with_the_status(upstream):
    upstream.route("/data", status=503, json={"error": "down"})

    with pytest.raises(http.HTTPError, match="returned HTTP 503") as error:
        http.fetch_json(upstream.url("/data"))

    assert error.value.status == 503


def test_fetch_text_with_non_utf8_body_fails_clearly(upstream):
    upstream.route("/text", body=b"caf\xe9", headers={"Content-Type": "text/plain"})

    with pytest.raises(http.HTTPError, match="body is not valid utf-8"):
        http.fetch_text(upstream.url("/text"))


def test_fetch_text_uses_the_declared_charset(upstream):
    latin1 = {"Content-Type": "text/plain; charset=latin-1"}
    upstream.route("/text", body=b"caf\xe9", headers=latin1)

    assert http.fetch_text(upstream.url("/text")) == "café"


def test_fetch_text_with_an_unknown_charset_fails_clearly(upstream):
    upstream.route("/text", body=b"x", headers={"Content-Type": "text/plain; charset=klingon"})

    with pytest.raises(http.HTTPError, match="unknown charset 'klingon'"):
        http.fetch_text(upstream.url("/text"))


def test_concurrent_requests_are_limited_by_max_concurrency(upstream):
    config.configure(max_concurrency=2)
    upstream.route("/slow", body="ok", delay=0.3)
    request = ("GET", upstream.url("/slow"))
    threads = [threading.Thread(target=http.fetch, args=request) for _ in range(4)]

    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 4 requests of 0.3 s, 2 at a time: two rounds.
    assert time.monotonic() - start >= 0.55


def test_each_thread_uses_its_own_session():
    sessions = []
    threads = [threading.Thread(target=lambda: sessions.append(http._session())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sessions[0] is not sessions[1]


def test_safe_url_strips_userinfo_and_masks_secret_query_values():
    url = "https://me:pw@example.com/path?api_key=k&q=1"

    assert http.safe_url(url) == "https://example.com/path?api_key=***&q=1"


def test_proxy_variables_are_honoured_when_set(monkeypatch):
    from checks import http as helper

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert helper._new_session(0, 0.5, 10).trust_env is True
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setattr(helper.os.path, "exists", lambda path: False)
    for name in [k for k in helper.os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    assert helper._new_session(0, 0.5, 10).trust_env is False
