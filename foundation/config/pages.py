"""
The admin's "Import config" and "Export config" pages (routed in
`telescope_site/urls.py`, linked from the admin's index).

Import takes two steps, as `import_config --dry-run` then `import_config` would:

1. Upload a config file (config.toml in Telescope's format with `[errors.*]`, or
   Periskop's YAML when its name ends in .yml/.yaml) and, optionally, "prune". It
   is validated whole and planned, and the page shows for each section what would
   be created, changed (with the fields) and removed, and how many items are
   unchanged. Nothing is written. A broken file shows every problem.
2. "Apply". The preview page holds the uploaded text in a hidden field signed
   with `django.core.signing` (bound to the user, valid for MAX_AGE seconds): a
   tampered, expired or borrowed payload is refused. The same text is validated
   and planned again, and applied in one transaction together with one admin log
   entry per change (`foundation.config.admin_log`), if the plan is still the one that was
   shown; if the database changed meanwhile, the new plan is shown instead.

Who may: staff with `audits.add_check` and `audits.change_check` open the page;
each section of the file then needs the add and change permissions (and delete,
with prune) of its model (SECTION_MODELS); only superusers may import a section
not listed there. Export needs `audits.view_check` (or change, as in the admin)
and leaves out the sections whose model the user may not view. The export is
`export_config`'s: placeholders as stored, no secret.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import tomli_w
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import DataError, transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe

from foundation.config import admin_log
from foundation.config import document as config_document
from foundation.config.errors import ConfigError

TEMPLATE = "admin/audits/import_config.html"
# The model each section of the file creates, changes and removes ("app.model"),
# written as strings: audits does not import errors.
SECTION_MODELS = {"checks": "audits.check", "errors": "errors.service"}
SALT = "foundation.config.pages"
MAX_AGE = 3600  # seconds between the preview and its "Apply"
MAX_BYTES = 1024 * 1024
VERBS = ("created", "changed", "removed")


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Config file",
        help_text="config.toml (checks, and services in [errors.services.*]), "
        "or Periskop's YAML file (.yml, .yaml).",
    )
    prune = forms.BooleanField(
        required=False,
        label="Remove what the file does not have (prune)",
        help_text="Only in the sections the file has.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_BYTES // 1024} KiB.")
        try:
            return upload.name, upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


@staff_member_required
def import_config(request):
    _require(request.user, "audits.add_check", "audits.change_check")
    if request.method == "POST" and "payload" in request.POST:
        return _apply(request)
    if request.method != "POST":
        return _page(request, form=UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form=form)
    name, text = form.cleaned_data["file"]
    return _preview(request, Path(name).name[:100], text, form.cleaned_data["prune"])


@require_safe
@staff_member_required
def export_config(request):
    if not _may_view(request.user, "checks"):
        raise PermissionDenied
    document = {
        section: value
        for section, value in config_document.export().items()
        if _may_view(request.user, section)
    }
    text = tomli_w.dumps(document, multiline_strings=True)
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="config.toml"'
    return response


def _preview(request, name: str, text: str, prune: bool, notice: str = ""):
    try:
        plans = _plan(name, text, prune)
    except ConfigError as exc:
        return _page(request, form=UploadForm(), name=name, errors=exc.errors)
    refused = _refused(request.user, plans, prune)
    if refused:
        return _page(request, form=UploadForm(), name=name, errors=refused, status=403)
    payload = signing.dumps(
        {"user": request.user.pk, "name": name, "text": text, "prune": prune,
         "digest": _digest(plans)},
        salt=SALT, compress=True,
    )
    sections = [_section(section_plan) for section_plan in plans]
    return _page(
        request, name=name, prune=prune, sections=sections, payload=payload,
        notice=notice, has_changes=any(s["count"] for s in sections),
    )


def _apply(request):
    try:
        data = signing.loads(request.POST["payload"], salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        return _refuse(request, "This preview is too old: upload the file again.")
    except signing.BadSignature:
        data = None
    if not isinstance(data, dict) or data.get("user") != request.user.pk:
        return _refuse(request, "This import could not be verified: upload the file again.")
    name, text, prune = data["name"], data["text"], data["prune"]
    with transaction.atomic():
        try:
            plans = _plan(name, text, prune)
        except ConfigError as exc:  # the modules installed here changed meanwhile
            return _page(request, form=UploadForm(), name=name, errors=exc.errors)
        if _refused(request.user, plans, prune):
            raise PermissionDenied
        if _digest(plans) != data["digest"]:
            return _preview(
                request, name, text, prune,
                notice="The configuration changed since the preview: "
                "here is what the import does now. Nothing was written.",
            )
        try:
            config_document.apply(plans)
        except DataError as exc:  # a value the database refuses that validation let by
            return _page(request, form=UploadForm(), name=name, status=400,
                         errors=[f"{name}: the database refused it: {exc}"])
        admin_log.log_import(plans, request.user, name)
    messages.success(request, f"Imported {name}: {_summary(plans)}.")
    return redirect("admin:index")


def _plan(name: str, text: str, prune: bool) -> list[config_document.SectionPlan]:
    """config_document's own reading (TOML, or YAML by the name), of an upload."""
    suffix = Path(name).suffix.lower()
    suffix = suffix if suffix in (".yml", ".yaml") else ".toml"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            document = config_document.load(path)
        except ConfigError as exc:
            raise exc.renamed(str(path), name) from None
    return config_document.plan(document, name, prune)


def _refused(user, plans, prune: bool) -> list[str]:
    """Why `user` may not import these sections, or nothing."""
    actions = ["add", "change"] + (["delete"] if prune else [])
    return [
        f"{section_plan.section}: you may not "
        + ("import this section (superusers only)." if section_plan.section not in SECTION_MODELS
           else f"{'/'.join(actions)} {SECTION_MODELS[section_plan.section]} objects.")
        for section_plan in plans
        if not _may(user, section_plan.section, actions)
    ]


def _may(user, section: str, actions: list[str]) -> bool:
    model = SECTION_MODELS.get(section)
    if model is None:
        return user.is_superuser
    app_label, model_name = model.split(".")
    return user.has_perms([f"{app_label}.{action}_{model_name}" for action in actions])


def _may_view(user, section: str) -> bool:
    # As in the admin, who may change may view.
    return _may(user, section, ["view"]) or _may(user, section, ["change"])


def _digest(plans) -> str:
    lines = [[section_plan.section, section_plan.plan.lines()] for section_plan in plans]
    return hashlib.sha256(json.dumps(lines).encode()).hexdigest()


def _section(section_plan) -> dict:
    lines = section_plan.plan.lines()
    by_verb = {verb: [what for v, what in lines if v == verb] for verb in VERBS}
    return {
        "name": section_plan.section,
        **by_verb,
        "count": len(lines),
        "unchanged": len(section_plan.plan.unchanged),
    }


def _summary(plans) -> str:
    sections = [_section(section_plan) for section_plan in plans]
    counts = [f"{sum(len(s[verb]) for s in sections)} {verb}" for verb in VERBS]
    return ", ".join(counts + [f"{sum(s['unchanged'] for s in sections)} unchanged"])


def _refuse(request, reason: str):
    return _page(request, form=UploadForm(), errors=[reason], status=400)


def _require(user, *permissions: str) -> None:
    if not user.has_perms(permissions):
        raise PermissionDenied


def _page(request, status: int = 200, **context):
    context = {**admin.site.each_context(request), "title": "Import config", **context}
    return TemplateResponse(request, TEMPLATE, context, status=status)
