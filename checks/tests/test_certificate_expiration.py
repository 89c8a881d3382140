from datetime import datetime, timezone

from cryptography import x509

from checks.core import certificate_expiration


def expiry_of(cert_pem: bytes) -> str:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc.isoformat()


def test_certificate_far_from_expiry_passes(make_certificate, tls_server):
    cert_pem, key_pem = make_certificate(valid_days_ago=30, expires_in_days=300)
    server = tls_server(cert_pem, key_pem)

    result = certificate_expiration.run(url=server.url())

    assert result == (True, {"expires": expiry_of(cert_pem)})


def test_certificate_expiring_soon_fails(make_certificate, tls_server):
    cert_pem, key_pem = make_certificate(valid_days_ago=85, expires_in_days=5)
    server = tls_server(cert_pem, key_pem)

    result = certificate_expiration.run(url=server.url("/some/page"))

    assert result == (False, {"expires": expiry_of(cert_pem)})


def test_certificate_served_as_pem_over_http_is_read(upstream, make_certificate):
    cert_pem, _ = make_certificate(valid_days_ago=30, expires_in_days=300)
    url = upstream.route("/chain.pem", body=cert_pem, headers={"Content-Type": "text/plain"})

    assert certificate_expiration.run(url=url) == (True, {"expires": expiry_of(cert_pem)})


def test_threshold_is_capped_by_max_remaining_days(upstream, make_certificate):
    # A 2-year certificate: 5% is 36 days, capped to 30, so 25 days left fails.
    cert_pem, _ = make_certificate(valid_days_ago=705, expires_in_days=25.5)
    url = upstream.route("/chain.pem", body=cert_pem)

    assert certificate_expiration.run(url=url)[0] is False
    assert certificate_expiration.run(url=url, max_remaining_days=20)[0] is True


def test_threshold_is_raised_to_min_remaining_days(upstream, make_certificate):
    # A 90-day certificate: 5% is 4.5 days, raised to 10, so 12 days left passes.
    cert_pem, _ = make_certificate(valid_days_ago=78, expires_in_days=12.5)
    url = upstream.route("/chain.pem", body=cert_pem)

    assert certificate_expiration.run(url=url)[0] is True
    assert certificate_expiration.run(url=url, min_remaining_days=14)[0] is False


def test_certificate_of_an_unreachable_server_fails_with_message(closed_port_url):
    url = closed_port_url.replace("http://", "https://")

    success, data = certificate_expiration.run(url=url)

    assert not success
    assert "connection refused" in data["error"]
    assert "Connection refused" in data["error"]  # the TLS attempt, on the same port


def test_certificate_expiration_exposes_its_url():
    assert "url" in certificate_expiration.EXPOSED_PARAMETERS


def test_certificate_expiry_is_reported_in_utc(make_certificate, tls_server):
    cert_pem, key_pem = make_certificate(valid_days_ago=1, expires_in_days=60)
    server = tls_server(cert_pem, key_pem)

    _, data = certificate_expiration.run(url=server.url())

    assert datetime.fromisoformat(data["expires"]).utcoffset() == timezone.utc.utcoffset(None)
