"""
The admin's "Import config" page: a preview that writes nothing, then an "Apply"
that imports exactly the previewed file, in one transaction, logged.
"""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import Check, Tag
from audits.tests.mixed_config import ECHO, FILE
from errors.models import Service
from foundation.config import pages

URL = "/admin/audits/import/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


@pytest.fixture
def existing(make_check):
    """What the database holds before the import: one check of each fate."""
    make_check("web", "kept", params={"url": "http://kept"})
    make_check("web", "edited", params={"url": "http://edited"}, ttl=60)
    make_check("web", "gone", params={"url": "http://gone"})


def upload(client, text, name="config.toml", prune=False):
    data = {"file": SimpleUploadedFile(name, text.encode(), "application/toml")}
    if prune:
        data["prune"] = "on"
    return client.post(URL, data)


def apply(client, payload):
    return client.post(URL, {"payload": payload})


def snapshot():
    """Everything an import may write."""
    return (
        sorted(Check.objects.values_list(
            "project", "name", "params", "ttl", "position", "updated",
        )),
        sorted(Tag.objects.values_list("name", flat=True)),
        sorted(Service.objects.values_list("name", "endpoint")),
        LogEntry.objects.count(),
    )


def user_with(*codenames, username="editor"):
    user = User.objects.create_user(username, is_staff=True)
    for codename in codenames:
        app_label, codename = codename.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def test_upload_page_loads_with_its_form(admin_client):
    page = admin_client.get(URL)
    assert page.status_code == 200
    assert b'type="file"' in page.content and b'name="prune"' in page.content
    assert b"csrfmiddlewaretoken" in page.content


def test_preview_shows_the_plan_and_writes_nothing(admin_client, existing):
    before = snapshot()
    page = upload(admin_client, FILE, prune=True)
    assert page.status_code == 200
    assert snapshot() == before
    assert not LogEntry.objects.exists()
    text = page.content.decode()
    assert "created web/new" in text
    assert "changed web/edited (ttl, tags)" in text
    assert "removed web/gone" in text
    assert "[checks]: 1 created, 1 changed, 1 removed, 1 unchanged" in text
    assert "[errors]: 1 created, 0 changed, 0 removed, 0 unchanged" in text
    assert 'name="payload"' in text and "csrfmiddlewaretoken" in text


def test_preview_without_prune_removes_nothing(admin_client, existing):
    page = upload(admin_client, FILE)
    assert "removed web/gone" not in page.content.decode()
    assert "[checks]: 1 created, 1 changed, 0 removed, 1 unchanged" in page.content.decode()


def test_apply_writes_the_previewed_import_and_logs_each_change(admin_client, existing):
    preview = upload(admin_client, FILE, prune=True)
    response = apply(admin_client, preview.context["payload"])
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert sorted(Check.objects.values_list("name", flat=True)) == ["edited", "kept", "new"]
    edited = Check.objects.get(name="edited")
    assert (edited.ttl, edited.tag_names()) == (120, ["critical"])
    assert Service.objects.get().name == "api"
    assert LogEntry.objects.count() == 4  # created web/new and api, changed edited, removed gone
    page = admin_client.get(response["Location"])
    assert "Imported config.toml: 2 created, 1 changed, 1 removed, 1 unchanged." in (
        page.content.decode()
    )


def test_broken_file_shows_every_problem_and_writes_nothing(admin_client, existing):
    broken = f"""
[checks.web.one]
module = "checks.no_such_module"

[checks.web.two]
module = "{ECHO}"
params.url = "u"
ttl = "soon"

[nonsense]
x = 1
"""
    before = snapshot()
    page = upload(admin_client, broken, name="mine.toml")
    assert page.status_code == 200
    errors = page.context["errors"]
    assert len(errors) >= 3
    text = page.content.decode()
    for expected in ("checks.web.one", "checks.web.two", "nonsense"):
        assert expected in text
    assert "mine.toml: nothing imported" in text
    assert 'name="payload"' not in text
    assert snapshot() == before


def test_invalid_toml_names_the_uploaded_file_not_a_temporary_one(admin_client, db):
    page = upload(admin_client, "[checks\n", name="mine.toml")
    [error] = page.context["errors"]
    assert error.startswith("mine.toml: invalid TOML")
    assert not Check.objects.exists()


def test_periskop_yaml_is_read_by_its_name(admin_client, db):
    yaml = "services:\n  - name: api\n    scraper:\n      endpoint: /-/exceptions\n"
    preview = upload(admin_client, yaml, name="periskop.yaml")
    assert "created service api" in preview.content.decode()
    apply(admin_client, preview.context["payload"])
    assert Service.objects.get().endpoint == "/-/exceptions"


def test_file_with_nothing_to_change_offers_no_apply(admin_client, existing):
    apply(admin_client, upload(admin_client, FILE).context["payload"])
    page = upload(admin_client, FILE)
    assert "Nothing to change" in page.content.decode()
    assert 'id="apply-form"' not in page.content.decode()


def test_tampered_payload_is_refused(admin_client, existing):
    payload = upload(admin_client, FILE, prune=True).context["payload"]
    value, signature = payload.rsplit(":", 1)
    before = snapshot()
    for tampered in (
        f"{value}:{signature[:-2]}xx",
        signing.dumps({"user": 1, "name": "x", "text": FILE, "prune": True, "digest": ""},
                      salt="another salt", compress=True),
        signing.dumps({"user": 1, "name": "x", "text": FILE, "prune": True, "digest": ""},
                      key="not our secret", salt=pages.SALT, compress=True),
        "garbage",
    ):
        response = apply(admin_client, tampered)
        assert response.status_code == 400
        assert "could not be verified" in response.content.decode()
    assert snapshot() == before


def test_payload_of_another_user_is_refused(client, existing):
    client.force_login(User.objects.create_superuser("alice"))
    payload = upload(client, FILE).context["payload"]
    client.force_login(User.objects.create_superuser("bob"))
    before = snapshot()
    assert apply(client, payload).status_code == 400
    assert snapshot() == before


def test_expired_preview_is_refused(admin_client, existing, monkeypatch):
    payload = upload(admin_client, FILE).context["payload"]
    monkeypatch.setattr(pages, "MAX_AGE", -1)
    before = snapshot()
    response = apply(admin_client, payload)
    assert response.status_code == 400 and "too old" in response.content.decode()
    assert snapshot() == before


def test_database_changed_since_preview_shows_the_new_plan_instead(
    admin_client, existing, make_check,
):
    payload = upload(admin_client, FILE).context["payload"]
    make_check("web", "new", params={"url": "http://other"})  # someone else, meanwhile
    before = snapshot()
    page = apply(admin_client, payload)
    assert page.status_code == 200
    text = page.content.decode()
    assert "changed since the preview" in text
    assert "changed web/new (params)" in text
    assert snapshot() == before
    apply(admin_client, page.context["payload"])  # the new preview applies
    assert Check.objects.get(name="new").params == {"url": "http://new"}


def test_non_staff_are_sent_to_log_in(client, db):
    client.force_login(User.objects.create_user("visitor"))
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_add_and_change_permissions_are_refused(client, db):
    client.force_login(user_with("audits.view_check", "audits.change_check"))
    assert client.get(URL).status_code == 403


def test_prune_needs_delete_permissions(client, existing):
    client.force_login(user_with(
        "audits.add_check", "audits.change_check", "errors.add_service", "errors.change_service",
    ))
    before = snapshot()
    page = upload(client, FILE, prune=True)
    assert page.status_code == 403
    assert "checks: you may not add/change/delete audits.check objects." in page.content.decode()
    assert snapshot() == before
    page = upload(client, FILE)
    assert page.status_code == 200
    apply(client, page.context["payload"])
    assert Check.objects.filter(name="new").exists()


def test_each_section_needs_the_permissions_of_its_model(client, existing):
    client.force_login(user_with("audits.add_check", "audits.change_check"))
    page = upload(client, FILE)
    assert page.status_code == 403
    assert "errors: you may not add/change errors.service objects." in page.content.decode()
    assert not Service.objects.exists()


def test_admin_index_links_to_import_and_export(admin_client):
    page = admin_client.get("/admin/")
    assert b'href="/admin/audits/import/"' in page.content
    assert b'href="/admin/audits/export/"' in page.content


def test_admin_index_shows_only_export_to_who_may_only_view(client, db):
    client.force_login(user_with("audits.view_check"))
    page = client.get("/admin/")
    assert b'href="/admin/audits/import/"' not in page.content
    assert b'href="/admin/audits/export/"' in page.content
