"""
The form of a check in admin: its module, and its parameters one field each.

The module is typed in a text box that suggests the installed check modules (an
HTML `<datalist>` of `checkmodules.installed()`), so that a user module anywhere on the
Python path can still be given by its dotted path. Its docstring is shown under it,
escaped, as preformatted text.

Parameters are edited as one field per parameter of the module's `run()`, built from
its signature: the annotation says how the text is read, the default is shown as a
placeholder, and a required parameter has a bold label. Every field is text, so that
any value may hold `${VAR}` placeholders, which are stored as written and never
resolved here. A field left empty means "not set": the module's default applies.

* `str`: the text as typed.
* `list[...]`: one value per line, or a JSON list (text starting with `[`).
* `dict[...]`: a JSON object.
* `int`, `float`, `bool`, unions, `Literal`, untyped: a JSON value, or else the text
  itself (so `5` is a number, `"5"` a string, `true` a boolean, `null` None).

The values are then validated by `params.validate(..., allow_placeholders=True)`,
exactly as the importer validates a config file, and its `ParamError` messages are
shown on the parameter they name (every parameter's first error, not only the first
of the form). What is stored is what `validate` returns, as the importer stores it.

The page knows which module its parameter fields were built for (the hidden
`params_form` field). Changing the module and saving therefore saves nothing: the
page comes back with the new module's fields and documentation, keeping the values
of parameters with the same name, and says which values were left out.

A raw JSON field (`params`) takes the place of the per-parameter fields when they
cannot say everything: the module cannot be loaded, its `run()` takes `**kwargs`, or
the stored parameters include names that `run()` no longer has (so that nothing is
lost silently). It is also what scripts that post the form without `params_form`
use. When its JSON fails validation against a module that can be shown field by
field, the page switches to the fields, with each error on its field: the add page
works this way, choose a module, save, and fill in the fields it then shows.
"""

import copy
import inspect
import json
import typing
from typing import Any

from django import forms
from django.contrib.admin import helpers
from django.utils.html import format_html, format_html_join

from audits import checkmodules, params, schedules
from audits.models import Check
from foundation import placeholders

PARAMS_FORM = "params_form"  # the hidden field: the module whose fields are shown
FIELD_PREFIX = "param-"
SCALARS = (str, int, float, bool)


class ModuleInput(forms.TextInput):
    """A text input suggesting the installed check modules (a `<datalist>`)."""

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id') or 'id_' + name}_installed"
        attrs = {**(attrs or {}), "list": list_id, "size": 50, "autocomplete": "off"}
        html = super().render(name, value, attrs, renderer)
        options = format_html_join(
            "", '<option value="{}"></option>', ((path,) for path in checkmodules.installed())
        )
        return html + format_html('<datalist id="{}">{}</datalist>', list_id, options)


class ParamField(forms.CharField):
    """One parameter as text; "required" is shown, but `params.validate` says it."""

    def __init__(self, parameter: checkmodules.Parameter, **kwargs):
        self.parameter = parameter
        kind = _kind(parameter.annotation)
        widget = (
            forms.Textarea(attrs={"rows": 4, "cols": 60})
            if kind in ("list", "dict")
            else forms.TextInput(attrs={"size": 60})
        )
        default = None if parameter.required else to_text(parameter.default, parameter.annotation)
        if default is not None:
            widget.attrs["placeholder"] = default
        super().__init__(
            label=parameter.name,
            required=parameter.required,
            widget=widget,
            help_text=_help(parameter, kind, default),
            **kwargs,
        )

    def validate(self, value):
        pass  # a missing required parameter is reported as the importer does


class CheckForm(forms.ModelForm):
    module = forms.CharField(
        max_length=200,
        widget=ModuleInput,
        help_text="An installed check module, or the dotted path of any other.",
    )
    params = forms.JSONField(
        label="Parameters (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text="A JSON object: the parameters of run(), ${VAR} placeholders included.",
    )
    params_form = forms.CharField(required=False, widget=forms.HiddenInput)
    read_only = False  # True for people who may only view the check: fields disabled

    class Meta:
        model = Check
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.param_module: checkmodules.CheckModule | None = None
        if self.is_bound:
            # The fields the page had: scripts posting without them post raw JSON.
            shown = self.data.get(PARAMS_FORM) or ""
            self._show(_fields_module(shown) if shown else None)
        else:
            path = self.initial.get("module") or self.instance.module or ""
            stored = self.instance.params if self.instance.pk else {}
            self.initial.setdefault("params", stored)
            self._show(_fields_module(path, stored))
            if self.param_module:
                for name, value in stored.items():
                    parameter = self.param_module.parameters[name]
                    self.initial[FIELD_PREFIX + name] = to_text(value, parameter.annotation)

    # Which parameter fields the form has.

    def _show(self, module: checkmodules.CheckModule | None):
        """Per-parameter fields for `module`, or the raw JSON field when None."""
        self._bound_fields_cache.clear()  # fields of another module may share names
        for name in [n for n in self.fields if n.startswith(FIELD_PREFIX)]:
            del self.fields[name]
        self.param_module = module
        if module is None:
            self.fields["params"] = copy.deepcopy(self.base_fields["params"])
            self.initial[PARAMS_FORM] = ""
        else:
            self.fields.pop("params", None)
            for parameter in module.parameters.values():
                self.fields[FIELD_PREFIX + parameter.name] = ParamField(parameter)
            self.initial[PARAMS_FORM] = module.path
        for name in [n for n in self.fields if n == "params" or n.startswith(FIELD_PREFIX)]:
            self.fields[name].disabled = self.read_only
        if self.is_bound:
            self._set_data(PARAMS_FORM, self.initial[PARAMS_FORM])

    def _set_data(self, key: str, value: str | None):
        if not getattr(self, "_data_copied", False):
            self.data = self.data.copy()  # never change what the caller passed
            self._data_copied = True
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value

    @property
    def param_names(self) -> list[str]:
        return list(self.param_module.parameters) if self.param_module else []

    # Validation.

    def clean_module(self):
        path = self.cleaned_data["module"].strip()
        try:
            checkmodules.load(path)
        except checkmodules.ModuleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return path

    def clean_schedule(self):
        value = self.cleaned_data["schedule"].strip()
        try:
            value and schedules.parse(value)
        except schedules.ScheduleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def clean_depends_on(self):
        """No check depends on itself, nor on one that depends on it (a cycle)."""
        parents = self.cleaned_data["depends_on"]
        project, name = self.cleaned_data.get("project"), self.cleaned_data.get("name")
        if parents and project and name:
            edited = Check(pk=self.instance.pk, project=project, name=name)  # as renamed
            problem = edited.dependency_problem(parents)
            if problem:
                raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return parents

    def clean(self):
        cleaned = super().clean()
        if "module" not in cleaned:
            return cleaned  # its error says what to fix; parameters wait for it
        module = checkmodules.load(cleaned["module"])
        if self.param_module is None:
            self._clean_raw(module)
        elif self.param_module.path != module.path:
            self._switch_module(module)
        else:
            self._clean_fields_of(module)
        return self.cleaned_data

    def _clean_raw(self, module: checkmodules.CheckModule):
        if "params" not in self.cleaned_data:
            return  # not JSON: the field says so
        raw = self.cleaned_data["params"]
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.add_error("params", "expected a JSON object of parameters")
            return
        try:
            self.cleaned_data["params"] = params.validate(module, raw, allow_placeholders=True)
            return
        except params.ParamError as exc:
            error = exc
        fields_module = _fields_module(module.path, raw)
        if fields_module is None:
            self.add_error("params", str(error))
            return
        # Shown field by field, each error on its own field.
        self._show(fields_module)
        for name, parameter in fields_module.parameters.items():
            text = to_text(raw[name], parameter.annotation) if name in raw else None
            self._set_data(FIELD_PREFIX + name, text)
        self._validate(fields_module, raw)

    def _switch_module(self, module: checkmodules.CheckModule):
        """The module changed: show its fields, keeping same-named values; save nothing."""
        old = {
            name: self.cleaned_data.get(FIELD_PREFIX + name, "") for name in self.param_names
        }
        old = {name: text for name, text in old.items() if text}
        fields_module = _fields_module(module.path)
        if fields_module is None:  # run(**kwargs): its parameters as JSON
            values = {}
            for name, text in old.items():
                try:
                    values[name] = from_text(text, self.param_module.parameters[name].annotation)
                except ValueError:
                    values[name] = text
            self._show(None)
            self._set_data("params", json.dumps(values, indent=2, ensure_ascii=False))
            message = f"The module is now {module.path}: check its parameters (JSON), then save again."
        else:
            self._show(fields_module)
            for name in fields_module.parameters:
                self._set_data(FIELD_PREFIX + name, old.get(name))
            message = f"The module is now {module.path}: check its parameters, then save again."
            left_out = sorted(set(old) - set(fields_module.parameters))
            if left_out:
                message += f" Left out, as {module.path} does not take them: {', '.join(left_out)}."
        self.add_error(None, message)

    def _clean_fields_of(self, module: checkmodules.CheckModule):
        values = {}
        for name, parameter in module.parameters.items():
            text = self.cleaned_data.get(FIELD_PREFIX + name, "")
            if not text:
                continue
            try:
                values[name] = from_text(text, parameter.annotation)
            except ValueError as exc:
                self.add_error(FIELD_PREFIX + name, str(exc))
        self._validate(module, values)  # the others' errors too

    def _validate(self, module: checkmodules.CheckModule, values: dict):
        cleaned, errors = params.validate_each(module, values)
        for name, exc in errors.items():
            field = f"{FIELD_PREFIX}{name}" if name is not None else None
            if field not in self.fields:
                self.add_error(None, str(exc))
            elif field not in self.errors:  # its text was not even readable
                self.add_error(field, field_message(exc))
        if cleaned is not None:
            self.cleaned_data["params"] = cleaned

    def save(self, commit=True):
        if "params" in self.cleaned_data:
            self.instance.params = self.cleaned_data["params"]
        return super().save(commit)

    # What the page shows.

    def documentation(self) -> str:
        path = self.param_module.path if self.param_module else self._module_path()
        if not path:
            return "Choose a module: its documentation and parameters are shown here."
        try:
            return checkmodules.load(path).documentation or f"{path} has no documentation."
        except checkmodules.ModuleError as exc:
            return f"This module is unavailable: {exc}"

    def _module_path(self) -> str:
        if self.is_bound:
            return (self.data.get("module") or "").strip()
        return self.initial.get("module") or self.instance.module or ""

    def params_fieldset(self) -> helpers.Fieldset:
        """The parameters as an admin fieldset, rendered after the first one."""
        if self.param_module:
            names = [FIELD_PREFIX + n for n in self.param_names]
            note = (
                f"The parameters of {self.param_module.path}. Leave a field empty for its "
                "default. ${VAR} placeholders are stored as written and resolved from the "
                "environment only when the check runs."
            )
            if not names:
                note = f"{self.param_module.path} takes no parameters."
        else:
            names = ["params"]
            note = self._raw_note() + " ${VAR} placeholders are stored as written."
        description = format_html(
            '<pre class="check-module-doc">{}</pre><p>{}</p>', self.documentation(), note
        )
        return helpers.Fieldset(
            self, name="Parameters", fields=[PARAMS_FORM, *names], description=description
        )


    def _raw_note(self) -> str:
        path = self._module_path()
        if not path:
            return "Choose a module and save: its parameters are then shown one per field."
        try:
            module = checkmodules.load(path)
        except checkmodules.ModuleError:
            return "The parameters, as a JSON object."
        if module.accepts_any_parameter:
            return f"The run() of {path} takes any parameter: give them as a JSON object."
        return (
            f"The parameters, as a JSON object: some are not parameters of the run() of "
            f"{path}. Once they all are, they are shown one per field."
        )


def field_message(exc: params.ParamError) -> str:
    """The message of `exc` for its parameter's field, with the part inside it if any."""
    name = params.parameter_of(exc.field)
    if exc.field == f"params.{name}":
        return exc.message
    return f"{exc.field.removeprefix('params.')}: {exc.message}"


def _fields_module(path: str, stored: dict | None = None) -> checkmodules.CheckModule | None:
    """The module at `path` if its parameters (and `stored`) fit one field each."""
    try:
        module = checkmodules.load(path)
    except checkmodules.ModuleError:
        return None
    if module.accepts_any_parameter:
        return None
    if stored is not None and not isinstance(stored, dict):
        return None
    if stored and not set(stored) <= set(module.parameters):
        return None
    return module


# Text <-> values, by annotation.


def _kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if annotation is str:
        return "str"
    if origin in (list, tuple, set) or annotation in (list, tuple, set):
        return "list"
    if origin is dict or annotation is dict:
        return "dict"
    return "value"


def _element(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return args[0] if args else Any


def from_text(text: str, annotation: Any) -> Any:
    """The value a field's `text` stands for; ValueError if its JSON is invalid."""
    kind = _kind(annotation)
    if kind == "str":
        return text
    if kind == "list":
        if text.startswith("[") or text.startswith('"'):
            return _json(text, "a JSON list")
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "dict" and text.startswith("{"):
        return _json(text, "a JSON object")
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON: the text itself, placeholders included


def to_text(value: Any, annotation: Any) -> str:
    """How `value` is shown in its field: `from_text` reads it back unchanged."""
    kind = _kind(annotation)
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "list" and isinstance(value, list) and _fits_lines(value, _element(annotation)):
        return "\n".join(_line(item) for item in value)
    if kind == "dict":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, str) and kind == "value" and not _is_json(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _fits_lines(items: list, element: Any) -> bool:
    """Whether a list reads back the same from one value per line."""
    if not items or element not in SCALARS:
        return False
    for item in items:
        if isinstance(item, str):
            if not item or item != item.strip() or "\n" in item or item[0] in '["':
                return False
            if element is not str and not placeholders.contains(item):
                return False
        elif not isinstance(item, element) or (element is int and isinstance(item, bool)):
            return False
    return True


def _line(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"expected {what}: {exc}") from None


def _help(parameter: checkmodules.Parameter, kind: str, default: str | None) -> str:
    how = {
        "str": "Text.",
        "list": "One value per line, or a JSON list.",
        "dict": "A JSON object.",
        "value": "A JSON value, or text.",
    }[kind]
    annotation = parameter.annotation
    type_name = "any" if annotation is inspect.Parameter.empty else _type_name(annotation)
    if default is None:
        return format_html("{}, <b>required</b>. {}", type_name, how)
    if kind in ("list", "dict"):
        default = json.dumps(parameter.default, ensure_ascii=False)
    return format_html("{}, default <code>{}</code>. {}", type_name, default, how)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")
