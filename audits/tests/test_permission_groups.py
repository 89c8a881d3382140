"""
The "Read-only staff" and "Editors" groups made by a migration, and API tokens
managed in the admin.
"""

import importlib
import os
import sqlite3
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from rest_framework.authtoken.models import Token

from audits.models import Check, CheckRun
from errors.models import Service

groups_migration = importlib.import_module("audits.migrations.0003_permission_groups")
READ_ONLY, EDITORS = groups_migration.READ_ONLY, groups_migration.EDITORS
BEAT_MODELS = {
    "periodictask", "intervalschedule", "crontabschedule", "solarschedule", "clockedschedule",
}


def models_of(app_label):
    return {m._meta.model_name for m in global_apps.get_app_config(app_label).get_models()}


def expected_read_only():
    apps = ["audits", "errors", "bugtracker", "django_celery_beat"]
    return {(a, f"view_{m}") for a in apps for m in models_of(a)}


def expected_editors():
    actions = ["add", "change", "delete", "view"]
    apps = ["audits", "errors", "bugtracker"]
    return {(a, f"{x}_{m}") for a in apps for m in models_of(a) for x in actions} | {
        ("django_celery_beat", f"{x}_{m}") for m in BEAT_MODELS for x in actions
    }


def permissions_of(group):
    return set(group.permissions.values_list("content_type__app_label", "codename"))


@pytest.fixture
def groups(db):
    """The two groups, as the migration makes them (an earlier test that flushed
    the database may have removed them; the migration is idempotent)."""
    groups_migration.create_groups(global_apps, SimpleNamespace(connection=connection))
    return Group.objects.get(name=READ_ONLY), Group.objects.get(name=EDITORS)


def member_of(group, username):
    user = User.objects.create_user(username, is_staff=True)
    user.groups.add(group)
    return user


def check_form(check, **changes):
    return {
        "project": check.project, "name": check.name, "module": check.module,
        "params": '{"url": "http://changed"}', "schedule": "", "failure_threshold": 1,
        "position": 0, "enabled": "on", "description": "", "plot": "", "ttl": "",
        **changes,
    }


def test_fresh_database_has_both_groups_after_migrate(tmp_path):
    """A real `migrate` of an empty database, where post_migrate has not yet made
    any permission when the migration runs."""
    database = tmp_path / "fresh.sqlite3"
    completed = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ, "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_SETTINGS_MODULE": "telescope_site.test_settings",
        },
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = sqlite3.connect(database).execute(
        "SELECT g.name, ct.app_label, p.codename FROM auth_group g"
        " JOIN auth_group_permissions gp ON gp.group_id = g.id"
        " JOIN auth_permission p ON p.id = gp.permission_id"
        " JOIN django_content_type ct ON ct.id = p.content_type_id"
    ).fetchall()
    granted = {name: set() for name in (READ_ONLY, EDITORS)}
    for name, app_label, codename in rows:
        granted[name].add((app_label, codename))
    assert granted[READ_ONLY] == expected_read_only()
    assert granted[EDITORS] == expected_editors()


def test_read_only_group_views_everything_and_changes_nothing(groups):
    read_only, _ = groups
    granted = permissions_of(read_only)
    assert granted == expected_read_only()
    assert all(codename.startswith("view_") for _, codename in granted)
    assert ("audits", "view_check") in granted and ("errors", "view_errorgroup") in granted
    assert ("django_celery_beat", "view_periodictask") in granted
    assert not {a for a, _ in granted} & {"authtoken", "auth"}  # token keys are credentials


def test_editors_edit_checks_errors_and_schedules_only(groups):
    _, editors = groups
    granted = permissions_of(editors)
    assert granted == expected_editors()
    for codename in ("add_check", "change_check", "delete_check", "change_tag"):
        assert ("audits", codename) in granted
    assert ("errors", "change_service") in granted
    assert ("django_celery_beat", "change_periodictask") in granted
    assert not {a for a, _ in granted} & {"auth", "authtoken"}


def test_migration_makes_missing_permissions_itself(db):
    """On a fresh database the permissions do not exist yet when the migration runs."""
    Group.objects.filter(name__in=[READ_ONLY, EDITORS]).delete()
    Permission.objects.filter(content_type__app_label__in=["audits", "errors"]).delete()
    groups_migration.create_groups(global_apps, SimpleNamespace(connection=connection))
    assert permissions_of(Group.objects.get(name=EDITORS)) == expected_editors()
    assert permissions_of(Group.objects.get(name=READ_ONLY)) == expected_read_only()


def test_migration_keeps_existing_groups_and_reverses(groups):
    read_only, _ = groups
    extra = Permission.objects.get(codename="add_user")
    read_only.permissions.add(extra)
    groups_migration.create_groups(global_apps, SimpleNamespace(connection=connection))
    assert extra in Group.objects.get(name=READ_ONLY).permissions.all()
    groups_migration.delete_groups(global_apps, SimpleNamespace(connection=connection))
    assert not Group.objects.filter(name__in=[READ_ONLY, EDITORS]).exists()


def test_read_only_user_views_a_check_but_cannot_change_it(client, groups, make_check):
    check = make_check()
    client.force_login(member_of(groups[0], "viewer"))
    assert client.get("/admin/audits/check/").status_code == 200
    assert client.get(f"/admin/audits/check/{check.pk}/change/").status_code == 200
    url = f"/admin/audits/check/{check.pk}"
    assert client.post(f"{url}/change/", check_form(check)).status_code == 403
    assert client.post(f"{url}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/audits/check/add/").status_code == 403
    assert Check.objects.get().params == {"url": "http://example.com"}
    assert client.get("/admin/errors/service/").status_code == 200
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200


def test_read_only_user_exports_but_cannot_import(client, groups, make_check):
    client.force_login(member_of(groups[0], "viewer"))
    assert client.get("/admin/audits/export/").status_code == 200
    assert client.get("/admin/audits/import/").status_code == 403


def test_read_only_user_sees_no_api_token(client, groups):
    Token.objects.create(user=User.objects.create_user("ci-bot"))
    client.force_login(member_of(groups[0], "viewer"))
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 403


def test_editor_changes_a_check_and_imports(client, groups, make_check):
    check = make_check()
    client.force_login(member_of(groups[1], "editor"))
    response = client.post(f"/admin/audits/check/{check.pk}/change/", check_form(check))
    assert response.status_code == 302, response.content
    assert Check.objects.get().params == {"url": "http://changed"}
    assert client.get("/admin/audits/import/").status_code == 200
    assert client.get("/admin/errors/service/add/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403


def test_group_members_need_staff_status_for_the_admin(client, groups):
    user = User.objects.create_user("not-staff")
    user.groups.add(groups[1])
    client.force_login(user)
    assert client.get("/admin/audits/check/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_token_made_in_admin_queues_a_run(client, make_check):
    """Tokens are managed in the admin (DRF's authtoken), for scripts and CI."""
    make_check("proj", "check", module="counter")
    client.force_login(User.objects.create_superuser("admin"))
    bot = User.objects.create_user("ci-bot")
    assert client.get("/admin/authtoken/tokenproxy/add/").status_code == 200
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": bot.pk})
    assert response.status_code == 302, response.content
    token = Token.objects.get(user=bot)
    assert token.key in client.get("/admin/authtoken/tokenproxy/").content.decode()
    client.logout()
    response = client.post("/checks/proj/check/runs", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 202
    deadline = time.monotonic() + 10
    while not CheckRun.objects.exists():  # let the queued run finish before the flush
        assert time.monotonic() < deadline, "the queued run never ran"
        time.sleep(0.02)


def test_token_deleted_in_admin_no_longer_works(client, make_check):
    make_check("proj", "check", module="counter")
    token = Token.objects.create(user=User.objects.create_user("ci-bot"))
    client.force_login(User.objects.create_superuser("admin"))
    bot = token.user
    response = client.post(f"/admin/authtoken/tokenproxy/{bot.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Token.objects.exists()
    client.logout()
    response = client.post("/checks/proj/check/runs", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 401
    assert Service.objects.count() == 0  # nothing else touched
