"""`manage.py import_config` and `export_config`: idempotent, whole or nothing."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audits.config import importer, reader
from audits.models import Check, Tag

ECHO = "audits.tests.checkmods.echo"
TELESCOPE_CONFIG = Path(__file__).with_name("telescope_config.toml")


def write(tmp_path, text, name="config.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_config", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def check_table(name, url="u", **extra) -> str:
    lines = [f"[checks.web.{name}]", f'module = "{ECHO}"', f'params.url = "{url}"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.django_db
def test_import_creates_checks_and_says_so(tmp_path):
    output = run(write(tmp_path, check_table("a", tags='["x", "y"]') + check_table("b")))
    assert "created web/a" in output and "created web/b" in output
    assert "2 created, 0 changed, 0 removed, 0 unchanged" in output
    assert Check.objects.get(name="a").tag_names() == ["x", "y"]


@pytest.mark.django_db
def test_import_of_the_same_file_changes_nothing(tmp_path):
    path = write(tmp_path, check_table("a", tags='["x"]'))
    run(path)
    updated = Check.objects.get().updated
    output = run(path)
    assert "0 created, 0 changed, 0 removed, 1 unchanged" in output
    assert Check.objects.get().updated == updated


@pytest.mark.django_db
def test_import_reports_changed_fields(tmp_path):
    run(write(tmp_path, check_table("a", ttl=10)))
    output = run(write(tmp_path, check_table("a", ttl=20, tags='["new"]')))
    assert "changed web/a (ttl, tags)" in output
    check = Check.objects.get()
    assert (check.ttl, check.tag_names()) == (20, ["new"])


@pytest.mark.django_db
def test_import_keeps_checks_missing_from_the_file_unless_pruned(tmp_path):
    run(write(tmp_path, check_table("a") + check_table("b")))
    run(write(tmp_path, check_table("a")))
    assert Check.objects.count() == 2
    output = run(write(tmp_path, check_table("a")), "--prune")
    assert "removed web/b" in output
    assert list(Check.objects.values_list("name", flat=True)) == ["a"]


@pytest.mark.django_db
def test_broken_file_imports_nothing(tmp_path):
    text = check_table("good") + check_table("bad", **{"params.limit": '"many"'})
    with pytest.raises(CommandError) as info:
        run(write(tmp_path, text))
    assert info.value.returncode == 1
    assert "Nothing imported." in str(info.value)
    assert "config.toml: checks.web.bad: params.limit: expected int" in str(info.value)
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="nope.toml: cannot be read"):
        run(str(tmp_path / "nope.toml"))


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_says_what_would_happen(tmp_path):
    run(write(tmp_path, check_table("old") + check_table("b", ttl=1)))
    path = write(tmp_path, check_table("a") + check_table("b", ttl=2))

    output = run(path, "--dry-run", "--prune")

    assert output.splitlines() == [
        "would create web/a",
        "would change web/b (ttl)",
        "would remove web/old",
        f"{path}: would be 1 created, 1 changed, 1 removed; 0 unchanged "
        "(dry run: nothing written).",
    ]
    assert sorted(Check.objects.values_list("name", flat=True)) == ["b", "old"]


@pytest.mark.django_db
def test_config_file_setting_is_the_default_file(tmp_path, settings):
    settings.CONFIG_FILE = write(tmp_path, check_table("a"))
    run()
    assert Check.objects.filter(name="a").exists()


@pytest.mark.django_db
def test_unset_variable_is_warned_about_but_imported(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    err = io.StringIO()
    path = write(tmp_path, check_table("a", url="${NOT_SET_HERE}"))
    call_command("import_config", path, stdout=io.StringIO(), stderr=err)
    assert "web/a uses ${NOT_SET_HERE}, which is not set here" in err.getvalue()
    assert Check.objects.get().params == {"url": "${NOT_SET_HERE}"}


@pytest.mark.django_db
def test_placeholders_are_stored_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cr3t-value")
    run(write(tmp_path, check_table("a", url="https://h/?t=${API_TOKEN}&u=${USER_X:-me}")))
    assert Check.objects.get().params["url"] == "https://h/?t=${API_TOKEN}&u=${USER_X:-me}"


@pytest.mark.django_db
def test_telescope_config_imports_unchanged(monkeypatch):
    monkeypatch.setenv("ENV_NAME", "prod")
    output = run(str(TELESCOPE_CONFIG))
    assert "12 created" in output
    env = Check.objects.get(project="remotesettings", name="env")
    assert env.params == {"url": "http://${ENV_NAME}.service.org", "expected_status": 503}
    heartbeat = Check.objects.get(name="public-heartbeat")
    assert heartbeat.description.startswith("Heartbeat of the public read-only instance.")


@pytest.mark.django_db
def test_export_imports_back_to_identical_rows(tmp_path):
    run(str(TELESCOPE_CONFIG))
    Check.objects.filter(name="latency").update(enabled=False, ttl=0)
    before = [importer.spec_of(c) for c in Check.objects.prefetch_related("tags")]
    exported = tmp_path / "exported.toml"
    call_command("export_config", "-o", str(exported))
    Check.objects.all().delete()
    Tag.objects.all().delete()
    run(str(exported))
    after = [importer.spec_of(c) for c in Check.objects.prefetch_related("tags")]
    assert after == before


@pytest.mark.django_db
def test_export_writes_to_stdout_with_placeholders(tmp_path):
    run(write(tmp_path, check_table("a", url="${API_TOKEN}")))
    out = io.StringIO()
    call_command("export_config", stdout=out)
    assert reader.parse(out.getvalue(), "stdout")[0].params == {"url": "${API_TOKEN}"}


@pytest.mark.django_db
def test_reordering_the_file_keeps_the_new_order(tmp_path):
    run(write(tmp_path, check_table("a") + check_table("b")))
    output = run(write(tmp_path, check_table("b") + check_table("a")))
    assert "2 unchanged" in output
    assert list(Check.objects.values_list("name", flat=True)) == ["b", "a"]


UPSTREAM_ONLY = """
[checks.settings.signatures]
module = "checks.remotesettings.signatures_age"
params.max_age = 5

[checks.normandy.recipes]
module = "checks.normandy.remotesettings_recipes"
"""


@pytest.mark.django_db
def test_a_config_with_upstream_only_modules_says_so_and_offers_to_skip_them(tmp_path):
    path = write(tmp_path, check_table("a") + UPSTREAM_ONLY)

    with pytest.raises(CommandError) as refused:
        run(path)

    message = str(refused.value)
    assert message.startswith("Nothing imported.")
    assert (
        f"{path}: checks.settings.signatures: module: module "
        "'checks.remotesettings.signatures_age' exists only in upstream Telescope "
        "(mozilla-services/telescope), not in this service"
    ) in message
    assert message.endswith(
        "2 checks use modules not installed here: --skip-unavailable imports the others "
        "and lists these."
    )
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_skip_unavailable_imports_the_rest_and_lists_what_it_skipped(tmp_path):
    path = write(tmp_path, check_table("a") + UPSTREAM_ONLY + check_table("b"))

    output = run(path, "--skip-unavailable")

    assert sorted(Check.objects.values_list("name", flat=True)) == ["a", "b"]
    lines = output.splitlines()
    assert lines[:3] == ["created web/a", "created web/b", f"{path}: 2 created, 0 changed, 0 removed, 0 unchanged."]
    assert lines[3].startswith("skipped settings/signatures: module "
                               "'checks.remotesettings.signatures_age' exists only in upstream")
    assert lines[4].startswith("skipped normandy/recipes: module 'checks.normandy.")
    assert lines[5] == "2 checks were left out (--skip-unavailable): their modules are not installed here."


@pytest.mark.django_db
def test_skip_unavailable_in_a_dry_run_says_what_it_would_skip(tmp_path):
    output = run(write(tmp_path, check_table("a") + UPSTREAM_ONLY), "--skip-unavailable", "--dry-run")

    assert "would create web/a" in output
    assert "would skip settings/signatures: " in output
    assert "2 checks would be left out (--skip-unavailable)" in output
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_a_pruning_import_that_skips_keeps_the_stored_checks_it_skipped(tmp_path):
    Check.objects.create(project="settings", name="signatures", module=ECHO, params={"url": "u"})
    Check.objects.create(project="web", name="gone", module=ECHO, params={"url": "u"})

    output = run(write(tmp_path, check_table("a") + UPSTREAM_ONLY), "--skip-unavailable", "--prune")

    assert "removed web/gone" in output and "removed settings/signatures" not in output
    assert sorted(Check.objects.values_list("name", flat=True)) == ["a", "signatures"]


@pytest.mark.django_db
def test_a_module_not_allowed_is_not_skipped(tmp_path, settings):
    text = check_table("a") + '[checks.web.shell]\nmodule = "subprocess"\n'
    with pytest.raises(CommandError, match="not an allowed check module"):
        run(write(tmp_path, text), "--skip-unavailable")
    assert not Check.objects.exists()
