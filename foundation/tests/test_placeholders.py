"""`${VAR}` placeholders: resolved everywhere at run time, redacted afterwards."""

import pytest

from foundation import placeholders

ENV = {"TOKEN": "s3cr3t-value", "HOST": "example.org", "SHORT": "ab"}


def test_several_placeholders_in_one_string_are_resolved():
    assert placeholders.resolve("https://${HOST}/?t=${TOKEN}", ENV) == (
        "https://example.org/?t=s3cr3t-value"
    )


def test_placeholders_in_nested_tables_and_lists_are_resolved():
    value = {"headers": {"Authorization": "Bearer ${TOKEN}"}, "urls": ["${HOST}", 3]}
    assert placeholders.resolve(value, ENV) == {
        "headers": {"Authorization": "Bearer s3cr3t-value"},
        "urls": ["example.org", 3],
    }


def test_default_is_used_only_when_the_variable_is_unset():
    assert placeholders.resolve("${NOPE:-x}/${HOST:-y}", ENV) == "x/example.org"


def test_unset_variable_without_default_raises_with_its_name():
    with pytest.raises(placeholders.MissingVariable, match="NOPE is not set"):
        placeholders.resolve("${NOPE}", ENV)


def test_resolution_records_secrets_for_redaction():
    secrets = {}
    placeholders.resolve(["${TOKEN}", "${SHORT}", "${NOPE:-default}"], ENV, secrets)
    assert secrets == {"s3cr3t-value": "${TOKEN}"}


def test_redact_replaces_secrets_in_keys_values_and_lists():
    secrets = {"s3cr3t-value": "${TOKEN}"}
    data = {"s3cr3t-value": ["x s3cr3t-value y", 1], "ok": "plain"}
    assert placeholders.redact(data, secrets) == {
        "${TOKEN}": ["x ${TOKEN} y", 1], "ok": "plain",
    }


def test_required_names_leaves_out_variables_with_defaults():
    value = {"a": "${ONE}", "b": ["${TWO:-2}", "${THREE}"]}
    assert placeholders.required_names(value) == {"ONE", "THREE"}


def test_dollar_without_braces_is_left_alone():
    assert placeholders.resolve("$HOME costs $5", ENV) == "$HOME costs $5"
