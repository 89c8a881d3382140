"""Services from config.toml and from Periskop's YAML, through `import_config`."""

import io
import json
import tomllib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audits.models import Check
from errors import scraper
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


PERISKOP_FILE_SD = """
services:
  - name: api
    scraper: {endpoint: /errors, refresh_interval: 30s}
    file_sd_configs:
      - files: ["targets/*.json", "/nonexistent/absolute.json"]
"""


def write_periskop_folder(folder) -> None:
    """A Periskop config with relative file_sd paths, and 9 targets in 3 files."""
    (folder / "targets").mkdir(parents=True)
    for shard in range(3):
        targets = [f"10.0.{shard}.{i}:7777" for i in range(3)]
        (folder / "targets" / f"api-{shard}.json").write_text(json.dumps([{"targets": targets}]))
    (folder / "periskop.yaml").write_text(PERISKOP_FILE_SD)


@pytest.mark.django_db
def test_relative_file_sd_paths_are_read_from_the_imported_files_folder(tmp_path, monkeypatch, settings):
    write_periskop_folder(tmp_path / "periskop")
    # Neither the working folder nor CONFIG_FILE's has the target files.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    settings.CONFIG_FILE = str(tmp_path / "elsewhere" / "config.toml")
    run("../periskop/periskop.yaml")
    service = Service.objects.get()
    assert service.config_dir == str((tmp_path / "periskop").resolve())
    report = scraper.ScrapeReport()
    scraper.sync_targets(service, report)
    assert (report.targets, report.errors) == (9, [])


@pytest.mark.django_db
def test_export_keeps_relative_file_sd_paths_as_written(tmp_path):
    write_periskop_folder(tmp_path)
    run(tmp_path / "periskop.yaml")
    exported = tmp_path / "exported.toml"
    call_command("export_config", "-o", str(exported))
    service = tomllib.loads(exported.read_text())["errors"]["services"]["api"]
    assert service["file_sd_configs"] == [{"files": ["targets/*.json", "/nonexistent/absolute.json"]}]
    assert "config_dir" not in service


@pytest.mark.django_db
def test_the_same_file_imported_from_another_folder_changes_the_folder(tmp_path):
    write_periskop_folder(tmp_path / "a")
    write_periskop_folder(tmp_path / "b")
    run(tmp_path / "a" / "periskop.yaml")
    assert "changed service api (config_dir)" in run(tmp_path / "b" / "periskop.yaml")


@pytest.mark.django_db
def test_a_service_without_relative_file_sd_paths_keeps_no_folder(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML)
    run(path)
    assert Service.objects.get().config_dir == ""


@pytest.mark.django_db
def test_alert_rate_imports_and_exports_back(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML + "alert_rate_per_hour = 100\n")
    run(path)
    assert Service.objects.get().alert_rate_per_hour == 100
    out = io.StringIO()
    call_command("export_config", stdout=out)
    assert tomllib.loads(out.getvalue())["errors"]["services"]["api"]["alert_rate_per_hour"] == 100
    assert "0 created, 0 changed, 0 removed, 2 unchanged" in run(path)


@pytest.mark.django_db
def test_an_alert_rate_under_one_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TOML + "alert_rate_per_hour = 0\n")
    with pytest.raises(CommandError, match="alert_rate_per_hour: 0 must be a whole number, 1 or more"):
        run(path)
