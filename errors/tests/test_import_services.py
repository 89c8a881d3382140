"""Services from config.toml and from Periskop's YAML, through `import_config`."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audits.models import Check
from errors.models import Service

TOML = """
[checks.web.home]
module = "checks.core.heartbeat"
params.url = "http://127.0.0.1:1/"

[errors.services.api]
endpoint = "/errors"
refresh_interval = "1m30s"
request_headers = { Authorization = "Bearer ${API_TOKEN}" }
static_configs = [{ targets = ["127.0.0.1:7777"], labels = { zone = "a" } }]
"""

PERISKOP_YAML = """
repository:
  type: sqlite
  path: periskop.db
services:
  - name: api
    scraper:
      endpoint: /-/exceptions
      refresh_interval: 30s
    static_configs:
      - targets: ["10.0.0.1:8080", "10.0.0.2:8080"]
    relabel_configs:
      - source_labels: [__address__]
        regex: "10.0.0.2:.*"
        action: drop
"""


def run(path) -> str:
    out = io.StringIO()
    call_command("import_config", str(path), stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_toml_imports_checks_and_services_together(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    output = run(path)
    assert "created web/home" in output and "created service api" in output
    service = Service.objects.get()
    assert (service.refresh_interval, service.endpoint) == (90, "/errors")
    assert service.request_headers == {"Authorization": "Bearer ${API_TOKEN}"}
    assert Check.objects.count() == 1


@pytest.mark.django_db
def test_periskop_yaml_imports_unchanged(tmp_path):
    path = tmp_path / "periskop.yaml"
    path.write_text(PERISKOP_YAML)
    run(path)
    service = Service.objects.get()
    assert (service.name, service.endpoint, service.refresh_interval) == ("api", "/-/exceptions", 30)
    assert service.discovery["relabel_configs"][0]["action"] == "drop"


@pytest.mark.django_db
def test_reimport_changes_nothing_and_prune_keeps_other_sections(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    run(path)
    assert "0 created, 0 changed, 0 removed, 2 unchanged" in run(path)
    only_checks = tmp_path / "checks.toml"
    only_checks.write_text(TOML.split("[errors")[0])
    call_command("import_config", str(only_checks), "--prune", stdout=io.StringIO())
    assert Service.objects.exists()  # the file has no [errors]: services untouched


@pytest.mark.django_db
def test_bad_service_names_file_service_and_field(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML.replace('"1m30s"', '"soon"') + '\n[errors.services.db]\nport = 1\n')
    with pytest.raises(CommandError) as info:
        run(path)
    message = str(info.value)
    assert f"{path}: errors.services.api: refresh_interval: 'soon' is not a duration" in message
    assert f"{path}: errors.services.db: port: unknown field" in message
    assert not Service.objects.exists() and not Check.objects.exists()


@pytest.mark.django_db
def test_unknown_section_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[alerts]\nx = 1\n")
    with pytest.raises(CommandError, match="alerts: unknown section"):
        run(path)


@pytest.mark.django_db
def test_export_writes_services_back(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    run(path)
    exported = tmp_path / "exported.toml"
    call_command("export_config", "-o", str(exported))
    Service.objects.all().delete()
    Check.objects.all().delete()
    run(exported)
    service = Service.objects.get()
    assert service.discovery["static_configs"] == [{"targets": ["127.0.0.1:7777"], "labels": {"zone": "a"}}]
    assert service.refresh_interval == 90
