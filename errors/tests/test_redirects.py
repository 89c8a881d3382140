"""
A scrape follows a redirect to another host only when the service's
`follow_redirects` allows it, and even then no header of the service (its
credentials) goes to the other host. Real servers on 127.0.0.1: the instance is
reached as 127.0.0.1, the other host as localhost.
"""

import pytest

from errors import scraper
from errors.config.reader import from_periskop_yaml, read_section
from errors.models import ErrorGroup, Service, Target, TargetStatus

PAYLOAD = {"aggregated_errors": [{
    "aggregation_key": "Elsewhere@x", "total_count": 2,
    "latest_errors": [{"timestamp": 1900000000, "error": {"class": "E", "message": "m"}}],
}]}


def redirecting_service(upstream, other_host, **fields) -> Service:
    other_host.route("/errors", json=PAYLOAD)
    upstream.route("/errors", status=302, headers={"Location": other_host.localhost_url("/errors")})
    return Service.objects.create(
        name="api", discovery={"static_configs": [{"targets": [f"127.0.0.1:{upstream.port}"]}]},
        request_headers={"X-Api-Key": "s3cr3t-key", "Authorization": "Bearer s3cr3t-bearer"},
        **fields,
    )


@pytest.mark.django_db(transaction=True)
def test_a_redirect_to_another_host_is_refused_by_default(upstream, other_host):
    service = redirecting_service(upstream, other_host)
    assert service.follow_redirects is False
    report = scraper.scrape(service)
    assert report.up == 0
    target = Target.objects.get()
    assert target.status == TargetStatus.DOWN
    assert "redirect to another host refused" in target.last_error
    assert other_host.hits("/errors") == 0
    assert not ErrorGroup.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_follow_redirects_follows_without_the_services_headers(upstream, other_host):
    service = redirecting_service(upstream, other_host, follow_redirects=True)
    report = scraper.scrape(service)
    assert report.up == 1
    assert ErrorGroup.objects.get().total_count == 2
    (_, _, first), = [r for r in upstream.requests if r[1] == "/errors"]
    assert first.get("X-Api-Key") == "s3cr3t-key"  # the instance itself gets them
    (_, _, followed), = [r for r in other_host.requests if r[1] == "/errors"]
    sent = {name.lower() for name in followed}
    assert "x-api-key" not in sent and "authorization" not in sent


def test_follow_redirects_is_read_from_config_toml():
    (spec,) = read_section({"services": {"api": {"follow_redirects": True}}}, "config.toml")
    assert spec.follow_redirects is True
    assert spec.as_toml()["follow_redirects"] is True
    (spec,) = read_section({"services": {"api": {}}}, "config.toml")
    assert spec.follow_redirects is False and "follow_redirects" not in spec.as_toml()


def test_follow_redirects_must_be_a_boolean():
    with pytest.raises(Exception, match="follow_redirects: expected true or false"):
        read_section({"services": {"api": {"follow_redirects": "yes"}}}, "config.toml")


def test_follow_redirects_is_read_from_periskops_yaml():
    section = from_periskop_yaml(
        {"services": [{"name": "api", "scraper": {"endpoint": "/errors", "follow_redirects": True}}]},
        "periskop.yaml",
    )
    (spec,) = read_section(section, "periskop.yaml")
    assert spec.follow_redirects is True


@pytest.mark.django_db
def test_follow_redirects_is_shown_and_edited_in_admin(admin_client):
    service = Service.objects.create(name="api")
    page = admin_client.get(f"/admin/errors/service/{service.pk}/change/").content.decode()
    assert 'name="follow_redirects"' in page
