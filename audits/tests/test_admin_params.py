"""
The parameters of a check in admin: one field per parameter of `run()`, validated
exactly as the importer validates a config file, placeholders never resolved.
"""

import json
import textwrap
import uuid
from typing import Any, Literal, Optional

import pytest
from django.contrib.auth.models import User

from audits.admin_forms import from_text, to_text
from audits.config import reader
from audits.models import Check
from audits.params import cast
from foundation.config.errors import ConfigError

ECHO = "audits.tests.checkmods.echo"
COUNTER = "audits.tests.checkmods.counter"
SECRET = "s3cr3t-token-value-42"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


@pytest.fixture
def user_module(tmp_path, monkeypatch, settings):
    """`user_module(source)`: the dotted path of a new module outside `checks/`,
    in a package of its own that CHECK_MODULES allows, as a user would add it."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str) -> str:
        package = tmp_path / f"user_checks_{uuid.uuid4().hex}"
        settings.CHECK_MODULES = [*settings.CHECK_MODULES, package.name]
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "mine.py").write_text(textwrap.dedent(source))
        return f"{package.name}.mine"

    return make


def form(check=None, module=ECHO, params_form=ECHO, **params):
    """What the browser posts for the structured form (param-<name> fields)."""
    data = {
        "project": check.project if check else "proj",
        "name": check.name if check else "check",
        "module": module,
        "description": "",
        "enabled": "on",
        "ttl": "",
        "schedule": "",
        "failure_threshold": 1,
        "recovery_threshold": 1,
        "position": 0,
        "plot": "",
    }
    if params_form is not None:
        data["params_form"] = params_form
    data.update({f"param-{name}": value for name, value in params.items()})
    return data


def change_url(check):
    return f"/admin/audits/check/{check.pk}/change/"


def errors_of(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def importer_error(module: str, toml_params: str) -> str:
    """The importer's message for the same values written in a config file."""
    text = f'[checks.proj.check]\nmodule = "{module}"\n{toml_params}\n'
    with pytest.raises(ConfigError) as info:
        reader.parse(text, "config.toml")
    (error,) = info.value.errors
    return error


# The page.


def test_each_parameter_is_a_field_with_its_type_default_and_requirement(
    admin_client, make_check
):
    check = make_check(params={"url": "https://example.com", "ports": [80, 443]})
    page = admin_client.get(change_url(check))
    form_ = page.context["adminform"].form
    assert [n for n in form_.fields if n.startswith("param-")] == [
        "param-url", "param-ok", "param-limit", "param-ports", "param-headers",
        "param-names", "param-threshold",
    ]
    assert "params" not in form_.fields  # no second place to edit them
    html = page.content.decode()
    assert '<label class="required" for="id_param-url">' in html
    assert '<label for="id_param-limit">' in html
    assert 'placeholder="1"' in html  # limit's default
    assert "list[int], default <code>[]</code>" in html
    assert ">\n80\n443</textarea>" in html  # one value per line
    assert 'value="https://example.com"' in html
    assert "Passes when `ok` is true" in html  # the module's docstring


def test_module_is_suggested_from_the_installed_modules(admin_client, make_check):
    html = admin_client.get(change_url(make_check())).content.decode()
    assert 'list="id_module_installed"' in html
    assert '<option value="checks.core.heartbeat"></option>' in html


def test_values_are_typed_and_stored_as_the_importer_stores_them(admin_client, make_check):
    check = make_check()
    response = admin_client.post(
        change_url(check),
        form(
            check,
            url=" https://example.com/a ",
            ok="false",
            limit="1.0",
            ports="80\n\n 443 \n",
            headers='{"X-A": 1}',
            names='["a b", " c"]',
            threshold='"7"',
        ),
    )
    assert response.status_code == 302, errors_of(response)
    check.refresh_from_db()
    assert check.params == {
        "url": "https://example.com/a",
        "ok": False,
        "limit": 1,
        "ports": [80, 443],
        "headers": {"X-A": "1"},
        "names": ["a b", " c"],
        "threshold": "7",
    }
    toml = textwrap.dedent(
        """
        [checks.proj.check]
        module = "audits.tests.checkmods.echo"
        params = {url = "https://example.com/a", ok = false, limit = 1.0, ports = [80, 443], headers = {X-A = 1}, names = ["a b", " c"], threshold = "7"}
        """
    )
    (spec,) = reader.parse(toml, "config.toml")
    assert spec.params == check.params


def test_empty_fields_are_left_out_so_the_defaults_apply(admin_client, make_check):
    check = make_check(params={"url": "u", "limit": 5, "ports": [1]})
    response = admin_client.post(change_url(check), form(check, url="u", limit="", ports=""))
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.params == {"url": "u"}


def test_what_is_stored_comes_back_unchanged(admin_client, make_check):
    params = {
        "url": "https://h/${PATH}", "ok": True, "limit": "${LIMIT}",
        "ports": [80, "${PORT}"], "headers": {"A": "${TOKEN}"}, "names": [],
        "threshold": "5",
    }
    check = make_check(params=params)
    page = admin_client.get(change_url(check))
    form_ = page.context["adminform"].form
    posted = form(check, **{
        name[len("param-"):]: form_[name].value() or ""
        for name in form_.fields if name.startswith("param-")
    })
    assert admin_client.post(change_url(check), posted).status_code == 302
    check.refresh_from_db()
    assert check.params == params


@pytest.mark.parametrize(
    "value, annotation",
    [
        ("text", str),
        ("5", str),
        ("true", str),
        (5, int),
        ("${PORT}", int),
        (1.5, float),
        (False, bool),
        ([1, 2], list[int]),
        (["a", "b c"], list[str]),
        (["[a", "b"], list[str]),
        (["", " x"], list[str]),
        (['"q"'], list[str]),
        (["${A}", 3], list[int]),
        ([], list[str]),
        ([1, "a"], list),
        ("${LIST}", list[str]),
        ({"a": "b"}, dict[str, str]),
        ("${TABLE}", dict[str, str]),
        ({}, dict),
        (7, int | str),
        ("7", int | str),
        ("seven", int | str),
        ("null", Optional[str]),
        (None, Optional[int]),
        ("b", Literal["a", "b"]),
        ({"x": [1]}, Any),
        ("true", Any),
    ],
)
def test_text_of_a_value_reads_back_as_the_same_value(value, annotation):
    text = to_text(value, annotation)
    assert cast(from_text(text, annotation), annotation, "params.x", True) == cast(
        value, annotation, "params.x", True
    )
    assert type(from_text(text, annotation)) is type(value) or isinstance(value, list)


# Validation: what the importer refuses, with its messages.


@pytest.mark.parametrize(
    "param, text, toml, nested",
    [
        ("limit", "abc", 'params.limit = "abc"', False),  # wrong type
        ("limit", "1.5", "params.limit = 1.5", False),
        ("limit", "true", "params.limit = true", False),
        ("ok", "maybe", 'params.ok = "maybe"', False),
        ("ports", "80\nx\n443", 'params.ports = [80, "x", 443]', True),  # bad element
        ("ports", '[80, "x"]', 'params.ports = [80, "x"]', True),
        ("ports", '"80"', 'params.ports = "80"', False),
        ("headers", '{"A": true}', "params.headers = {A = true}", True),
        ("headers", "abc", 'params.headers = "abc"', False),
        ("threshold", "[1]", "params.threshold = [1]", False),  # bad union
        ("threshold", "true", "params.threshold = true", False),
    ],
)
def test_form_refuses_what_the_importer_refuses_with_its_message(
    admin_client, make_check, param, text, toml, nested
):
    check = make_check()
    response = admin_client.post(change_url(check), form(check, url="u", **{param: text}))
    (message,) = errors_of(response)[f"param-{param}"]
    expected = importer_error(ECHO, f'params.url = "u"\n{toml}')
    if nested:
        assert message.startswith(f"{param}[") or message.startswith(f"{param}.")
        assert expected.endswith(f": params.{message}")
    else:
        assert expected.endswith(f": params.{param}: {message}")
    check.refresh_from_db()
    assert check.params == {"url": "http://example.com"}  # nothing saved


def test_missing_required_parameter_is_the_importers_message(admin_client, make_check):
    check = make_check()
    response = admin_client.post(change_url(check), form(check, url=""))
    (message,) = errors_of(response)["param-url"]
    assert importer_error(ECHO, "params.limit = 2").endswith(f"params.url: {message}")
    assert message == "missing required parameter"


def test_every_field_shows_its_own_error_at_once(admin_client, make_check):
    check = make_check()
    response = admin_client.post(
        change_url(check), form(check, url="", limit="x", ports="1\ny", headers="{bad")
    )
    errors = errors_of(response)
    assert errors["param-url"] == ["missing required parameter"]
    assert errors["param-limit"][0].startswith("expected int")
    assert errors["param-ports"][0].startswith("ports[1]: expected int")
    assert errors["param-headers"][0].startswith("expected a JSON object")
    assert "param-ok" not in errors


def test_unknown_parameter_cannot_be_posted(admin_client, make_check):
    check = make_check()
    data = form(check, url="u")
    data["param-nonsense"] = "1"  # not a field of the form: ignored
    assert admin_client.post(change_url(check), data).status_code == 302
    check.refresh_from_db()
    assert check.params == {"url": "u"}


def test_raw_json_is_validated_like_the_importer(admin_client, make_check):
    check = make_check()
    data = form(check, params_form=None)  # a script posting JSON, as before
    data["params"] = json.dumps({"url": "u", "nonsense": 1})
    (message,) = errors_of(admin_client.post(change_url(check), data))["params"]
    assert importer_error(ECHO, 'params = {url = "u", nonsense = 1}').endswith(message)
    data["params"] = json.dumps({"url": "u", "limit": "3"})
    assert admin_client.post(change_url(check), data).status_code == 302
    check.refresh_from_db()
    assert check.params == {"url": "u", "limit": 3}


def test_module_that_cannot_be_loaded_is_refused(admin_client, make_check):
    check = make_check()
    response = admin_client.post(change_url(check), form(check, module="checks.no_such_module", url="u"))
    (message,) = errors_of(response)["module"]
    assert message.startswith("module 'checks.no_such_module' cannot be imported")
    assert importer_error("checks.no_such_module", "").endswith(f"module: {message}")


# Placeholders.


def test_placeholders_are_stored_as_written_and_never_resolved(
    admin_client, make_check, monkeypatch
):
    monkeypatch.setenv("API_TOKEN", SECRET)
    monkeypatch.setenv("LIMIT", "3")
    check = make_check()
    response = admin_client.post(
        change_url(check),
        form(check, url="https://h/?t=${API_TOKEN}", limit="${LIMIT}", ports="${LIMIT}\n80",
             headers='{"Authorization": "Bearer ${API_TOKEN}"}'),
    )
    assert response.status_code == 302, errors_of(response)
    check.refresh_from_db()
    assert check.params == {
        "url": "https://h/?t=${API_TOKEN}",
        "limit": "${LIMIT}",
        "ports": ["${LIMIT}", 80],
        "headers": {"Authorization": "Bearer ${API_TOKEN}"},
    }
    page = admin_client.get(change_url(check)).content.decode()
    assert 'value="https://h/?t=${API_TOKEN}"' in page
    assert 'value="${LIMIT}"' in page
    assert SECRET not in page


def test_refused_form_shows_placeholders_as_typed(admin_client, make_check, monkeypatch):
    monkeypatch.setenv("API_TOKEN", SECRET)
    check = make_check()
    response = admin_client.post(
        change_url(check), form(check, url="https://h/?t=${API_TOKEN}", limit="x")
    )
    html = response.content.decode()
    assert "errornote" in html
    assert "${API_TOKEN}" in html and SECRET not in html


# When the module changes.


def test_changing_the_module_shows_its_fields_and_saves_nothing(admin_client, make_check):
    check = make_check(params={"url": "u", "limit": 3})
    response = admin_client.post(
        change_url(check), form(check, module=COUNTER, url="u", limit="3", key="")
    )
    errors = errors_of(response)
    (message,) = errors["__all__"]
    assert message.startswith(f"The module is now {COUNTER}")
    assert "Left out, as" in message and "limit, url" in message
    form_ = response.context["adminform"].form
    assert [n for n in form_.fields if n.startswith("param-")] == ["param-seconds", "param-key"]
    html = response.content.decode()
    assert f'name="params_form" value="{COUNTER}"' in html
    assert "Counts its runs" in html  # the new module's documentation
    check.refresh_from_db()
    assert check.module == ECHO

    saved = admin_client.post(
        change_url(check), form(check, module=COUNTER, params_form=COUNTER, key="k")
    )
    assert saved.status_code == 302, errors_of(saved)
    check.refresh_from_db()
    assert (check.module, check.params) == (COUNTER, {"key": "k"})


def test_values_of_same_named_parameters_are_kept(admin_client, make_check, user_module):
    other = user_module(
        """
        '''Takes an url too.'''
        def run(url: str, retries: int = 1):
            return True, url
        """
    )
    check = make_check()
    response = admin_client.post(change_url(check), form(check, module=other, url="https://k"))
    form_ = response.context["adminform"].form
    assert form_["param-url"].value() == "https://k"
    assert "Left out" not in str(form_.non_field_errors())


def test_module_taking_any_parameter_is_edited_as_json(admin_client, make_check, user_module):
    path = user_module(
        """
        '''Takes anything.'''
        def run(url: str, **extra):
            return True, extra
        """
    )
    check = make_check()
    switched = admin_client.post(change_url(check), form(check, module=path, url="u", limit="2"))
    form_ = switched.context["adminform"].form
    assert "params" in form_.fields and not any(n.startswith("param-") for n in form_.fields)
    assert json.loads(form_["params"].value()) == {"url": "u", "limit": 2}

    data = form(check, module=path, params_form="")
    data["params"] = json.dumps({"url": "u", "anything": [1]})
    assert admin_client.post(change_url(check), data).status_code == 302
    check.refresh_from_db()
    assert check.params == {"url": "u", "anything": [1]}
    page = admin_client.get(change_url(check))
    assert "params" in page.context["adminform"].form.fields


def test_stored_parameters_run_no_longer_takes_are_shown_as_json(admin_client, make_check):
    check = make_check(params={"url": "u"})
    Check.objects.filter(pk=check.pk).update(params={"url": "u", "gone": 1})
    form_ = admin_client.get(change_url(check)).context["adminform"].form
    assert json.loads(form_["params"].value()) == {"url": "u", "gone": 1}  # nothing lost


# Adding a check.


def test_adding_a_check_shows_the_fields_once_the_module_is_chosen(admin_client, db):
    page = admin_client.get("/admin/audits/check/add/")
    assert page.status_code == 200
    assert "Choose a module" in page.content.decode()

    data = form(module=ECHO, params_form="")
    data["params"] = ""
    chosen = admin_client.post("/admin/audits/check/add/", data)
    errors = errors_of(chosen)
    assert errors["param-url"] == ["missing required parameter"]
    assert "Passes when `ok` is true" in chosen.content.decode()
    assert not Check.objects.exists()

    created = admin_client.post("/admin/audits/check/add/", form(module=ECHO, url="https://e"))
    assert created.status_code == 302, errors_of(created)
    assert Check.objects.get().params == {"url": "https://e"}


def test_add_page_takes_the_module_from_the_query_string(admin_client, db):
    page = admin_client.get(f"/admin/audits/check/add/?module={ECHO}")
    assert "param-url" in page.context["adminform"].form.fields


def test_custom_dotted_path_is_accepted(admin_client, db, user_module):
    path = user_module(
        """
        '''My own check.'''
        def run(threshold: int):
            return threshold > 0, threshold
        """
    )
    response = admin_client.post("/admin/audits/check/add/", form(module=path, params_form=path, threshold="4"))
    assert response.status_code == 302, errors_of(response)
    assert Check.objects.get().params == {"threshold": 4}


# Documentation.


def test_documentation_and_defaults_are_escaped(admin_client, make_check, user_module):
    path = user_module(
        '''
        """Checks <script>alert("doc")</script> & <b>more</b>."""
        def run(label: str = "<img src=x onerror=alert(1)>", count: int = 1):
            return True, label
        '''
    )
    check = make_check(module=path, params={})
    html = admin_client.get(change_url(check)).content.decode()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&quot;doc&quot;)&lt;/script&gt; &amp; &lt;b&gt;more&lt;/b&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_broken_module_is_said_and_its_parameters_kept_as_json(admin_client, make_check):
    check = make_check(module="no_run", params={"a": 1})
    page = admin_client.get(change_url(check))
    html = page.content.decode()
    assert "This module is unavailable" in html and "has no run() function" in html
    assert json.loads(page.context["adminform"].form["params"].value()) == {"a": 1}
