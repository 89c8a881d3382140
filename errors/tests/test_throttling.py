"""
Anonymous readers of the errors APIs are rate-limited per client IP
(ERRORS_ANONYMOUS_RATE); token holders and staff are not; /__lbheartbeat__ never is.
"""

import pytest

pytestmark = pytest.mark.django_db

READS = ["/services/", "/services/shop/errors/", "/targets/", "/api/errors/groups/"]


@pytest.mark.parametrize("path", READS)
def test_anonymous_readers_past_the_rate_get_429(client, make_group, settings, path):
    settings.ERRORS_ANONYMOUS_RATE = "3/minute"
    make_group("A@x")
    statuses = [client.get(path).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get(path)["Retry-After"]


def test_the_rate_is_per_client_address(client, make_group, settings):
    settings.ERRORS_ANONYMOUS_RATE = "1/minute"
    make_group("A@x")
    assert client.get("/services/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/services/", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get("/services/", REMOTE_ADDR="10.0.0.2").status_code == 200
    # Behind a proxy: the address the proxy added last.
    forwarded = {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 10.0.0.9", "REMOTE_ADDR": "10.0.0.1"}
    assert client.get("/services/", **forwarded).status_code == 200
    assert client.get("/services/", **forwarded).status_code == 429


def test_token_holders_and_staff_are_not_limited(client, staff_client, make_group, settings, api_token):
    settings.ERRORS_ANONYMOUS_RATE = "1/minute"
    make_group("A@x")
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token}"}
    assert {client.get("/services/shop/errors/", **auth).status_code for _ in range(3)} == {200}
    assert {staff_client.get("/api/errors/groups/").status_code for _ in range(3)} == {200}


def test_lbheartbeat_is_never_limited(client, settings):
    settings.ERRORS_ANONYMOUS_RATE = "1/minute"
    client.get("/services/")
    assert client.get("/services/").status_code == 429
    assert {client.get("/__lbheartbeat__").status_code for _ in range(5)} == {200}
