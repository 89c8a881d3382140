"""
One `ConfigError` for every reader of a config file: the file's own problems, each
app's section, Periskop's YAML, all listed together, each with its file, item and
field.
"""

import pytest

from foundation.config import document
from foundation.config.errors import ConfigError, Problem

BROKEN = """
[checks.web.home]
module = "checks.core.heartbeat"
params.url = "http://127.0.0.1:1/"
schedule = "often"

[errors.services.api]
refresh_interval = "5x"

[errors.services.billing]
scheme = "gopher"
"""


def problems_of(path) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        document.plan(document.load(path), str(path), prune=False)
    return info.value.problems


@pytest.mark.django_db
def test_every_section_reports_into_one_list_of_located_problems(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    located = [(p.source, p.item, p.field) for p in problems_of(path)]
    assert located == [
        (str(path), "checks.web.home", "schedule"),
        (str(path), "errors.services.api", "refresh_interval"),
        (str(path), "errors.services.billing", "scheme"),
    ]


@pytest.mark.django_db
def test_a_problem_reads_file_item_field_message(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as info:
        document.plan(document.load(path), "config.toml", prune=False)
    assert info.value.errors[2] == (
        "config.toml: errors.services.billing: scheme: 'gopher' must be http or https"
    )
    assert str(info.value) == "\n".join(info.value.errors)


def test_a_file_that_does_not_parse_is_a_problem_of_the_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[checks\n")
    (problem,) = problems_of(path)
    assert (problem.source, problem.item, problem.field) == (str(path), "", "")
    assert problem.message.startswith("invalid TOML")


def test_periskop_yaml_reports_through_the_same_error(tmp_path):
    path = tmp_path / "periskop.yml"
    path.write_text("services:\n  - scraper: {refresh_interval: 30s}\n")
    (problem,) = problems_of(path)
    assert str(problem) == f"{path}: services[0]: name: missing"


def test_renamed_shows_an_upload_by_the_name_it_was_uploaded_as():
    error = ConfigError([Problem("/tmp/x/upload.toml", "", "", "cannot read /tmp/x/upload.toml")])
    assert error.renamed("/tmp/x/upload.toml", "mine.toml").errors == [
        "mine.toml: cannot read mine.toml"
    ]
