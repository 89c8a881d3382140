"""
A NUL character (`%00`) in a URL names nothing: its path answers 404 and its query
string 400, before any view looks it up (PostgreSQL refuses NUL in a query, and
the lookup would answer 500). Re-run on PostgreSQL by audits/tests/test_databases.py.
"""

import pytest

pytestmark = pytest.mark.django_db

PATHS = [
    "/checks/%00",
    "/checks/tags/%00",
    "/checks/tags/a+%00",
    "/checks/web/%00",
    "/checks/web/a%00b/history",
    "/uptime/%00",
    "/services/%00/errors/",
    "/services/%00/errors/key/",
    "/api/errors/services/%00/",
    "/dashboard/checks/%00/x/",
    "/dashboard/badges/projects/%00.svg",
    "/dashboard/badges/tags/%00.svg",
    "/dashboard/errors/services/%00/",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_path_with_nul_answers_404_in_json(client, path):
    response = client.get(path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("url", ["/dashboard/status.json?project=%00", "/checks?x%00=1"])
def test_a_query_string_with_nul_answers_400(admin_client, url):
    assert admin_client.get(url).status_code == 400


def test_a_path_without_nul_is_served_as_before(client):
    assert client.get("/checks/nope").status_code == 404
    assert client.get("/__lbheartbeat__").status_code == 200
