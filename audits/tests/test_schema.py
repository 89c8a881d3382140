"""`/api/schema/`: the OpenAPI document of the API."""

import io

import yaml
from django.core.management import call_command


def test_schema_is_an_openapi_document_listing_the_check_route(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert "/checks/{project}/{name}" in document["paths"]


def test_schema_is_served_as_json_on_request(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/checks/{project}/{name}" in response.json()["paths"]


def test_schema_lists_every_telescope_route(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert {"/", "/checks", "/checks/{project}", "/checks/tags/{tags}",
            "/checks/{project}/{name}"} <= set(paths)


def test_schema_documents_the_check_route(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    operation = paths["/checks/{project}/{name}"]["get"]
    parameters = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert {("path", "project"), ("path", "name"), ("query", "refresh")} <= parameters
    assert "200" in operation["responses"]


def test_schema_is_served_without_login(client, db):
    # No credentials at all: monitors and client generators fetch it anonymously.
    assert client.get("/api/schema/").status_code == 200


def test_schema_generates_without_warnings_and_validates(db):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "/checks/{project}/{name}:" in out.getvalue()
