"""The admin's "Export config": config.toml as a download, which imports back unchanged."""

import tomllib

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import Check, Tag
from errors.models import Service

URL = "/admin/audits/export/"
ECHO = "audits.tests.checkmods.echo"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


@pytest.fixture
def configuration(make_check):
    make_check(
        "web", "home", params={"url": "https://h/?t=${API_TOKEN}", "limit": 3}, ttl=120,
        tags=["critical", "web"], description="The home page\nanswers", plot=".limit",
        schedule="*/5 * * * *", failure_threshold=3, position=0,
    )
    make_check("web", "off", enabled=False, position=1)
    make_check("db", "replica", tags=["critical"], position=2)
    Service.objects.create(
        name="api", endpoint="/-/exceptions", scheme="https", refresh_interval=90,
        request_headers={"Authorization": "Bearer ${API_TOKEN}"},
        discovery={"static_configs": [{"targets": ["127.0.0.1:7777"], "labels": {"zone": "a"}}]},
    )
    Service.objects.create(name="worker", enabled=False, position=1)


def rows():
    checks = [
        (*values, tuple(Check.objects.get(project=values[0], name=values[1]).tag_names()))
        for values in Check.objects.order_by("project", "name").values_list(
            "project", "name", "module", "description", "params", "ttl", "plot", "enabled",
            "schedule", "failure_threshold", "position",
        )
    ]
    services = list(Service.objects.order_by("name").values_list(
        "name", "endpoint", "scheme", "refresh_interval", "request_headers", "discovery",
        "enabled", "position",
    ))
    return checks, services


def test_export_downloads_the_configuration_as_toml(admin_client, configuration):
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/toml")
    assert response["Content-Disposition"] == 'attachment; filename="config.toml"'
    document = tomllib.loads(response.content.decode())
    home = document["checks"]["web"]["home"]
    assert home["params"]["url"] == "https://h/?t=${API_TOKEN}"  # as stored, no secret
    assert home["tags"] == ["critical", "web"]
    assert set(document["errors"]["services"]) == {"api", "worker"}


def test_export_imports_back_to_identical_rows(admin_client, configuration):
    before = rows()
    exported = admin_client.get(URL).content
    Check.objects.all().delete()
    Tag.objects.all().delete()
    Service.objects.all().delete()
    upload = SimpleUploadedFile("config.toml", exported, "application/toml")
    preview = admin_client.post("/admin/audits/import/", {"file": upload})
    assert preview.status_code == 200, preview.context.get("errors")
    response = admin_client.post("/admin/audits/import/", {"payload": preview.context["payload"]})
    assert response.status_code == 302
    assert rows() == before


def test_export_of_an_empty_database_is_an_empty_file(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert tomllib.loads(response.content.decode()) == {}


def test_export_needs_the_view_permission_of_checks(client, db):
    client.force_login(User.objects.create_user("staff", is_staff=True))
    assert client.get(URL).status_code == 403


def test_export_leaves_out_sections_the_user_may_not_view(client, configuration):
    user = User.objects.create_user("checks-only", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_check"))
    client.force_login(user)
    document = tomllib.loads(client.get(URL).content.decode())
    assert set(document) == {"checks"}


def test_export_is_for_staff_only(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_export_is_a_download_not_an_action(admin_client):
    assert admin_client.post(URL).status_code == 405
