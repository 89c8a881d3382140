"""
The TLS certificate of URL should not expire too soon.

The certificate is the PEM document served at `url` when there is one (e.g.
`https://example.com/chain.pem`); otherwise it is the certificate presented by
the TLS server at the URL's host and port (443 when the URL has no port). It is
fetched without verifying it, so that an expired or self-signed certificate is
reported rather than refused.

The alert threshold depends on the certificate's lifespan: the check succeeds when
the days left are more than `lifespan × percentage_remaining_validity / 100`,
bounded by `min_remaining_days` and `max_remaining_days`. A 90-day certificate
with the defaults must have more than 10 days left; a 2-year certificate, more
than 30.

The data is `{"expires": "<ISO 8601 date>"}`, or `{"error": "…"}` when no
certificate could be obtained.

Parameters:

* `url` (string): an `https://` URL, or the URL of a PEM certificate.
* `percentage_remaining_validity` (integer, default `5`): the share of the lifespan
  that must remain.
* `min_remaining_days` (integer, default `10`): the threshold never goes below this.
* `max_remaining_days` (integer, default `30`): nor above this.

Example:

```toml
[checks.myproject.certificate]
description = "The certificate is renewed in time."
module = "checks.core.certificate_expiration"
params.url = "https://myproject.example.com:8443/"
params.min_remaining_days = 14
```
"""

import socket
import ssl
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from checks import config, http

EXPOSED_PARAMETERS = ["url", "min_remaining_days", "max_remaining_days"]
URL_PARAMETERS: list[str] = []


def run(
    url: str,
    percentage_remaining_validity: int = 5,
    min_remaining_days: int = 10,
    max_remaining_days: int = 30,
) -> tuple[bool, Any]:
    try:
        cert = fetch_certificate(url)
    except CertificateError as exc:
        return False, {"error": str(exc)}
    lifespan = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    relative = lifespan * percentage_remaining_validity / 100
    threshold = int(min(max_remaining_days, max(min_remaining_days, relative)))
    remaining = (cert.not_valid_after_utc - datetime.now(timezone.utc)).days
    return remaining > threshold, {"expires": cert.not_valid_after_utc.isoformat()}


class CertificateError(Exception):
    pass


def fetch_certificate(url: str) -> x509.Certificate:
    """The PEM served at `url`, or else the certificate of its TLS server."""
    try:
        return x509.load_pem_x509_certificate(http.fetch_text(url).encode())
    except (http.HTTPError, ValueError) as exc:
        # Not a PEM, or not fetchable with verification (e.g. expired): ask TLS.
        pem_problem = str(exc) if isinstance(exc, http.HTTPError) else "not a PEM document"
    host, port = _address(url)
    try:
        return x509.load_der_x509_certificate(_peer_certificate(host, port))
    except (OSError, ValueError) as exc:
        raise CertificateError(
            f"No certificate at {http.safe_url(url)} ({pem_problem}), "
            f"nor from TLS on {host}:{port} ({str(exc) or type(exc).__name__})"
        ) from None


def _address(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 443
    except ValueError as exc:  # e.g. a port out of range
        raise CertificateError(f"Invalid URL: {exc}") from None
    if not host:
        raise CertificateError(f"Invalid URL {http.safe_url(url)!r}: no host name")
    return host, port


def _peer_certificate(host: str, port: int) -> bytes:
    """The DER certificate a TLS server presents, unverified on purpose."""
    cfg = config.current
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=cfg.connect_timeout_seconds) as sock:
        sock.settimeout(cfg.timeout_seconds)
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ValueError("the server presented no certificate")
    return der
