"""
The "Read-only staff" and "Editors" groups, to which each app grants its own
permissions from a migration of its own, and API tokens managed in the admin.
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
from django.db.migrations.loader import MigrationLoader
from rest_framework.authtoken.models import Token

from audits.models import Check, CheckRun
from errors.models import Service
from foundation.permission_groups import EDITORS, READ_ONLY

# Each app's migration that grants its permissions to the groups.
GRANTS = {
    "audits": "audits.migrations.0003_permission_groups",
    "errors": "errors.migrations.0002_permission_groups",
    "bugtracker": "bugtracker.migrations.0002_permission_groups",
}
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


def run_grants(*app_labels, backwards=False):
    """Run the grant migrations of `app_labels` (default: all), or reverse them."""
    editor = SimpleNamespace(connection=connection)
    for app_label in app_labels or GRANTS:
        operations = importlib.import_module(GRANTS[app_label]).Migration.operations
        for operation in reversed(operations) if backwards else operations:
            (operation.reverse_code if backwards else operation.code)(global_apps, editor)


@pytest.fixture
def groups(db):
    """The two groups, as the migrations make them (an earlier test that flushed
    the database may have removed them; the migrations are idempotent)."""
    run_grants()
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


def migrate(database, *args) -> None:
    """`manage.py migrate *args` on the SQLite file `database`, in a subprocess."""
    completed = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", *args],
        cwd=settings.BASE_DIR,
        env={
            **os.environ, "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_SETTINGS_MODULE": "telescope_site.test_settings",
        },
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def granted_in(database) -> dict[str, set]:
    rows = sqlite3.connect(database).execute(
        "SELECT g.name, ct.app_label, p.codename FROM auth_group g"
        " JOIN auth_group_permissions gp ON gp.group_id = g.id"
        " JOIN auth_permission p ON p.id = gp.permission_id"
        " JOIN django_content_type ct ON ct.id = p.content_type_id"
    ).fetchall()
    granted = {name: set() for name in (READ_ONLY, EDITORS)}
    for name, app_label, codename in rows:
        granted[name].add((app_label, codename))
    return granted


def test_fresh_database_has_both_groups_after_migrate(tmp_path):
    """A real `migrate` of an empty database, where post_migrate has not yet made
    any permission when the migrations run."""
    database = tmp_path / "fresh.sqlite3"
    migrate(database)
    granted = granted_in(database)
    assert granted[READ_ONLY] == expected_read_only()
    assert granted[EDITORS] == expected_editors()


def test_database_granted_by_the_former_migration_gets_nothing_twice(tmp_path):
    """Databases that ran the former audits 0003, which granted every app's
    permissions, then run the new errors and bugtracker migrations."""
    database = tmp_path / "existing.sqlite3"
    migrate(database)
    migrate(database, "errors", "0001", "--fake")  # as if they never ran
    migrate(database, "bugtracker", "0001", "--fake")
    migrate(database, "errors", "0002")  # the grants run again, for real
    migrate(database, "bugtracker", "0002")
    migrate(database, "--fake")  # the later ones made the tables that are there
    granted = granted_in(database)
    assert granted[READ_ONLY] == expected_read_only()
    assert granted[EDITORS] == expected_editors()


def test_each_app_migration_depends_only_on_what_its_models_need():
    """An app's migrations wait only for the apps its models point to (and for the
    permission tables): errors never waits for audits, audits never for errors."""
    allowed_extra = {"auth", "contenttypes"}
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    for app_label in GRANTS:
        needed = {
            field.related_model._meta.app_label
            for model in global_apps.get_app_config(app_label).get_models()
            for field in model._meta.get_fields()
            if field.is_relation and field.related_model and not field.auto_created
        }
        for key, node in graph.nodes.items():
            if key[0] != app_label:
                continue
            others = {label for label, _ in node.dependencies} - {app_label}
            assert others <= needed | allowed_extra, (
                f"{key[0]}.{key[1]} depends on {sorted(others - needed - allowed_extra)}, "
                f"which {app_label}'s models do not need: grant permissions per app "
                "(foundation.permission_groups.grant_operation) in the app's own migration."
            )


def test_each_app_grants_its_own_permissions_alone(db):
    Group.objects.filter(name__in=[READ_ONLY, EDITORS]).delete()
    run_grants("errors")
    read_only, editors = (Group.objects.get(name=n) for n in (READ_ONLY, EDITORS))
    assert permissions_of(read_only) == {p for p in expected_read_only() if p[0] == "errors"}
    assert permissions_of(editors) == {p for p in expected_editors() if p[0] == "errors"}


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
    """On a fresh database the permissions do not exist yet when the migrations run."""
    Group.objects.filter(name__in=[READ_ONLY, EDITORS]).delete()
    Permission.objects.filter(content_type__app_label__in=["audits", "errors"]).delete()
    run_grants()
    assert permissions_of(Group.objects.get(name=EDITORS)) == expected_editors()
    assert permissions_of(Group.objects.get(name=READ_ONLY)) == expected_read_only()


def test_migration_keeps_existing_groups_and_reverses(groups):
    read_only, _ = groups
    extra = Permission.objects.get(codename="add_user")
    read_only.permissions.add(extra)
    run_grants()
    assert extra in Group.objects.get(name=READ_ONLY).permissions.all()
    run_grants("audits", backwards=True)  # the other apps' permissions stay
    assert {a for a, _ in permissions_of(Group.objects.get(name=EDITORS))} == {
        "errors", "bugtracker",
    }
    run_grants("errors", "bugtracker", backwards=True)
    assert not Group.objects.filter(name=EDITORS).exists()
    # A group that a person gave another permission keeps it, and only it.
    assert list(Group.objects.get(name=READ_ONLY).permissions.all()) == [extra]


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
