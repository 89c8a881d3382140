"""
Imports in the admin's log: who changed what.

Every import of a config file, from the admin's "Import config" page or from
`manage.py import_config`, writes one `LogEntry` per object it created, changed or
removed, so that each object's History page in the admin (and the admin's "Recent
actions") tells imports apart from edits made by hand:

    created  ADDITION  "Imported from config.toml."
    changed  CHANGE    "Imported from config.toml: ttl, tags"
    removed  DELETION  "Removed by an import of config.toml (prune)."

Each section's plan says what it did through `plan.logged_changes()` (after the
plan is applied): this module needs no app's models, so `errors` sections are
logged without `audits` importing `errors`.

The command line has no logged-in user: `import_config --user <username>` names
one, and by default the entries belong to a system user, `import_config`, made on
first use, inactive and with no usable password (it cannot log in).
"""

from pathlib import Path

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

SYSTEM_USERNAME = "import_config"

FLAGS = {"created": ADDITION, "changed": CHANGE, "removed": DELETION}


def log_import(plans, user, source: str) -> list[LogEntry]:
    """One entry per change of the applied `plans` (config_document.SectionPlan),
    by `user`, naming the file `source` (its base name only)."""
    name = Path(str(source)).name or str(source)
    entries = [
        LogEntry(
            user=user,
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            action_flag=FLAGS[verb],
            change_message=change_message(verb, name, fields),
        )
        for section_plan in plans
        for verb, obj, fields in section_plan.plan.logged_changes()
    ]
    return LogEntry.objects.bulk_create(entries)


def change_message(verb: str, source: str, fields: list[str]) -> str:
    if verb == "changed":
        return f"Imported from {source}: {', '.join(fields)}"
    if verb == "removed":
        return f"Removed by an import of {source} (prune)."
    return f"Imported from {source}."


def system_user():
    """The user that imports from the command line belong to when none is named."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        **{User.USERNAME_FIELD: SYSTEM_USERNAME}, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
