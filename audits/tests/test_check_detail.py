"""`GET|HEAD /checks/{project}/{name}`: one check run, through the cache."""

import socket
import threading
from dataclasses import replace

import pytest
from django.test import Client

from audits import runner
from audits.tests.checkmods import counter

SECRET = "let-me-refresh-42"


@pytest.fixture
def refresh_secret(settings):
    settings.REFRESH_SECRET = SECRET
    return SECRET


# --- running ----------------------------------------------------------------------


def test_check_passing_is_200_with_its_result(client, make_check):
    make_check("web", "home", params={"url": "https://e.test", "limit": 3})
    response = client.get("/checks/web/home")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    result = response.json()
    assert isinstance(result, dict)
    assert (result["project"], result["name"], result["success"]) == ("web", "home", True)
    assert result["data"]["limit"] == 3
    assert result["url"] == "/checks/web/home"
    assert result["buglist"] == []
    (point,) = result["history"]  # this very run, with echo's plot value (limit)
    assert (point["success"], point["scalar"]) == (True, 3.0)
    assert result["datetime"].endswith("+00:00")
    assert isinstance(result["duration"], int)


def test_check_failing_is_503(client, make_check):
    make_check("web", "home", params={"url": "u", "ok": False})
    response = client.get("/checks/web/home")
    assert response.status_code == 503
    assert response.json()["success"] is False


def test_check_crashing_is_500_with_the_error_in_data(client, make_check):
    make_check("web", "boom", module="crash", params={"message": "disk on fire"})
    response = client.get("/checks/web/boom")
    assert response.status_code == 500
    result = response.json()
    assert result["success"] is False
    assert result["data"] == "RuntimeError: disk on fire"
    assert (result["project"], result["name"]) == ("web", "boom")


def test_check_that_cannot_start_is_500(client, make_check, monkeypatch):
    monkeypatch.delenv("DETAIL_UNSET_VAR", raising=False)
    make_check("web", "home", params={"url": "${DETAIL_UNSET_VAR}"})
    response = client.get("/checks/web/home")
    assert response.status_code == 500
    assert "DETAIL_UNSET_VAR" in response.json()["data"]


def test_head_runs_the_check_too(client, make_check):
    make_check("web", "c", module="counter", ttl=60)
    response = client.head("/checks/web/c")
    assert response.status_code == 200
    assert response.content == b""
    assert counter.calls() == [""]


def test_head_of_a_failing_check_is_503(client, make_check):
    make_check("web", "home", params={"url": "u", "ok": False})
    assert client.head("/checks/web/home").status_code == 503


def test_unknown_check_is_404(client, make_check):
    make_check("web", "home")
    response = client.get("/checks/web/nope")
    assert response.status_code == 404
    assert "web/nope" in response.json()["detail"]


def test_unknown_project_is_404(client, make_check):
    make_check("web", "home")
    assert client.get("/checks/nope/home").status_code == 404


def test_disabled_check_is_404(client, make_check):
    make_check("web", "home", module="counter", enabled=False)
    assert client.get("/checks/web/home").status_code == 404
    assert counter.calls() == []


def test_check_with_unacceptable_accept_is_406_and_runs_nothing(client, make_check):
    make_check("web", "c", module="counter")
    assert client.get("/checks/web/c", HTTP_ACCEPT="image/png").status_code == 406
    assert counter.calls() == []


def test_check_in_text_is_a_one_line_table(client, make_check):
    make_check("web", "home")
    response = client.get("/checks/web/home", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response.content.decode() == "web  home  True\n"


def test_failing_check_in_text_keeps_503_and_has_details(client, make_check):
    make_check("web", "home", params={"url": "u", "ok": False})
    response = client.get("/checks/web/home", HTTP_ACCEPT="text/plain")
    assert response.status_code == 503
    text = response.content.decode()
    assert text.startswith("web  home  False\n\n\nweb  home\n")
    assert "  Data:\n" in text


# --- cache and refresh ------------------------------------------------------------


def test_second_request_is_served_from_cache(client, make_check):
    make_check("web", "c", module="counter", ttl=60)
    first = client.get("/checks/web/c").json()
    second = client.get("/checks/web/c").json()
    assert counter.calls() == [""]
    assert second["data"] == first["data"] == 1
    assert second["datetime"] == first["datetime"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_cold_requests_share_one_run(make_check):
    make_check("web", "c", module="counter", params={"seconds": 0.3}, ttl=60)
    statuses = []

    def request():
        statuses.append(Client().get("/checks/web/c").status_code)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert len(counter.calls()) == 1


def test_ttl_zero_runs_on_every_request(client, make_check):
    make_check("web", "c", module="counter", ttl=0)
    client.get("/checks/web/c")
    assert client.get("/checks/web/c").json()["data"] == 2


def test_refresh_with_the_secret_runs_again(client, make_check, refresh_secret):
    make_check("web", "c", module="counter", ttl=60)
    client.get("/checks/web/c")
    response = client.get(f"/checks/web/c?refresh={refresh_secret}")
    assert response.status_code == 200
    assert response.json()["data"] == 2
    assert len(counter.calls()) == 2


def test_refresh_overwrites_the_cached_result(client, make_check, refresh_secret):
    make_check("web", "c", module="counter", ttl=60)
    client.get("/checks/web/c")
    client.get(f"/checks/web/c?refresh={refresh_secret}")
    assert client.get("/checks/web/c").json()["data"] == 2
    assert len(counter.calls()) == 2


def test_refresh_with_wrong_secret_is_refused(client, make_check, refresh_secret):
    make_check("web", "c", module="counter", ttl=60)
    response = client.get("/checks/web/c?refresh=not-the-secret")
    assert response.status_code == 400
    # Telescope's UI matches the reason phrase to forget its stored secret.
    assert response.reason_phrase == "Invalid refresh secret"
    assert response.json()["detail"] == "Invalid refresh secret"
    assert counter.calls() == []


def test_refresh_with_empty_secret_is_refused(client, make_check, refresh_secret):
    make_check("web", "c", module="counter")
    response = client.get("/checks/web/c?refresh=")
    assert response.status_code == 400
    assert response.reason_phrase == "Invalid refresh secret"
    assert counter.calls() == []


def test_refresh_with_wrong_secret_does_not_serve_the_cached_result(
    client, make_check, refresh_secret
):
    make_check("web", "c", module="counter", ttl=60)
    client.get("/checks/web/c")
    response = client.get("/checks/web/c?refresh=nope")
    assert response.status_code == 400
    assert "data" not in response.json()
    assert len(counter.calls()) == 1


def test_refresh_with_wrong_secret_in_text_says_why(client, make_check, refresh_secret):
    make_check("web", "c", module="counter")
    response = client.get("/checks/web/c?refresh=nope", HTTP_ACCEPT="text/plain")
    assert response.status_code == 400
    assert response.content.decode() == "Invalid refresh secret\n"


def test_refresh_without_refresh_secret_configured_is_forbidden(client, make_check, settings):
    settings.REFRESH_SECRET = ""
    make_check("web", "c", module="counter", ttl=60)
    response = client.get("/checks/web/c?refresh=anything")
    assert response.status_code == 403
    assert "REFRESH_SECRET" in response.json()["detail"]
    assert counter.calls() == []


def test_refresh_of_an_unknown_check_is_404(client, make_check, refresh_secret):
    make_check("web", "c")
    assert client.get(f"/checks/web/nope?refresh={refresh_secret}").status_code == 404


def test_refresh_secret_is_not_echoed_in_the_response(client, make_check, refresh_secret):
    make_check("web", "home")
    response = client.get(f"/checks/web/home?refresh={refresh_secret}")
    assert response.status_code == 200
    assert refresh_secret.encode() not in response.content


# --- URL parameters -----------------------------------------------------------------


def test_url_parameter_overrides_and_is_cast_to_int(client, make_check):
    make_check("web", "e", params={"url": "u", "limit": 1})
    response = client.get("/checks/web/e?limit=5")
    assert response.status_code == 200
    assert response.json()["data"]["limit"] == 5


def test_repeated_url_parameter_gives_a_list(client, make_check):
    make_check("web", "e", params={"url": "u", "names": ["configured"]})
    response = client.get("/checks/web/e?names=a&names=b")
    assert response.json()["data"]["names"] == ["a", "b"]


def test_single_url_parameter_for_a_list_gives_a_one_item_list(client, make_check):
    make_check("web", "e")
    assert client.get("/checks/web/e?names=solo").json()["data"]["names"] == ["solo"]


def test_url_parameter_override_has_its_own_cache_entry(client, make_check):
    make_check("web", "e", params={"url": "u", "limit": 1}, ttl=60)
    plain = client.get("/checks/web/e").json()
    overridden = client.get("/checks/web/e?limit=7").json()
    assert (plain["data"]["limit"], overridden["data"]["limit"]) == (1, 7)
    # Both stay cached, each under its own key.
    again_plain = client.get("/checks/web/e").json()
    again_overridden = client.get("/checks/web/e?limit=7").json()
    assert again_plain == plain
    assert again_overridden == overridden


def test_url_parameter_does_not_change_the_shown_parameters(client, make_check):
    make_check("web", "e", params={"url": "https://e.test"})
    response = client.get("/checks/web/e?limit=3")
    assert response.json()["parameters"] == {"url": "https://e.test"}


def test_bad_url_parameter_value_is_400_naming_it(client, make_check):
    make_check("web", "e", module="echo")
    response = client.get("/checks/web/e?limit=many")
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


def test_bad_url_parameter_value_runs_nothing(client, make_check, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "run_check", lambda *a, **k: calls.append(a))
    make_check("web", "e")
    assert client.get("/checks/web/e?limit=1.5").status_code == 400
    assert calls == []


def test_query_parameter_not_in_url_parameters_is_ignored(client, make_check):
    make_check("web", "e", params={"url": "https://configured.test", "ok": True})
    response = client.get("/checks/web/e?url=https://evil.test&ok=false&ports=1")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["url"] == "https://configured.test"
    assert data["ports"] == []
    assert b"evil.test" not in response.content


def test_format_query_parameter_does_not_switch_the_output(client, make_check):
    # Query parameters belong to the checks; the output type comes from Accept.
    make_check("web", "e")
    response = client.get("/checks/web/e?format=txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_unknown_format_query_parameter_is_ignored(client, make_check):
    make_check("web", "e")
    response = client.get("/checks/web/e?format=csv")
    assert response.status_code == 200
    assert response.json()["success"] is True


def test_url_parameter_is_not_resolved_as_a_placeholder(client, make_check, monkeypatch):
    monkeypatch.setenv("DETAIL_PRIVATE_VALUE", "hush-hush-value")
    make_check("web", "e")
    response = client.get("/checks/web/e", {"names": "${DETAIL_PRIVATE_VALUE}"})
    assert response.json()["data"]["names"] == ["${DETAIL_PRIVATE_VALUE}"]
    assert b"hush-hush-value" not in response.content


def test_refresh_with_url_parameter_runs_the_overridden_check(
    client, make_check, refresh_secret
):
    make_check("web", "e", params={"url": "u"}, ttl=60)
    first = client.get("/checks/web/e?limit=4").json()
    refreshed = client.get(f"/checks/web/e?limit=4&refresh={refresh_secret}").json()
    assert refreshed["data"]["limit"] == 4
    assert refreshed["datetime"] != first["datetime"]


# --- secrets ------------------------------------------------------------------------


def test_resolved_secret_never_appears_in_the_response(client, make_check, monkeypatch):
    monkeypatch.setenv("DETAIL_API_TOKEN", "tok-7f3a9c2e5b")
    make_check("web", "e", params={"url": "https://h/?token=${DETAIL_API_TOKEN}"})
    response = client.get("/checks/web/e")
    assert response.status_code == 200
    assert b"tok-7f3a9c2e5b" not in response.content
    result = response.json()
    assert result["parameters"]["url"] == "https://h/?token=${DETAIL_API_TOKEN}"
    assert result["data"]["url"] == "https://h/?token=${DETAIL_API_TOKEN}"


def test_resolved_secret_never_appears_in_a_crash(client, make_check, monkeypatch):
    monkeypatch.setenv("DETAIL_API_TOKEN", "tok-7f3a9c2e5b")
    make_check("web", "boom", module="crash", params={"message": "bad ${DETAIL_API_TOKEN}"})
    response = client.get("/checks/web/boom")
    assert response.status_code == 500
    assert b"tok-7f3a9c2e5b" not in response.content


def test_resolved_secret_never_appears_in_text(client, make_check, monkeypatch):
    monkeypatch.setenv("DETAIL_API_TOKEN", "tok-7f3a9c2e5b")
    make_check("web", "e", params={"url": "https://h/?t=${DETAIL_API_TOKEN}", "ok": False})
    response = client.get("/checks/web/e", HTTP_ACCEPT="text/plain")
    assert response.status_code == 503
    assert b"tok-7f3a9c2e5b" not in response.content
    assert b"${DETAIL_API_TOKEN}" in response.content


# --- end to end with a built-in check ---------------------------------------------


@pytest.fixture
def no_retries(monkeypatch):
    checks_config = pytest.importorskip("checks.config")
    fast = replace(
        checks_config.current, max_retries=0, timeout_seconds=2.0, connect_timeout_seconds=1.0
    )
    monkeypatch.setattr(checks_config, "current", fast)


@pytest.fixture
def heartbeat_check(make_check, no_retries):
    pytest.importorskip("checks.core.heartbeat")

    def make(url, **params):
        return make_check(
            "upstream", "heartbeat", "checks.core.heartbeat", params={"url": url, **params}
        )

    return make


def test_heartbeat_of_a_healthy_upstream_is_200(client, heartbeat_check, upstream):
    heartbeat_check(upstream.route("/__heartbeat__", json={"database": "ok"}))
    response = client.get("/checks/upstream/heartbeat")
    assert response.status_code == 200
    result = response.json()
    assert result["success"] is True
    assert result["data"] == {"database": "ok"}
    assert upstream.hits("/__heartbeat__") == 1


def test_heartbeat_of_an_upstream_answering_500_is_503(client, heartbeat_check, upstream):
    heartbeat_check(upstream.route("/__heartbeat__", status=500, json={"database": "down"}))
    response = client.get("/checks/upstream/heartbeat")
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert response.json()["data"] == {"database": "down"}


def test_heartbeat_expected_status_is_honoured(client, heartbeat_check, upstream):
    heartbeat_check(upstream.route("/gone", status=410, body="gone"), expected_status="410")
    response = client.get("/checks/upstream/heartbeat")
    assert response.status_code == 200
    assert response.json()["data"] == "gone"


def test_heartbeat_of_an_unreachable_upstream_is_503(client, heartbeat_check):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    heartbeat_check(f"http://127.0.0.1:{port}/__heartbeat__")
    response = client.get("/checks/upstream/heartbeat")
    assert response.status_code == 503
    result = response.json()
    assert result["success"] is False
    assert isinstance(result["data"], str) and str(port) in result["data"]


def test_url_query_parameter_cannot_redirect_the_heartbeat(client, heartbeat_check, upstream):
    heartbeat_check(upstream.route("/__heartbeat__", json={}))
    elsewhere = upstream.route("/elsewhere", json={})
    response = client.get("/checks/upstream/heartbeat", {"url": elsewhere})
    assert response.status_code == 200
    assert upstream.hits("/__heartbeat__") == 1
    assert upstream.hits("/elsewhere") == 0


def test_url_parameter_override_is_shown_in_the_parameters_of_the_answer(client, make_check):
    make_check("web", "queue", module="queue", params={"url": "http://q", "max_length": 100})
    body = client.get("/checks/web/queue?max_length=3").json()
    assert body["parameters"] == {"url": "http://q", "max_length": 3}
    assert body["success"] is False  # the run took 3, as the answer now says
    assert client.get("/checks/web/queue").json()["parameters"]["max_length"] == 100
