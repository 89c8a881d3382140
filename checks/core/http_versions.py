"""
URL should be reachable with exactly the expected HTTP versions.

`curl` requests the URL (`HEAD`) once with each of `--http1.0`, `--http1.1`,
`--http2` and `--http3`, and records the HTTP version the server actually answered
with. Note that servers usually answer an HTTP/1.0 request with HTTP/1.1, and that
HTTP/2 and HTTP/3 are normally only offered over `https://`.

The check succeeds when the versions reached are exactly `versions`; the data is
then the list of versions. Otherwise the data is a message such as
`HTTP version(s) 3 unsupported` or `HTTP version(s) 1.1 unexpectedly supported`.
When the curl of this service cannot speak a version itself (often HTTP/3), that
version counts as unsupported and the message says so. The check also fails with
a message when the URL cannot be reached at all, or when curl is missing.

The curl binary is the service's `CURL_BINARY_PATH` setting; the service's
user agent, default headers and timeouts are used.

Parameters:

* `url` (string): the URL to request.
* `versions` (list of strings, default `["1", "1.1", "2", "3"]`): the versions
  expected, as curl names them: `1` (HTTP/1.0), `1.1`, `2`, `3`.

Example:

```toml
[checks.myproject.http-versions]
description = "The CDN speaks HTTP/2 and HTTP/3."
module = "checks.core.http_versions"
params.url = "https://cdn.example.com/"
params.versions = ["1.1", "2", "3"]
```
"""

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from checks import config

EXPOSED_PARAMETERS = ["url", "versions"]
URL_PARAMETERS: list[str] = []

CURL_VERSION_FLAGS = {"1": "--http1.0", "1.1": "--http1.1", "2": "--http2", "3": "--http3"}

# curl exit code 2 ("failed to initialize") is what an unknown or unsupported
# option gives, e.g. "--http3: the installed libcurl version doesn't support this".
CURL_UNSUPPORTED_OPTION = 2


@dataclass
class Attempt:
    flag: str
    version: str = ""  # what the server answered with, "" when nothing
    curl_lacks_flag: bool = False
    error: str = ""


class CurlMissing(Exception):
    pass


def run(url: str, versions: list[str] = ["1", "1.1", "2", "3"]) -> tuple[bool, Any]:  # noqa: B006
    flags = CURL_VERSION_FLAGS.values()
    try:
        with ThreadPoolExecutor(max_workers=len(flags)) as pool:
            attempts = list(pool.map(lambda flag: _attempt(url, flag), flags))
    except CurlMissing as exc:
        return False, str(exc)
    return _judge(attempts, versions)


def _judge(attempts: list[Attempt], versions: list[str]) -> tuple[bool, Any]:
    reached = {a.version for a in attempts if a.version}
    if not reached:
        errors = sorted({a.error for a in attempts if a.error and not a.curl_lacks_flag})
        return False, "URL unreachable with curl: " + ("; ".join(errors) or "no answer")
    if missing := set(versions) - reached:
        note = _curl_note(attempts, missing)
        return False, f"HTTP version(s) {_join(missing)} unsupported{note}"
    if extra := reached - set(versions):
        return False, f"HTTP version(s) {_join(extra)} unexpectedly supported"
    return True, _sorted(reached)


def _attempt(url: str, flag: str) -> Attempt:
    cfg = config.current
    try:
        result = subprocess.run(
            _command(url, flag),
            input=_header_lines(cfg.default_headers),
            capture_output=True,
            text=True,
            timeout=cfg.connect_timeout_seconds + cfg.timeout_seconds + 5,
        )
    except FileNotFoundError:
        message = f"curl not found at {cfg.curl_binary_path!r} (CURL_BINARY_PATH)"
        raise CurlMissing(message) from None
    except subprocess.TimeoutExpired:
        return Attempt(flag, error=f"curl {flag} timed out")
    return _outcome(flag, result)


def _command(url: str, flag: str) -> list[str]:
    cfg = config.current
    return [
        cfg.curl_binary_path, flag, "--silent", "--show-error", "--head",
        "--output", "/dev/null", "--write-out", "%{http_version}",
        "--connect-timeout", str(cfg.connect_timeout_seconds),
        "--max-time", str(cfg.timeout_seconds),
        "--user-agent", cfg.user_agent,
        "--header", "@-",  # headers from stdin, so no secret shows in `ps`
        "--", url,
    ]  # fmt: skip


def _outcome(flag: str, result: subprocess.CompletedProcess) -> Attempt:
    version = result.stdout.strip()
    if result.returncode == 0 and version not in ("", "0"):
        return Attempt(flag, version=version)
    error = " ".join(result.stderr.split()) or f"curl exit code {result.returncode}"
    lacks = result.returncode == CURL_UNSUPPORTED_OPTION and flag in result.stderr
    return Attempt(flag, curl_lacks_flag=lacks, error=error)


def _header_lines(headers: dict) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


def _curl_note(attempts: list[Attempt], missing: set[str]) -> str:
    lacking = {a.flag for a in attempts if a.curl_lacks_flag}
    untestable = {v for v, flag in CURL_VERSION_FLAGS.items() if v in missing and flag in lacking}
    return f" (the local curl cannot test HTTP/{_join(untestable)})" if untestable else ""


def _sorted(versions: set[str]) -> list[str]:
    order = list(CURL_VERSION_FLAGS)
    return sorted(versions, key=lambda v: (order.index(v) if v in order else len(order), v))


def _join(versions: set[str]) -> str:
    return ", ".join(_sorted(versions))
