"""Validation of config.toml: the whole file, one clear error per problem."""

import textwrap

import pytest

from audits.config.reader import parse
from foundation.config.errors import ConfigError

ECHO = "audits.tests.checkmods.echo"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(textwrap.dedent(text), "config.toml")
    return info.value.errors


def test_valid_check_is_read_with_its_fields():
    (spec,) = parse(
        textwrap.dedent(f"""
        [checks.web.home]
        description = "Home"
        module = "{ECHO}"
        params.url = "http://x"
        params.limit = "5"
        ttl = 30
        tags = ["b", "a"]
        plot = ".limit"
        """),
        "config.toml",
    )
    assert (spec.project, spec.name, spec.ttl, spec.plot) == ("web", "home", 30, ".limit")
    assert spec.params == {"url": "http://x", "limit": 5}
    assert spec.tags == ["a", "b"]


def test_checks_keep_file_order():
    specs = parse(
        f'[checks.b.z]\nmodule = "{ECHO}"\nparams.url = "u"\n'
        f'[checks.a.y]\nmodule = "{ECHO}"\nparams.url = "u"\n',
        "c.toml",
    )
    assert [(s.project, s.position) for s in specs] == [("b", 0), ("a", 1)]


def test_unparseable_toml_names_the_line():
    (error,) = errors_of('[checks.web.home]\ndescription = "x"\nmodule = \n')
    assert error.startswith("config.toml: invalid TOML:")
    assert "line 3" in error


def test_unknown_module_is_refused():
    (error,) = errors_of('[checks.web.home]\nmodule = "checks.core.nope"\n')
    assert error.startswith("config.toml: checks.web.home: module: module 'checks.core.nope'")


def test_module_without_run_is_refused():
    (error,) = errors_of('[checks.web.home]\nmodule = "audits.tests.checkmods.no_run"\n')
    assert error == (
        "config.toml: checks.web.home: module: "
        "module 'audits.tests.checkmods.no_run' has no run() function"
    )


def test_missing_module_is_refused():
    (error,) = errors_of('[checks.web.home]\ndescription = "x"\n')
    assert "checks.web.home: module: missing" in error


def test_unknown_parameter_is_refused():
    (error,) = errors_of(f'[checks.web.home]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.nope = 1\n')
    assert error.startswith("config.toml: checks.web.home: params.nope: unknown parameter")


def test_missing_required_parameter_is_refused():
    (error,) = errors_of(f'[checks.web.home]\nmodule = "{ECHO}"\n')
    assert error == "config.toml: checks.web.home: params.url: missing required parameter"


def test_value_that_cannot_be_cast_is_refused():
    (error,) = errors_of(f'[checks.web.home]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.limit = "many"\n')
    assert error.startswith("config.toml: checks.web.home: params.limit: expected int")


def test_list_element_that_cannot_be_cast_is_refused():
    (error,) = errors_of(
        f'[checks.web.home]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.ports = [80, "x"]\n'
    )
    assert "checks.web.home: params.ports[1]: expected int" in error


def test_union_takes_the_first_member_that_fits():
    (spec,) = parse(
        f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.threshold = "12"\n', "c"
    )
    assert spec.params["threshold"] == "12"  # int | str: a string is already a str


def test_union_refuses_a_value_that_fits_no_member():
    (error,) = errors_of(
        f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.threshold = [1]\n'
    )
    assert "params.threshold: [1] fits none of int | str" in error


def test_table_values_are_cast():
    (error,) = errors_of(
        f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.headers.X-A = [1]\n'
    )
    assert "params.headers.X-A: expected str" in error


def test_unknown_field_is_refused():
    (error,) = errors_of(f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\nretries = 1\n')
    assert error.startswith("config.toml: checks.w.h: retries: unknown field")


def test_wrong_type_of_field_is_refused():
    (error,) = errors_of(f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\nttl = "60"\n')
    assert error == "config.toml: checks.w.h: ttl: expected an integer, got '60'"


def test_negative_ttl_is_refused():
    (error,) = errors_of(f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\nttl = -1\n')
    assert "ttl: must be 0 or more seconds" in error


def test_project_named_tags_is_refused():
    (error,) = errors_of(f'[checks.tags.h]\nmodule = "{ECHO}"\nparams.url = "u"\n')
    assert "checks.tags.h: project: 'tags' is reserved" in error


def test_name_that_breaks_urls_is_refused():
    (error,) = errors_of(f'[checks.w."a/b"]\nmodule = "{ECHO}"\nparams.url = "u"\n')
    assert "name: 'a/b' cannot hold '/'" in error


def test_tag_with_a_plus_is_refused():
    (error,) = errors_of(f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "u"\ntags = ["a+b"]\n')
    assert "tags[0]: 'a+b' cannot hold '+'" in error


def test_every_problem_of_the_file_is_listed():
    errors = errors_of(
        f'[checks.a.one]\nmodule = "{ECHO}"\n'
        f'[checks.a.two]\nmodule = "{ECHO}"\nparams.url = "u"\nparams.limit = "x"\n'
    )
    assert [e.split(":")[1].strip() for e in errors] == ["checks.a.one", "checks.a.two"]


def test_placeholder_in_a_typed_parameter_is_kept_for_run_time():
    (spec,) = parse(
        f'[checks.w.h]\nmodule = "{ECHO}"\nparams.url = "${{URL}}"\n'
        f'params.limit = "${{LIMIT}}"\nparams.ports = [1, "${{PORT}}"]\n',
        "c",
    )
    assert spec.params == {"url": "${URL}", "limit": "${LIMIT}", "ports": [1, "${PORT}"]}
