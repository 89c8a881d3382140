from checks.core import headers


def test_headers_all_present_pass(upstream):
    url = upstream.route("/", headers={"Content-Encoding": "gzip", "Vary": "Accept"})

    result = headers.run(
        urls=[url], request_headers={}, response_headers={"content-encoding": "gzip", "Vary": ""}
    )

    assert result == (True, {})


def test_headers_sends_the_request_headers(upstream):
    url = upstream.route("/")

    headers.run(urls=[url], request_headers={"Accept-Encoding": "br"}, response_headers={})

    method, _, sent = upstream.requests[0]
    assert method == "HEAD"
    assert sent["Accept-Encoding"] == "br"


def test_headers_missing_or_different_are_reported_per_url(upstream):
    good = upstream.route("/good", headers={"Content-Encoding": "gzip", "Vary": "Accept"})
    bad = upstream.route("/bad", headers={"Content-Encoding": "br"})

    success, data = headers.run(
        urls=[good, bad],
        request_headers={"Accept-Encoding": "gzip"},
        response_headers={"Content-Encoding": "gzip", "Vary": ""},
    )

    assert not success
    assert data == {bad: {"missing": {"Content-Encoding": "gzip", "Vary": ""}}}


def test_headers_unreachable_url_fails_with_message(upstream, closed_port_url):
    good = upstream.route("/", headers={"Vary": "Accept"})

    success, data = headers.run(
        urls=[good, closed_port_url], request_headers={}, response_headers={"Vary": ""}
    )

    assert not success
    assert list(data) == [closed_port_url]
    assert "connection refused" in data[closed_port_url]["error"]
