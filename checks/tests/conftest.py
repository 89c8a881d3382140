"""Fixtures for the check tests: fast configuration, dead ports, GitHub, TLS."""

import datetime
import socket
import ssl
import threading
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks import config
from checks.http import client


@pytest.fixture(autouse=True)
def fast_config(monkeypatch):
    """Short timeouts and no retries unless a test asks; restored afterwards,
    including any `config.configure()` the test makes."""
    fast = replace(config.current, timeout_seconds=1.0, connect_timeout_seconds=1.0, max_retries=0)
    monkeypatch.setattr(config, "current", fast)
    monkeypatch.setattr(client, "BACKOFF_FACTOR", 0.01)
    return fast


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def github_api(upstream):
    """The upstream server stands in for the GitHub API."""
    config.configure(github_api_url=upstream.url(""), github_token="")
    return upstream


@pytest.fixture
def github_branch(github_api):
    """Program `GET /repos/{repo}/branches/{branch}` like GitHub answers it."""

    def route(repo, branch, sha, date, login="alice", message="Fix the thing\n\nDetails"):
        author = {"login": login} if login else None
        commit = {"author": {"name": "Alice Liddell", "date": date}, "message": message}
        payload = {"name": branch, "commit": {"sha": sha, "author": author, "commit": commit}}
        return github_api.route(f"/repos/{repo}/branches/{branch}", json=payload)

    return route


def iso_ago(**delta) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ago():
    """`ago(days=3)`: a GitHub-style timestamp that long ago."""
    return iso_ago


@pytest.fixture
def make_certificate():
    """`make_certificate(valid_days_ago, expires_in_days) -> (cert_pem, key_pem)`,
    a self-signed certificate for 127.0.0.1."""

    def make(valid_days_ago: float, expires_in_days: float) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=valid_days_ago))
            .not_valid_after(now + datetime.timedelta(days=expires_in_days))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    return make


class TLSServer:
    """Completes TLS handshakes on 127.0.0.1 (ephemeral port), then hangs up."""

    def __init__(self, certfile, keyfile):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path="/"):
        return f"https://127.0.0.1:{self.port}{path}"

    def close(self):
        _close_listener(self.sock)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed by the test
                return
            conn.settimeout(2)
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    pass
            except OSError:  # e.g. the client refused our self-signed certificate
                conn.close()


@pytest.fixture
def tls_server(tmp_path):
    """`tls_server(cert_pem, key_pem)` starts a `TLSServer`; closed after the test."""
    servers = []

    def start(cert_pem: bytes, key_pem: bytes) -> TLSServer:
        certfile = tmp_path / f"cert{len(servers)}.pem"
        keyfile = tmp_path / f"key{len(servers)}.pem"
        certfile.write_bytes(cert_pem)
        keyfile.write_bytes(key_pem)
        servers.append(TLSServer(certfile, keyfile))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def dropping_server():
    """A server that accepts connections and closes them at once, counting them."""
    sock = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/", accepted
    _close_listener(sock)


def _close_listener(sock):
    # shutdown() wakes the thread blocked in accept(); close() alone may not.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
