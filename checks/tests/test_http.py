import logging
import threading
import time

import pytest

from checks import config, http
from checks.http import client
from testing.sockets import free_port, raw_server, trickling_body

# Slack for thread scheduling on a busy CI machine.
SLACK = 0.4


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
    assert str(error.value).endswith("failed: timed out after 0.2 s (3 attempts)")


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

    with pytest.raises(http.HTTPError, match="failed: HTTP 503") as error:
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
    threads = [threading.Thread(target=lambda: sessions.append(client._session())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sessions[0] is not sessions[1]


def test_safe_url_strips_userinfo_and_masks_secret_query_values():
    url = "https://me:pw@example.com/path?api_key=k&q=1"

    assert http.safe_url(url) == "https://example.com/path?api_key=***&q=1"


def test_proxy_variables_are_honoured_when_set(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert client._Session().proxies_in_env is True
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setattr(client.os.path, "exists", lambda path: False)
    for name in [k for k in client.os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    assert client._Session().proxies_in_env is False


def test_a_slow_drip_body_is_cut_at_the_deadline():
    config.configure(deadline_seconds=1.0)
    started = time.monotonic()
    with raw_server(trickling_body) as url, pytest.raises(http.HTTPError) as error:
        http.fetch("GET", url)

    assert str(error.value) == f"GET {url} failed: timed out after 1 s"
    assert error.value.status == 200
    assert 1.0 <= time.monotonic() - started < 1.0 + SLACK


def test_a_body_over_the_size_cap_fails_naming_the_cap(upstream):
    config.configure(max_response_bytes=1000)
    upstream.route("/big", body=b"x" * 1001)
    upstream.route("/fits", body=b"x" * 1000)

    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", upstream.url("/big"))

    assert error.value.reason == "response over 1000 bytes"
    assert len(http.fetch("GET", upstream.url("/fits")).content) == 1000


def test_a_redirect_to_another_host_does_not_carry_the_callers_headers(upstream, other_host):
    upstream.route("/go", status=302, headers={"Location": other_host.localhost_url("/landing")})
    other_host.route("/landing", body="here")
    secrets = {"Authorization": "token s3cr3t-value", "X-Api-Key": "k3y-value", "X-Team": "sre"}

    response = http.fetch("GET", upstream.url("/go"), headers=secrets)

    assert response.status_code == 200 and response.text == "here"
    assert all(upstream.requests[0][2][name] == value for name, value in secrets.items())
    [(_, _, received)] = other_host.requests
    assert not {name.lower() for name in secrets} & {name.lower() for name in received}
    assert received["User-Agent"] == config.current.user_agent


def test_a_redirect_on_the_same_host_keeps_the_headers(upstream):
    upstream.route("/go", status=302, headers={"Location": "/landing"})
    upstream.route("/landing", body="here")

    http.fetch("GET", upstream.url("/go"), headers={"X-Api-Key": "k3y-value"})

    assert upstream.requests[1][2]["X-Api-Key"] == "k3y-value"


def test_a_redirected_get_asks_each_url_once_and_keeps_the_history(upstream):
    upstream.route("/go", status=301, headers={"Location": "/next"})
    upstream.route("/next", status=302, headers={"Location": "/landing"})
    upstream.route("/landing", body="here")

    response = http.fetch("GET", upstream.url("/go"))

    assert response.text == "here" and response.url == upstream.url("/landing")
    assert [hop.status_code for hop in response.history] == [301, 302]
    assert [path for _, path, _ in upstream.requests] == ["/go", "/next", "/landing"]


def test_credentials_in_a_checks_url_are_sent_as_basic_auth(upstream):
    upstream.route("/private", body="in")
    url = upstream.url("/private").replace("http://", "http://user:pa55@")

    assert http.fetch("GET", url).text == "in"
    assert upstream.requests[0][2]["Authorization"] == "Basic dXNlcjpwYTU1"


def test_a_redirect_to_another_host_is_refused_when_the_caller_says_so(upstream, other_host):
    target = other_host.localhost_url("/landing")
    upstream.route("/go", status=302, headers={"Location": target})

    with pytest.raises(http.HTTPError) as error:
        http.fetch("GET", upstream.url("/go"), allow_cross_host_redirects=False)

    assert error.value.reason == f"redirect to another host refused (localhost:{other_host.port})"
    assert other_host.requests == []


def test_credentials_in_a_url_never_appear_in_errors_or_logs(upstream, caplog):
    config.configure(max_retries=2)
    upstream.route("/down", status=503, body="down")
    url = upstream.url("/down").replace("//", "//bob:hunter2@") + "?page=2&access_token=abc123xyz"

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(http.HTTPError) as error:
            http.fetch_json(url, headers={"X-Api-Key": "k3y-value"})
        # A connection error is retried, and urllib3 logs the path of each retry.
        with pytest.raises(http.HTTPError) as refused:
            http.fetch("GET", f"http://bob:hunter2@127.0.0.1:{free_port()}/x?token=abc123xyz")

    assert "Retrying" in caplog.text and "page=2" in caplog.text  # the logs are there...
    for text in (str(error.value), str(refused.value), caplog.text):
        assert "hunter2" not in text and "abc123xyz" not in text and "k3y-value" not in text


def test_get_is_retried_on_503_but_a_post_is_not(upstream):
    config.configure(max_retries=2)
    upstream.route("/flaky", status=503, body="busy")

    assert http.fetch("GET", upstream.url("/flaky")).status_code == 503
    assert upstream.hits("/flaky") == 3
    assert http.fetch("POST", upstream.url("/flaky"), json={"a": 1}).status_code == 503
    assert upstream.hits("/flaky") == 4


def test_a_post_is_retried_when_the_caller_opts_in(upstream):
    config.configure(max_retries=2)
    upstream.route("/flaky", status=503, body="busy")

    http.fetch("POST", upstream.url("/flaky"), json={"a": 1}, retry_unsafe=True)

    assert upstream.hits("/flaky") == 3


def test_a_short_retry_after_is_waited_for(upstream):
    config.configure(max_retries=1)
    upstream.route("/busy", status=503, headers={"Retry-After": "1"})

    started = time.monotonic()
    http.fetch("GET", upstream.url("/busy"))

    assert upstream.hits("/busy") == 2
    assert time.monotonic() - started >= 1.0


def test_a_retry_after_longer_than_allowed_returns_the_answer_at_once(upstream):
    config.configure(max_retries=2)
    upstream.route("/busy", status=503, headers={"Retry-After": "3600"})

    started = time.monotonic()
    response = http.fetch("GET", upstream.url("/busy"))

    assert (response.status_code, upstream.hits("/busy")) == (503, 1)
    assert time.monotonic() - started < SLACK


def test_each_caller_has_its_own_concurrency_limit(upstream):
    config.configure(max_concurrency=128)
    upstream.route("/slow", body="ok", delay=0.3)
    upstream.route("/fast", body="ok")
    one_at_a_time = http.Limit(1)
    request = ("GET", upstream.url("/slow"))
    threads = [
        threading.Thread(target=http.fetch, args=request, kwargs={"limit": one_at_a_time}) for _ in range(2)
    ]

    started = time.monotonic()
    for thread in threads:
        thread.start()
    http.fetch("GET", upstream.url("/fast"))  # another caller: not held back
    fast = time.monotonic() - started
    for thread in threads:
        thread.join()

    assert fast < 0.25
    assert time.monotonic() - started >= 0.55  # the two slow ones, one after the other
