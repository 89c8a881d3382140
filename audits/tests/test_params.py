"""Casting parameter values to the annotations of `run()`."""

from typing import Any, List, Literal, Optional, Union

import pytest

from audits.params import ParamError, cast


@pytest.mark.parametrize(
    "value, annotation, expected",
    [
        ("503", int, 503),
        (5.0, int, 5),
        (3, float, 3.0),
        ("true", bool, True),
        (80, str, "80"),
        (["1", 2], list[int], [1, 2]),
        (["a"], List[str], ["a"]),
        ({"a": 1}, dict[str, str], {"a": "1"}),
        ("7", Union[int, str], "7"),
        ("7", Optional[int], 7),
        (7, int | str, 7),
        ({"x": [1]}, Any, {"x": [1]}),
        ("b", Literal["a", "b"], "b"),
    ],
)
def test_values_are_cast_to_annotations(value, annotation, expected):
    assert cast(value, annotation, "params.x") == expected


@pytest.mark.parametrize(
    "value, annotation, message",
    [
        ("many", int, "expected int"),
        (True, int, "expected int"),
        (2.5, int, "not a whole number"),
        ("maybe", bool, "is not a boolean"),
        ([1], str, "expected str"),
        ("a", list[str], "expected a list"),
        ([1], dict[str, str], "expected a table"),
        ("c", Literal["a", "b"], "is not one of 'a', 'b'"),
    ],
)
def test_values_that_do_not_fit_are_refused(value, annotation, message):
    with pytest.raises(ParamError, match=message) as info:
        cast(value, annotation, "params.x")
    assert info.value.field == "params.x"


def test_error_in_a_list_names_the_element():
    with pytest.raises(ParamError) as info:
        cast([1, "x"], list[int], "params.ports")
    assert info.value.field == "params.ports[1]"


def test_placeholders_are_kept_when_allowed():
    assert cast("${PORT}", int, "params.port", allow_placeholders=True) == "${PORT}"
    with pytest.raises(ParamError):
        cast("${PORT}", int, "params.port")
