"""A URL that matches no route: JSON for programs, HTML for browsers."""

import pytest

# Under a prefix that has routes (Periskop's), a path that none of them matches.
NO_ROUTE = "/services/shop/nothing-here/"


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["*/*", "application/json", ""])
def test_a_program_gets_json_for_a_url_that_matches_no_route(client, accept):
    response = client.get(NO_ROUTE, HTTP_ACCEPT=accept)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_a_browser_gets_the_html_page_for_a_url_that_matches_no_route(client):
    response = client.get(NO_ROUTE, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
