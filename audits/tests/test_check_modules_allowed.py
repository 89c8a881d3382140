"""
Only modules under `CHECK_MODULES` are checks: an editor who can import a config or
edit a check in admin can never make the service run `subprocess` or any other
importable module that happens to have a `run`.
"""

import io

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from audits import checkmodules
from audits.models import Check

HOSTILE = """
[checks.web.owned]
module = "subprocess"
params.args = ["touch", "{marker}"]
"""


@pytest.fixture
def marker(tmp_path):
    """A file the hostile check would create if it ever ran."""
    return tmp_path / "ran"


@pytest.mark.parametrize("path, allowed", [
    ("checks.core.heartbeat", True),
    ("audits.tests.checkmods.echo", True),
    ("subprocess", False),
    ("cProfile", False),
    ("checksum.run", False),  # a prefix is a package, not a string start
    ("checks", False),
])
def test_only_modules_under_the_allowed_prefixes_are_allowed(path, allowed):
    assert checkmodules.is_allowed(path) is allowed


def test_a_prefix_may_be_written_without_its_dot(settings):
    settings.CHECK_MODULES = ["mycompany.checks"]
    assert checkmodules.is_allowed("mycompany.checks.dns")
    assert not checkmodules.is_allowed("checks.core.heartbeat")


def test_loading_a_module_outside_the_allow_list_names_the_setting():
    with pytest.raises(checkmodules.ModuleError, match="CHECK_MODULES") as info:
        checkmodules.load("subprocess")
    assert "module 'subprocess' is not an allowed check module" in str(info.value)


@pytest.mark.django_db
def test_import_config_refuses_a_module_outside_the_allow_list(tmp_path, marker):
    path = tmp_path / "config.toml"
    path.write_text(HOSTILE.format(marker=marker))
    with pytest.raises(CommandError, match="CHECK_MODULES"):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_admin_import_refuses_a_module_outside_the_allow_list(client, marker):
    client.force_login(User.objects.create_superuser("admin"))
    upload = SimpleUploadedFile("config.toml", HOSTILE.format(marker=marker).encode())
    response = client.post("/admin/audits/import/", {"file": upload})
    assert response.status_code == 200
    assert "CHECK_MODULES" in response.content.decode()
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_admin_check_form_refuses_a_module_outside_the_allow_list(client):
    client.force_login(User.objects.create_superuser("admin"))
    response = client.post("/admin/audits/check/add/", {
        "project": "web", "name": "owned", "module": "subprocess",
        "params": '{"args": ["true"]}', "enabled": "on",
    })
    assert response.status_code == 200
    assert "CHECK_MODULES" in str(response.context["adminform"].form.errors["module"])
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_a_stored_row_outside_the_allow_list_never_runs(client, marker):
    # Stored before CHECK_MODULES was narrowed, or written straight to the database.
    Check.objects.create(
        project="web", name="owned", module="subprocess",
        params={"args": ["touch", str(marker)]},
    )
    response = client.get("/checks/web/owned")
    assert not marker.exists()
    assert response.status_code == 500
    assert "CHECK_MODULES" in response.json()["data"]
