"""Periskop's API, byte-compatible: services, errors, resolve, targets, health, push."""


import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from errors import scraper
from errors.models import ErrorGroup, GroupStatus, Service, Target
from errors.tests.periskop_instance import PeriskopInstance


@pytest.fixture
def scraped(db):
    """A service `api` scraped once from a real client with a chained error."""
    with PeriskopInstance() as instance:
        key = instance.report(
            KeyError("k"), times=2, cause=OSError("disk"),
            http_context={"request_method": "GET", "request_url": "http://x/a",
                          "request_headers": {"Accept": "*/*"}, "request_body": ""},
        )
        service = Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        scraper.scrape(service)
        yield key, instance.payload()


def test_services_lists_names(client, scraped):
    Service.objects.create(name="billing")
    assert client.get("/services/").json() == ["api", "billing"]


def test_errors_have_periskop_shape(client, scraped):
    key, _ = scraped
    (group,) = client.get("/services/api/errors/").json()
    assert set(group) == {"aggregation_key", "total_count", "severity", "latest_errors", "created_at"}
    assert (group["aggregation_key"], group["total_count"], group["severity"]) == (key, 2, "error")
    assert isinstance(group["created_at"], int)
    occurrence = group["latest_errors"][0]
    assert set(occurrence) == {"error", "uuid", "timestamp", "severity", "http_context"}
    assert isinstance(occurrence["timestamp"], int)
    assert occurrence["error"]["class"] == "KeyError"
    assert occurrence["http_context"]["request_method"] == "GET"


def test_unknown_service_is_a_plain_text_404(client, db):
    response = client.get("/services/nope/errors/")
    assert (response.status_code, response.content) == (404, b"service nope not found\n")


def test_resolve_with_token_hides_the_group(client, scraped):
    key, _ = scraped
    token = Token.objects.create(user=User.objects.create_user("bot"))
    response = client.delete(f"/services/api/errors/{key}/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 204
    assert ErrorGroup.objects.get().status == GroupStatus.RESOLVED
    assert client.get("/services/api/errors/").json() == []


def test_resolve_without_credentials_is_refused(client, scraped):
    key, _ = scraped
    assert client.delete(f"/services/api/errors/{key}/").status_code == 401
    assert ErrorGroup.objects.get().status == GroupStatus.ACTIVE


def test_anonymous_resolve_can_be_allowed(client, scraped, settings):
    settings.ERRORS_ANONYMOUS_RESOLVE = True
    key, _ = scraped
    assert client.delete(f"/services/api/errors/{key}/").status_code == 204


def test_resolve_of_a_key_with_slashes(client, db, settings):
    settings.ERRORS_ANONYMOUS_RESOLVE = True
    service = Service.objects.create(name="api")
    ErrorGroup.objects.create(service=service, aggregation_key="GET /a/b@x")
    assert client.delete("/services/api/errors/GET /a/b@x/").status_code == 204
    assert client.delete("/services/api/errors/GET%20%2Fa%2Fb@x/").status_code == 204


def test_resolve_unknown_key_or_service_is_404(client, scraped, settings):
    settings.ERRORS_ANONYMOUS_RESOLVE = True
    assert client.delete("/services/api/errors/nope/").status_code == 404
    assert client.delete("/services/nope/errors/nope/").status_code == 404


def test_targets_show_endpoint_and_status(client, scraped):
    (target,) = client.get("/targets/").json()["api"]
    assert target["endpoint"].endswith("/errors")
    assert target["status"] == "up"


def test_targets_show_labels_before_and_after_relabelling_and_the_dropped_ones(client, db):
    rules = [{"source_labels": ["__address__"], "regex": "10\\.0\\.0\\.2:.*", "action": "drop"},
             {"regex": "zone", "replacement": "az", "action": "labelmap"}]
    service = Service.objects.create(name="api", discovery={
        "static_configs": [{"targets": ["10.0.0.1:7", "10.0.0.2:7"], "labels": {"zone": "a"}}],
        "relabel_configs": rules,
    })
    scraper.sync_targets(service, scraper.ScrapeReport())
    (active,) = client.get("/targets/").json()["api"]
    assert active["endpoint"] == "10.0.0.1:7/errors"
    assert active["scrape_url"] == "http://10.0.0.1:7/errors"
    assert active["labels"] == {"az": "a", "instance": "10.0.0.1:7", "job": "api", "zone": "a"}
    assert active["discovered_labels"]["__address__"] == "10.0.0.1:7"
    (dropped,) = client.get("/targets/?state=dropped").json()["api"]
    assert dropped == {"status": "dropped", "discovered_labels": {
        **active["discovered_labels"], "__address__": "10.0.0.2:7"}}
    assert len(client.get("/targets/?state=any").json()["api"]) == 2


def test_targets_refuse_an_unknown_state(client, db):
    assert client.get("/targets/?state=up").status_code == 400


def test_health_is_ok(client, db):
    response = client.get("/-/health")
    assert (response.status_code, response.content) == (200, b"OK")


def test_push_twice_counts_once(client, db):
    Service.objects.create(name="batch")
    token = Token.objects.create(user=User.objects.create_user("job"))
    with PeriskopInstance() as instance:
        instance.report(ValueError("job failed"), times=3)
        body = instance.export()
    for _ in range(2):
        response = client.post(
            "/services/batch/push/", body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token.key}",
        )
        assert response.status_code == 200
    assert ErrorGroup.objects.get().total_count == 3


def test_push_without_credentials_is_refused(client, db):
    Service.objects.create(name="batch")
    response = client.post("/services/batch/push/", "{}", content_type="application/json")
    assert response.status_code == 401


def test_push_of_garbage_is_a_clear_400(client, db):
    Service.objects.create(name="batch")
    token = Token.objects.create(user=User.objects.create_user("job"))
    response = client.post(
        "/services/batch/push/", "not json", content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 400
    assert "Not a Periskop payload" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_real_client_pushes_with_its_own_push_to_gateway(live_server):
    """periskop-client posts to addr + "/errors" and cannot add headers: the token
    goes in the URL as a Basic password."""
    Service.objects.create(name="batch")
    token = Token.objects.create(user=User.objects.create_user("job"))
    with PeriskopInstance() as instance:
        instance.report(ValueError("job failed"), times=2)
        host = live_server.url.removeprefix("http://")
        instance._exporter.push_to_gateway(f"http://push:{token.key}@{host}/services/batch/push")
    assert ErrorGroup.objects.get().total_count == 2


def test_metric_keeps_periskop_name_type_and_labels(client, scraped):
    key, document = scraped
    text = client.get("/metrics").content.decode()
    target = Target.objects.get().address
    assert "# TYPE periskop_error_occurrences counter" in text
    line = (f'periskop_error_occurrences{{aggregation_key="{key}",service_name="api",'
            f'severity="error",target="{target}"}} 2.0')
    assert line in text
    assert "periskop_error_occurrences_total" not in text
    total = f'periskop_error_group_occurrences{{aggregation_key="{key}",service_name="api",severity="error"}} 2.0'
    assert total in text
    assert 'periskop_targets_up{service_name="api"} 1.0' in text


def test_metric_counts_each_instance_under_its_address(client, db):
    with PeriskopInstance() as a, PeriskopInstance() as b:
        key = a.report(ValueError("boom"), times=3)
        b.report(ValueError("boom"), times=4)
        service = Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [a.address, b.address]}]}
        )
        scraper.scrape(service)
        text = client.get("/metrics").content.decode()
    for instance, count in ((a, 3), (b, 4)):
        assert (f'periskop_error_occurrences{{aggregation_key="{key}",service_name="api",'
                f'severity="error",target="{instance.address}"}} {count}.0') in text
