"""
Who changed what: imports, from the admin or the command line, write one admin
log entry per change, which each object's History page shows.
"""

import io

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from audits.models import Check
from audits.tests.mixed_config import FILE
from errors.models import Service
from foundation.config import admin_log


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("admin")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def existing(make_check):
    make_check("web", "kept", params={"url": "http://kept"})
    make_check("web", "edited", params={"url": "http://edited"}, ttl=60)
    return make_check("web", "gone", params={"url": "http://gone"})


def import_in_admin(client, text, prune=True):
    upload = SimpleUploadedFile("config.toml", text.encode(), "application/toml")
    data = {"file": upload, **({"prune": "on"} if prune else {})}
    preview = client.post("/admin/audits/import/", data)
    response = client.post("/admin/audits/import/", {"payload": preview.context["payload"]})
    assert response.status_code == 302


def import_on_cli(tmp_path, text, *args):
    path = tmp_path / "config.toml"
    path.write_text(text)
    call_command("import_config", str(path), *args, stdout=io.StringIO(), stderr=io.StringIO())


def entries():
    """(flag, model, object_id, repr, message, username) of every log entry."""
    return sorted(
        (e.action_flag, e.content_type.model, e.object_id, e.object_repr, e.change_message,
         e.user.username)
        for e in LogEntry.objects.select_related("content_type", "user")
    )


def test_admin_import_logs_one_entry_per_change(admin_client, existing):
    gone_pk = str(existing.pk)
    import_in_admin(admin_client, FILE)
    new = Check.objects.get(name="new")
    edited = Check.objects.get(name="edited")
    api = Service.objects.get()
    assert entries() == sorted([
        (ADDITION, "check", str(new.pk), "web/new", "Imported from config.toml.", "admin"),
        (ADDITION, "service", str(api.pk), "api", "Imported from config.toml.", "admin"),
        (CHANGE, "check", str(edited.pk), "web/edited", "Imported from config.toml: ttl, tags",
         "admin"),
        (DELETION, "check", gone_pk, "web/gone",
         "Removed by an import of config.toml (prune).", "admin"),
    ])


def test_entries_point_at_their_objects(admin_client, existing):
    import_in_admin(admin_client, FILE)
    entry = LogEntry.objects.get(action_flag=CHANGE)
    edited = Check.objects.get(name="edited")
    assert entry.content_type == ContentType.objects.get_for_model(Check)
    assert entry.get_edited_object() == edited
    assert entry.get_admin_url() == f"/admin/audits/check/{edited.pk}/change/"
    service_entry = LogEntry.objects.get(content_type__model="service")
    assert service_entry.get_edited_object() == Service.objects.get()


def test_history_page_of_an_imported_check_shows_the_import(admin_client, existing):
    import_in_admin(admin_client, FILE)
    edited = Check.objects.get(name="edited")
    page = admin_client.get(f"/admin/audits/check/{edited.pk}/history/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Imported from config.toml: ttl, tags" in text
    assert "admin" in text
    new = Check.objects.get(name="new")
    page = admin_client.get(f"/admin/audits/check/{new.pk}/history/")
    assert "Imported from config.toml." in page.content.decode()


def test_history_page_of_an_imported_service_shows_the_import(admin_client, existing):
    import_in_admin(admin_client, FILE)
    page = admin_client.get(f"/admin/errors/service/{Service.objects.get().pk}/history/")
    assert page.status_code == 200
    assert "Imported from config.toml." in page.content.decode()


def test_recent_actions_on_the_admin_index_list_the_import(admin_client, existing):
    import_in_admin(admin_client, FILE)
    page = admin_client.get("/admin/").content.decode()
    assert "web/new" in page and "web/gone" in page


def test_reimport_of_the_same_file_logs_nothing(admin_client, existing, tmp_path):
    import_in_admin(admin_client, FILE)
    count = LogEntry.objects.count()
    import_on_cli(tmp_path, FILE)
    assert LogEntry.objects.count() == count
    assert not User.objects.filter(username=admin_log.SYSTEM_USERNAME).exists()


def test_cli_import_logs_under_the_system_user(existing, tmp_path):
    import_on_cli(tmp_path, FILE, "--prune")
    system = User.objects.get(username=admin_log.SYSTEM_USERNAME)
    assert not system.is_active and not system.has_usable_password()
    assert not system.is_staff
    assert LogEntry.objects.filter(user=system).count() == 4
    assert {e[-1] for e in entries()} == {"import_config"}
    import_on_cli(tmp_path, FILE.replace("ttl = 120", "ttl = 180"))
    assert User.objects.filter(username=admin_log.SYSTEM_USERNAME).count() == 1
    assert LogEntry.objects.filter(user=system, action_flag=CHANGE).count() == 2


def test_cli_import_logs_under_the_named_user(existing, tmp_path, admin_user):
    import_on_cli(tmp_path, FILE, "--user", "admin")
    assert {e[-1] for e in entries()} == {"admin"}
    assert LogEntry.objects.count() == 3  # no prune: created new and api, changed edited
    assert not User.objects.filter(username=admin_log.SYSTEM_USERNAME).exists()


def test_cli_import_by_an_unknown_user_imports_nothing(existing, tmp_path):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        import_on_cli(tmp_path, FILE, "--user", "nobody")
    assert not Check.objects.filter(name="new").exists()
    assert not LogEntry.objects.exists()


def test_cli_dry_run_logs_nothing(existing, tmp_path):
    import_on_cli(tmp_path, FILE, "--dry-run", "--prune")
    assert not LogEntry.objects.exists()
    assert not User.objects.filter(username=admin_log.SYSTEM_USERNAME).exists()


def test_broken_cli_import_logs_nothing(existing, tmp_path):
    with pytest.raises(CommandError):
        import_on_cli(tmp_path, FILE + "\n[checks.web.bad]\nmodule = 'no.such'\n")
    assert not LogEntry.objects.exists()
