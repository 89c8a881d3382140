import shutil

import pytest

from checks import config
from checks.core import http_versions

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

# curl exits with 2 for an option its libcurl cannot honour, as for --http3 here.
CURL_WITHOUT_HTTP3 = """#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = "--http3" ]; then
    echo "curl: option --http3: the installed libcurl version doesn't support this" >&2
    exit 2
  fi
done
exec curl "$@"
"""


@pytest.fixture
def curl_without_http3(tmp_path):
    path = tmp_path / "curl"
    path.write_text(CURL_WITHOUT_HTTP3)
    path.chmod(0o755)
    config.configure(curl_binary_path=str(path))
    return path


def test_http_versions_as_expected_pass(upstream):
    url = upstream.route("/", body="ok")

    # Over plain http, curl falls back to HTTP/1.1 for --http2, and the server
    # answers --http1.0 with HTTP/1.1 too.
    assert http_versions.run(url=url, versions=["1.1"]) == (True, ["1.1"])


def test_http_versions_of_an_http10_server_pass(upstream, monkeypatch):
    monkeypatch.setattr(upstream.server.RequestHandlerClass, "protocol_version", "HTTP/1.0")
    url = upstream.route("/", body="ok")

    assert http_versions.run(url=url, versions=["1"]) == (True, ["1"])


def test_http_versions_missing_fail(upstream):
    url = upstream.route("/", body="ok")

    result = http_versions.run(url=url, versions=["1.1", "2"])

    assert result == (False, "HTTP version(s) 2 unsupported")


def test_http_versions_unexpectedly_supported_fail(upstream):
    url = upstream.route("/", body="ok")

    result = http_versions.run(url=url, versions=[])

    assert result == (False, "HTTP version(s) 1.1 unexpectedly supported")


def test_http_versions_says_when_local_curl_cannot_test_a_version(upstream, curl_without_http3):
    url = upstream.route("/", body="ok")

    success, data = http_versions.run(url=url)

    assert not success
    assert data == "HTTP version(s) 1, 2, 3 unsupported (the local curl cannot test HTTP/3)"


def test_http_versions_send_user_agent_and_default_headers(upstream):
    config.configure(user_agent="telescope-test", default_headers={"X-Team": "sre"})
    url = upstream.route("/", body="ok")

    http_versions.run(url=url, versions=["1.1"])

    method, _, headers = upstream.requests[0]
    assert method == "HEAD"
    assert headers["User-Agent"] == "telescope-test"
    assert headers["X-Team"] == "sre"


def test_http_versions_of_an_unreachable_url_fail_with_message(closed_port_url):
    success, data = http_versions.run(url=closed_port_url)

    assert not success
    assert data.startswith("URL unreachable with curl: curl: (7)")


def test_http_versions_without_curl_fail_with_message(upstream, tmp_path):
    config.configure(curl_binary_path=str(tmp_path / "no-curl"))

    success, data = http_versions.run(url=upstream.url("/"))

    assert not success
    assert data == f"curl not found at '{tmp_path / 'no-curl'}' (CURL_BINARY_PATH)"
