from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from checks.core import resource_age


def http_date(hours_ago: float) -> str:
    moment = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return format_datetime(moment, usegmt=True)


def test_resource_age_under_the_maximum_passes(upstream):
    url = upstream.route("/export.json", headers={"Last-Modified": http_date(hours_ago=3.5)})

    assert resource_age.run(url=url, max_age_hours=24) == (True, {"age_hours": 3})
    assert upstream.requests[0][0] == "HEAD"


def test_resource_age_over_the_maximum_fails(upstream):
    url = upstream.route("/export.json", headers={"Last-Modified": http_date(hours_ago=50)})

    assert resource_age.run(url=url, max_age_hours=24) == (False, {"age_hours": 50})


def test_resource_age_without_last_modified_fails_with_explanation(upstream):
    url = upstream.route("/export.json")

    assert resource_age.run(url=url, max_age_hours=24) == (
        False,
        {"error": "Missing Last-Modified header"},
    )


def test_resource_age_with_invalid_last_modified_fails_with_explanation(upstream):
    url = upstream.route("/export.json", headers={"Last-Modified": "yesterday"})

    assert resource_age.run(url=url, max_age_hours=24) == (
        False,
        {"error": "Invalid Last-Modified header: 'yesterday'"},
    )


def test_resource_age_of_a_missing_resource_fails(upstream):
    url = upstream.url("/gone")

    success, data = resource_age.run(url=url, max_age_hours=24)

    assert not success
    assert "HTTP 404" in data["error"]


def test_resource_age_of_an_unreachable_url_fails_with_message(closed_port_url):
    success, data = resource_age.run(url=closed_port_url, max_age_hours=24)

    assert not success
    assert "connection refused" in data["error"]
