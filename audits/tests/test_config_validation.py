"""
Validation is whole: every problem of every check and service is listed, names
keep to what the database and URLs carry (the rule on the models, through
`foundation.names`), duplicates and wrongly typed sections are refused in words,
and the admin's import answers each of them with its page, never a 500.
"""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError

from audits.config import reader
from audits.models import Check, Tag
from errors.config.reader import from_periskop_yaml, read_section
from errors.models import Service
from foundation.config import document, pages
from foundation.config.errors import ConfigError

URL = "/admin/audits/import/"
ECHO = "audits.tests.checkmods.echo"
LONG = "x" * 101


def check_problems(toml: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        reader.parse(toml, "config.toml")
    return info.value.errors


def check_named(project: str, name: str) -> str:
    table = f"[checks.{_toml_string(project)}.{_toml_string(name)}]"
    return f'{table}\nmodule = "{ECHO}"\nparams.url = "u"\n'


def _toml_string(value: str) -> str:
    """`value` as a TOML basic string (control characters escaped)."""
    escaped = "".join(
        f"\\u{ord(c):04x}" if ord(c) < 0x20 or c in '"\\' else c for c in value
    )
    return f'"{escaped}"'


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


def upload(client, text, name="config.toml"):
    data = {"file": SimpleUploadedFile(name, text.encode(), "application/octet-stream")}
    return client.post(URL, data)


# --- Every problem, not the first of each check ------------------------------------------


@pytest.mark.django_db
def test_every_problem_of_a_check_is_listed():
    problems = check_problems(f"""
[checks.web.home]
module = "{ECHO}"
params = {{ limit = "many", ok = "perhaps" }}
ttl = -1
schedule = "5x"
failure_threshold = 0
tags = ["a b", "ok"]
colour = "red"
""")
    fields = [p.split(": ")[2] for p in problems]
    assert sorted(fields) == sorted([
        "params.url", "params.limit", "params.ok", "ttl", "schedule",
        "failure_threshold", "tags[0]", "colour",
    ])


@pytest.mark.django_db
def test_every_problem_of_a_service_is_listed():
    with pytest.raises(ConfigError) as info:
        read_section({"services": {"api\n": {"scheme": "ftp", "endpoint": "errors"}}}, "c.toml")
    assert {p.field for p in info.value.problems} == {"name", "scheme", "endpoint"}


# --- Names: what the database and URLs carry ------------------------------------------


BAD_NAMES = {
    "too long": LONG,
    "NUL": "a\x00b",
    "newline": "a\nb",
    "tab": "a\tb",
    "escape": "a\x1bb",
    "dot": ".",
    "dot dot": "..",
    "slash": "a/b",
    "empty": "",
}


@pytest.mark.django_db
@pytest.mark.parametrize("label", BAD_NAMES)
def test_a_bad_check_name_or_project_is_refused(label):
    bad = BAD_NAMES[label]
    assert check_problems(check_named("web", bad))[0].startswith("config.toml: checks.web.")
    assert any(": project: " in p for p in check_problems(check_named(bad, "home")))


@pytest.mark.django_db
@pytest.mark.parametrize("label", BAD_NAMES)
def test_a_bad_tag_name_is_refused(label):
    toml = check_named("web", "home") + f"tags = [{_toml_string(BAD_NAMES[label])}]\n"
    assert any(": tags[0]: " in p for p in check_problems(toml))


@pytest.mark.django_db
@pytest.mark.parametrize("label", BAD_NAMES)
def test_a_bad_service_name_is_refused(label):
    with pytest.raises(ConfigError) as info:
        read_section({"services": {BAD_NAMES[label]: {}}}, "c.toml")
    assert info.value.problems[0].field == "name"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["a" * 100, "web-1", "web.v2", "Ünïcode"])
def test_names_within_the_rule_are_accepted(name):
    assert reader.parse(check_named("web", name) + 'tags = ["t"]\n', "c.toml")[0].name == name


def test_the_models_hold_the_rule_the_admin_runs():
    for model, field, bad in (
        (Check, "name", "a\x00b"), (Check, "project", "tags"), (Tag, "name", "a+b"),
        (Service, "name", "a/b"),
    ):
        with pytest.raises(ValidationError):
            model._meta.get_field(field).clean(bad, None)


# --- Duplicates and wrongly typed sections ------------------------------------------------


def test_two_periskop_services_of_one_name_are_refused():
    document = {"services": [{"name": "api"}, {"name": "web"}, {"name": "api"}]}
    with pytest.raises(ConfigError) as info:
        from_periskop_yaml(document, "periskop.yaml")
    assert info.value.errors == [
        "periskop.yaml: services[2]: name: 'api' is the name of an earlier service"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name, text, expected", [
    ("p.yaml", "services:\n  - name: api\n    scraper: hello\n", "scraper: expected a mapping"),
    ("p.yaml", "services: 3\n", "expected a list of services"),
    ("p.yaml", "services:\n  - hello\n", "services[0]: expected a mapping"),
    ("p.yaml", "- a\n- b\n", "expected a list of services"),
    ("c.toml", "[errors]\nservices = 3\n", "expected only [errors.services.<name>]"),
    ("c.toml", "errors = 3\n", "expected only [errors.services.<name>]"),
    ("c.toml", "[errors.services]\napi = 'x'\n", "errors.services.api: expected a table"),
    ("c.toml", "checks = 'x'\n", "checks: expected tables"),
    ("c.toml", "[checks]\nweb = 'x'\n", "checks.web: expected [checks.web.<name>] tables"),
    ("c.toml", "[checks.web]\nhome = 'x'\n", "checks.web.home: expected a table"),
])
def test_a_wrongly_typed_section_is_a_clear_error(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        document.plan(document.load(path), name, prune=False)
    assert any(expected in error for error in info.value.errors), info.value.errors


# --- The admin's import: every case above is a page, never a 500 ---------------------


CATALOGUE = {
    "long project": ("c.toml", check_named(LONG, "home")),
    "NUL name": ("c.toml", check_named("web", "a\x00b")),
    "newline name": ("c.toml", check_named("web", "a\nb")),
    "dot dot": ("c.toml", check_named("web", "..")),
    "slash": ("c.toml", check_named("web", "a/b")),
    "NUL tag": ("c.toml", check_named("web", "home") + 'tags = ["a\\u0000"]\n'),
    "long tag": ("c.toml", check_named("web", "home") + f'tags = ["{LONG}"]\n'),
    "long service": ("c.toml", f"[errors.services.{LONG}]\n"),
    "NUL service": ("c.toml", f"[errors.services.{_toml_string('a' + chr(0))}]\n"),
    "duplicate services": ("p.yaml", "services:\n  - name: api\n  - name: api\n"),
    "scraper string": ("p.yaml", "services:\n  - name: api\n    scraper: hello\n"),
    "services number": ("p.yaml", "services: 3\n"),
    "services table number": ("c.toml", "[errors]\nservices = 3\n"),
    "check string": ("c.toml", "[checks.web]\nhome = 'x'\n"),
    "YAML NUL name": ("p.yaml", 'services:\n  - name: "a\\0b"\n'),
    "YAML surrogate": ("p.yaml", 'services:\n  - name: "a\\uD800"\n'),
}


@pytest.mark.parametrize("case", CATALOGUE)
def test_the_admin_import_lists_the_problem_and_writes_nothing(admin_client, case):
    name, text = CATALOGUE[case]
    page = upload(admin_client, text, name=name)
    assert page.status_code == 200
    assert page.context["errors"]
    assert 'name="payload"' not in page.content.decode()
    assert not Check.objects.exists() and not Service.objects.exists()


def test_the_admin_apply_answers_a_page_when_the_database_refuses(admin_client, monkeypatch):
    preview = upload(admin_client, check_named("web", "home"))

    def refuse(plans):
        raise DataError("value too long for type character varying(100)")

    monkeypatch.setattr(document, "apply", refuse)
    page = admin_client.post(URL, {"payload": preview.context["payload"]})
    assert page.status_code == 400
    assert "value too long" in page.context["errors"][0]
    assert not Check.objects.exists()
