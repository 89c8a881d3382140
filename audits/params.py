"""
Parameters of a check: validated against the module's `run()` and cast to its types.

The same rules serve the importer (whole config file, before anything is written),
the runner (after `${VAR}` placeholders are resolved) and URL overrides. Casting
follows the annotations all the way down, which Telescope does not: the elements of
`list[int]` and the values of `dict[str, int]` are cast too, and a `Union` takes the
first member the value fits, trying exact type matches before conversions.

Errors are `ParamError`s carrying the field (`params.url`, `params.ports[2]`) so
that a message can say exactly which value is wrong.
"""

import inspect
import types
import typing
from typing import Any, Literal, Union

from audits.checkmodules import CheckModule
from foundation import placeholders


class ParamError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate(module: CheckModule, params: dict, *, allow_placeholders=True) -> dict:
    """Every parameter of `params` cast to `module`'s annotations; raise ParamError."""
    for name in params:
        if name not in module.parameters and not module.accepts_any_parameter:
            known = ", ".join(module.parameters) or "none"
            raise ParamError(
                f"params.{name}",
                f"unknown parameter for '{module.path}' (its parameters: {known})",
            )
    for name, parameter in module.parameters.items():
        if parameter.required and name not in params:
            raise ParamError(f"params.{name}", "missing required parameter")
    return {
        name: cast(value, _annotation(module, name), f"params.{name}", allow_placeholders)
        for name, value in params.items()
    }


def validate_each(module: CheckModule, values: dict):
    """
    `validate(module, values)`, and every parameter's first error.

    Returns (validated values or None, {parameter name or None: ParamError}).
    `validate` stops at the first error; after each one, the parameter is replaced by
    a placeholder (which passes every type) so that it goes on to the next.
    """
    errors: dict[str | None, ParamError] = {}
    trial = dict(values)
    while True:
        try:
            cleaned = validate(module, trial, allow_placeholders=True)
        except ParamError as exc:
            name = parameter_of(exc.field)
            if name is None or name in errors:
                errors.setdefault(name, exc)
                return None, errors
            errors[name] = exc
            trial[name] = _LOOK_PAST
            continue
        return (None if errors else cleaned), errors


def parameter_of(field: str) -> str | None:
    """"params.ports[2]" -> "ports"."""
    if not field.startswith("params."):
        return None
    rest = field.removeprefix("params.")
    for separator in ".[":
        rest = rest.split(separator, 1)[0]
    return rest or None


# Put in place of a parameter whose error is known, so that `validate` goes on to
# the next one: a placeholder passes every type. Never stored.
_LOOK_PAST = "${_}"


def cast(value: Any, annotation: Any, field: str, allow_placeholders=False) -> Any:
    """`value` converted to `annotation`, or ParamError naming `field`."""
    if allow_placeholders and isinstance(value, str) and placeholders.contains(value):
        return value  # cast once resolved, at run time
    if annotation in (Any, inspect.Parameter.empty, object):
        return value
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return _cast_union(value, typing.get_args(annotation), field, allow_placeholders)
    if origin is Literal:
        return _cast_literal(value, typing.get_args(annotation), field)
    if origin in (list, tuple, set, typing.List) or annotation in (list, tuple, set):
        return _cast_list(value, annotation, field, allow_placeholders)
    if origin is dict or annotation is dict:
        return _cast_dict(value, annotation, field, allow_placeholders)
    return _cast_scalar(value, annotation, field)


def _annotation(module: CheckModule, name: str) -> Any:
    parameter = module.parameters.get(name)
    return parameter.annotation if parameter else Any


def _cast_union(value, members, field, allow_placeholders):
    if value is None and type(None) in members:
        return None
    for member in members:
        if isinstance(member, type) and type(value) is member:
            return value
    errors = []
    for member in members:
        if member is type(None):
            continue
        try:
            return cast(value, member, field, allow_placeholders)
        except ParamError as exc:
            errors.append(exc.message)
    raise ParamError(field, f"{value!r} fits none of {_name(members)}")


def _cast_literal(value, choices, field):
    if value in choices:
        return value
    raise ParamError(field, f"{value!r} is not one of {', '.join(map(repr, choices))}")


def _cast_list(value, annotation, field, allow_placeholders):
    if not isinstance(value, (list, tuple)):
        raise ParamError(field, f"expected a list, got {_type_name(value)} {value!r}")
    args = typing.get_args(annotation)
    element = args[0] if args else Any
    return [
        cast(item, element, f"{field}[{i}]", allow_placeholders)
        for i, item in enumerate(value)
    ]


def _cast_dict(value, annotation, field, allow_placeholders):
    if not isinstance(value, dict):
        raise ParamError(field, f"expected a table, got {_type_name(value)} {value!r}")
    args = typing.get_args(annotation)
    value_type = args[1] if len(args) == 2 else Any
    return {
        str(k): cast(v, value_type, f"{field}.{k}", allow_placeholders)
        for k, v in value.items()
    }


def _cast_scalar(value, annotation, field):
    caster = SCALARS.get(annotation)
    if caster is None:
        if isinstance(annotation, type) and isinstance(value, annotation):
            return value
        raise ParamError(field, f"cannot check a value against {_name([annotation])}")
    try:
        return caster(value)
    except (TypeError, ValueError) as exc:
        raise ParamError(field, f"expected {_name([annotation])}: {exc}") from None


def _to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.lower()]
    raise ValueError(f"{value!r} is not a boolean (true or false)")


def _to_int(value) -> int:
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _to_float(value) -> float:
    if isinstance(value, (bool, list, dict)):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _to_str(value) -> str:
    if isinstance(value, (bool, list, dict)) or value is None:
        raise ValueError(f"{value!r} is not a string")
    return str(value)


BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
SCALARS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _type_name(value) -> str:
    return {dict: "a table", list: "a list"}.get(type(value), type(value).__name__)


def _name(types_: typing.Iterable) -> str:
    return " | ".join(getattr(t, "__name__", None) or repr(t) for t in types_)
