"""Fetching instances' payloads: one at a time and many in parallel, on real sockets."""

import gzip
import http.client
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import checks.config
from bugtracker import bugzilla
from checks.core import heartbeat
from errors.fetch import USER_AGENT, FetchResult, fetch_many, fetch_one
from errors.tests.periskop_instance import InFlight, PeriskopInstance
from testing.sockets import free_port, raw_server, trickling_body, trickling_headers
from testing.waiting import wait_until

MB = 1024 * 1024
# Slack for thread scheduling on a busy CI machine.
SLACK = 0.4


@pytest.fixture
def instance():
    with PeriskopInstance() as running:
        yield running


def fetch(url, timeout=2.0, max_bytes=MB, **kwargs) -> FetchResult:
    return fetch_one(url, timeout=timeout, max_bytes=max_bytes, **kwargs)


# --- fetch_one --------------------------------------------------------------------------


def test_fetches_and_parses_a_real_instance(instance):
    instance.report(ValueError("x"), times=3)
    instance.report(KeyError("k"), cause=OSError("disk"))

    result = fetch(instance.url)

    assert result.error == ""
    assert result.status == 200
    assert result.url == instance.url
    assert 0 < result.duration < 1
    assert result.payload.target_uuid == instance.target_uuid
    counts = {a.aggregation_key: a.total_count for a in result.payload.aggregated_errors}
    assert counts == instance.counts()
    assert sorted(counts.values()) == [1, 3]


def test_a_body_with_the_known_digest_is_not_parsed(instance):
    instance.report(ValueError("x"))
    first = fetch(instance.url)
    assert first.payload is not None and first.digest and not first.unchanged
    again = fetch(instance.url, known_digest=first.digest)
    assert (again.unchanged, again.payload, again.error) == (True, None, "")
    instance.report(ValueError("x"))  # the body changes
    changed = fetch(instance.url, known_digest=first.digest)
    assert not changed.unchanged and changed.payload is not None
    assert changed.digest != first.digest


def test_the_python_client_answers_http_1_0_without_content_length(instance):
    # What makes this case matter: the body ends when the connection closes.
    connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=2)
    connection.request("GET", "/errors")
    response = connection.getresponse()
    assert response.version == 10
    assert response.getheader("Content-Length") is None
    connection.close()

    result = fetch(instance.url)

    assert result.error == ""
    assert result.payload is not None


def test_connection_refused():
    result = fetch(f"http://127.0.0.1:{free_port()}/errors")

    assert result.error == "connection refused"
    assert result.payload is None
    assert result.status is None
    assert result.duration < 1


def test_stopped_instance_is_refused(instance):
    instance.stop()

    assert fetch(instance.url).error == "connection refused"


def test_hanging_instance_times_out_after_the_timeout(instance):
    instance.hang()

    result = fetch(instance.url, timeout=0.5)

    assert result.error == "timed out after 0.5 s"
    assert result.payload is None
    assert 0.5 <= result.duration < 0.5 + SLACK


def test_trickling_body_is_stopped_at_the_total_deadline(instance):
    # A byte every 0.2 s: each read succeeds, so only a total deadline stops it.
    instance.trickle(interval=0.2)

    result = fetch(instance.url, timeout=1.0)

    assert result.error == "timed out after 1 s"
    assert result.status == 200
    assert result.payload is None
    assert 1.0 <= result.duration < 1.0 + SLACK


def test_trickling_headers_are_stopped_at_the_total_deadline():
    with raw_server(trickling_headers) as url:
        result = fetch(url, timeout=0.8)

    assert result.error == "timed out after 0.8 s"
    assert 0.8 <= result.duration < 0.8 + SLACK


def test_trickling_body_with_content_length_is_stopped_too():
    with raw_server(trickling_body) as url:
        result = fetch(url, timeout=0.6)

    assert result.error == "timed out after 0.6 s"
    assert 0.6 <= result.duration < 0.6 + SLACK


@pytest.mark.parametrize("status", [500, 404, 304])
def test_non_2xx_is_an_error_even_with_a_valid_payload(instance, status):
    instance.report(ValueError("x"))
    instance.answer(instance.export(), status=status)

    result = fetch(instance.url)

    assert result.error == f"HTTP {status}"
    assert result.status == status
    assert result.payload is None


def test_invalid_json(instance):
    instance.answer("<html>oops</html>")

    result = fetch(instance.url)

    assert result.error == "invalid JSON: Expecting value: line 1 column 1 (char 0)"
    assert result.status == 200
    assert result.payload is None


def test_body_not_utf8(instance):
    instance.answer(b'{"aggregated_errors": [], "x": "\xff"}')

    assert fetch(instance.url).error == "invalid JSON: not UTF-8 (invalid start byte at byte 32)"


def test_empty_body(instance):
    instance.answer(b"")

    assert fetch(instance.url).error == "invalid JSON: empty body"


def test_nan_is_not_json(instance):
    instance.answer('{"aggregated_errors": [], "x": NaN}')

    assert fetch(instance.url).error.startswith("invalid JSON: NaN is not valid JSON")


def test_deeply_nested_json_is_refused_without_crashing(instance):
    instance.answer("[" * 100_000 + "]" * 100_000)

    result = fetch(instance.url)

    assert result.error in ("invalid JSON: nested too deeply", "wrong shape: payload: expected an object, got a list of 1")


def test_wrong_shape(instance):
    instance.answer('{"aggregated_errors": [{"aggregation_key": "k", "total_count": "x"}]}')

    result = fetch(instance.url)

    assert result.error == (
        "wrong shape: aggregated_errors[0].total_count: expected a non-negative integer, got 'x'"
    )
    assert result.payload is None


def test_body_over_the_limit_is_stopped_early(instance):
    size = 500 * MB
    instance.huge(size)  # no Content-Length: only streaming can stop it

    result = fetch(instance.url, max_bytes=MB, timeout=5)

    assert result.error == "response over 1 MB"
    assert result.status == 200
    assert result.duration < 1
    wait_until(lambda: instance.in_flight.current == 0, 3.0)
    # What the kernel buffered is all the server could push before we hung up.
    assert instance.bytes_sent < 50 * MB


def test_announced_size_over_the_limit_is_refused_before_reading(instance):
    instance.huge(100 * MB, content_length=True)

    result = fetch(instance.url, max_bytes=MB)

    assert result.error == "response over 1 MB"
    assert result.duration < 1


def test_body_of_exactly_the_limit_is_accepted(instance):
    body = b'{"aggregated_errors": []}'
    body += b" " * (1000 - len(body))
    instance.answer(body)

    assert fetch(instance.url, max_bytes=1000).error == ""
    assert fetch(instance.url, max_bytes=999).error == "response over 999 bytes"


def test_gzip_body_is_decoded(instance):
    instance.report(ValueError("x"))
    instance.answer(gzip.compress(instance.export().encode()), headers={"Content-Encoding": "gzip"})

    result = fetch(instance.url)

    assert result.error == ""
    assert result.payload.aggregated_errors[0].total_count == 1


def test_gzip_bomb_is_stopped_at_the_limit(instance):
    bomb = gzip.compress(b" " * (20 * MB), compresslevel=9)  # about 20 KB
    instance.answer(bomb, headers={"Content-Encoding": "gzip"})

    result = fetch(instance.url, max_bytes=MB)

    assert result.error == "response over 1 MB"


def test_wrong_path_gets_no_answer_from_the_python_client(instance):
    result = fetch(instance.url.replace("/errors", "/metrics"))

    assert result.error == "connection closed without an answer (wrong path?)"


def test_sends_user_agent_and_the_service_headers(upstream):
    upstream.route("/errors", json={"aggregated_errors": []})

    result = fetch(upstream.url("/errors"), headers={"Authorization": "Bearer s3cr3t-token"})

    assert result.error == ""
    _, _, headers = upstream.requests[0]
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Authorization"] == "Bearer s3cr3t-token"
    assert headers["Accept"] == "application/json"


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(upstream):
    upstream.route("/errors", json={"aggregated_errors": []})
    url = upstream.url("/errors").replace("http://", "http://scraper:pa55word@") + "?token=abcdef123"

    result = fetch(url)

    assert result.error == ""
    assert upstream.requests[0][2]["Authorization"] == "Basic c2NyYXBlcjpwYTU1d29yZA=="
    assert "pa55word" not in result.url and "abcdef123" not in result.url
    assert result.url.endswith("/errors?token=***")


def test_secrets_never_appear_in_errors():
    url = f"http://scraper:pa55word@127.0.0.1:{free_port()}/errors?token=abcdef123"

    result = fetch(url, headers={"Authorization": "Bearer s3cr3t-token"})

    assert result.error == "connection refused"
    assert "pa55word" not in repr(result) and "abcdef123" not in repr(result)


def test_redirects_are_followed(upstream):
    upstream.route("/old", status=301, headers={"Location": "/errors"})
    upstream.route("/errors", json={"aggregated_errors": []})

    result = fetch(upstream.url("/old"))

    assert result.error == ""
    assert result.status == 200


def test_a_redirect_to_another_host_is_refused(upstream, other_host):
    upstream.route("/errors", status=302, headers={"Location": other_host.localhost_url("/errors")})
    other_host.route("/errors", json={"aggregated_errors": []})

    result = fetch(upstream.url("/errors"), headers={"X-Api-Key": "k3y-value"})

    assert result.error == f"redirect to another host refused (localhost:{other_host.port})"
    assert result.payload is None and result.status == 302
    assert other_host.requests == []


def test_a_timeout_reads_the_same_from_a_check_a_scrape_and_bugzilla(upstream, monkeypatch):
    fast = replace(checks.config.current, timeout_seconds=0.3, max_retries=0)
    monkeypatch.setattr(checks.config, "current", fast)
    upstream.route("/errors", json={"aggregated_errors": []}, delay=1.0)
    upstream.route("/rest/bug", json={"bugs": []}, delay=1.0)

    scrape = fetch(upstream.url("/errors"), timeout=0.3).error
    _, check = heartbeat.run(upstream.url("/errors"))
    with pytest.raises(bugzilla.BugzillaError) as tracker:
        bugzilla.search(upstream.url(""), "telescope")

    assert scrape == "timed out after 0.3 s"
    assert check.endswith(f"failed: {scrape}")
    assert str(tracker.value).endswith(f"failed: {scrape}")


def test_redirect_loop_fails(upstream):
    upstream.route("/loop", status=302, headers={"Location": "/loop"})

    result = fetch(upstream.url("/loop"))

    assert result.error == "more than 10 redirects"


@pytest.mark.parametrize("url", ["not a url", "ftp://host/errors", "http://", ""])
def test_invalid_urls_are_errors_not_exceptions(url):
    result = fetch(url)

    assert result.error.startswith("invalid URL")
    assert result.payload is None


def test_connections_are_kept_alive_across_fetches_and_threads():
    accepted = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b'{"aggregated_errors": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            accepted.append(1)
            return super().get_request()

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/errors"
    try:
        assert fetch(url).error == ""
        assert fetch(url).error == ""
        # Another scrape, from other threads.
        assert [r.error for _, r in fetch_many([(1, url)], concurrency=1, timeout=2, max_bytes=MB)] == [""]
    finally:
        server.shutdown()
        server.server_close()

    assert len(accepted) == 1


def test_a_timed_out_connection_is_not_reused(upstream):
    upstream.route("/slow", json={"aggregated_errors": []}, delay=0.6)
    upstream.route("/errors", json={"aggregated_errors": []})

    assert fetch(upstream.url("/slow"), timeout=0.3).error == "timed out after 0.3 s"
    # The late answer to /slow must not be read as the answer to /errors.
    result = fetch(upstream.url("/errors"))

    assert result.error == ""


# --- fetch_many -------------------------------------------------------------------------


def test_results_arrive_as_they_complete():
    with PeriskopInstance() as hanging, PeriskopInstance() as fast:
        hanging.hang()
        fast.report(ValueError("x"))
        started = time.monotonic()
        arrivals = []
        for key, result in fetch_many(
            [("hanging", hanging.url), ("fast", fast.url)], concurrency=2, timeout=0.6, max_bytes=MB
        ):
            arrivals.append((key, time.monotonic() - started, result))

    (first, first_at, first_result), (second, second_at, second_result) = arrivals
    assert first == "fast" and first_result.error == ""
    assert first_at < 0.5  # not held back by the hanging one
    assert second == "hanging" and second_result.error == "timed out after 0.6 s"
    assert 0.6 <= second_at < 0.6 + SLACK


def test_a_hanging_target_delays_no_other():
    with PeriskopInstance() as hanging, PeriskopInstance() as fine:
        hanging.hang()
        pairs = [("hanging", hanging.url)] + [(i, fine.url) for i in range(6)]
        started = time.monotonic()
        arrivals = {
            key: time.monotonic() - started
            for key, _ in fetch_many(pairs, concurrency=2, timeout=0.8, max_bytes=MB)
        }

    assert all(arrivals[i] < 0.4 for i in range(6))
    assert arrivals["hanging"] >= 0.8


def test_at_most_concurrency_fetches_in_flight():
    gauge = InFlight()
    instances = [PeriskopInstance(in_flight=gauge).start() for _ in range(8)]
    try:
        for each in instances:
            each.slow(0.3)
        pairs = [(i, each.url) for i, each in enumerate(instances)]

        results = dict(fetch_many(pairs, concurrency=3, timeout=2, max_bytes=MB))
    finally:
        for each in instances:
            each.stop()

    assert sorted(results) == list(range(8))
    assert all(result.error == "" for result in results.values())
    assert gauge.peak == 3  # measured by the servers


def test_urls_are_taken_only_when_a_slot_frees_up(instance):
    taken = []

    def pairs():
        for i in range(50):
            taken.append(i)
            yield i, instance.url

    concurrency = 4
    results = fetch_many(pairs(), concurrency=concurrency, timeout=2, max_bytes=MB)

    assert taken == []  # nothing happens before the first result is asked for
    consumed = 0
    for _ in results:
        consumed += 1
        # Never more than `concurrency` ahead of what the caller has consumed.
        assert len(taken) <= consumed + concurrency
    assert consumed == 50


def test_a_slow_consumer_does_not_make_it_fetch_ahead(instance):
    results = fetch_many([(i, instance.url) for i in range(40)], concurrency=3, timeout=2, max_bytes=MB)

    next(results)
    time.sleep(0.5)  # the caller is busy merging

    # The finished fetches wait for the caller: no more than one refill per result.
    assert instance.requests <= 1 + 3
    results.close()


def test_closing_early_leaves_nothing_running():
    with PeriskopInstance() as slow:
        slow.slow(0.3)
        results = fetch_many([(i, slow.url) for i in range(10)], concurrency=4, timeout=2, max_bytes=MB)
        next(results)
        results.close()

        # The 4 first, plus 1 refill for the result taken; all of them finished.
        assert slow.requests == 5
        assert slow.in_flight.current == 0


def test_keys_may_be_any_object(instance):
    key = object()

    ((got, result),) = list(fetch_many([(key, instance.url)], concurrency=5, timeout=2, max_bytes=MB))

    assert got is key and result.error == ""


def test_no_urls_no_results():
    assert list(fetch_many([], concurrency=4, timeout=1, max_bytes=MB)) == []


def test_concurrency_must_be_positive():
    with pytest.raises(ValueError):
        next(fetch_many([(1, "http://127.0.0.1/")], concurrency=0, timeout=1, max_bytes=MB))


def test_failures_come_back_as_results(instance):
    instance.answer("garbage")
    pairs = [("garbage", instance.url), ("down", f"http://127.0.0.1:{free_port()}/errors"), ("bad", "nope")]

    errors = {key: result.error for key, result in fetch_many(pairs, concurrency=3, timeout=1, max_bytes=MB)}

    assert errors["garbage"].startswith("invalid JSON")
    assert errors["down"] == "connection refused"
    assert errors["bad"].startswith("invalid URL")
