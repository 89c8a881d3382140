"""
The two groups for the people who work in the admin (their users also need "staff
status" to log in there), and how an app grants them its permissions:

* "Read-only staff": every view permission of the apps that grant them. They see
  everything and change nothing. Not the view permissions of authtoken: the admin
  lists token keys, and a key is a credential (it acts as its user on the API), so
  seeing them would let a read-only user act as any token's owner. Tokens are for
  superusers to manage.
* "Editors": add, change, delete and view of the models each app lets them edit.

Each app grants its own permissions from a data migration of its own
(`grant_operation("errors")`), which depends only on what that app's models need:
an app never waits for another's migrations to be usable. Each makes the groups
with get_or_create and adds only the missing permissions, so the order the apps
migrate in does not matter, and neither does a database where an older migration
granted them already. The permissions are made there first: on a fresh database
`post_migrate`, which normally creates them, has not run yet. Models added later
get into the groups by another such migration of their app.
"""

from functools import partial

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_ONLY = "Read-only staff"
EDITORS = "Editors"
GROUPS = (READ_ONLY, EDITORS)
ACTIONS = ("add", "change", "delete", "view")
# What such a migration depends on besides its app: the permission and group tables.
DEPENDENCIES = [
    ("auth", "0012_alter_user_first_name_max_length"),
    ("contenttypes", "0002_remove_content_type_name"),
]


def grant(apps, schema_editor, app_label: str, edited_models=None) -> None:
    """Read-only staff get every view permission of `app_label`; Editors every
    permission of `edited_models` (model names; None: every model of the app)."""
    using = schema_editor.connection.alias
    try:
        app_config = global_apps.get_app_config(app_label)
    except LookupError:  # an optional app that is not installed
        return
    create_permissions(app_config, verbosity=0, using=using, apps=apps)
    permissions = _permissions(apps, using, app_label)
    read_only = [p for p in permissions if _is(p, ["view"])]
    editors = [
        p for p in permissions
        if _is(p, ACTIONS) and (edited_models is None or p.content_type.model in edited_models)
    ]
    Group = apps.get_model("auth", "Group")
    for name, members in ((READ_ONLY, read_only), (EDITORS, editors)):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*members)


def revoke(apps, schema_editor, app_label: str) -> None:
    """Take `app_label`'s permissions back; a group left with none is deleted (one
    that a person gave other permissions is kept, with those)."""
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    permissions = _permissions(apps, using, app_label)
    for group in Group.objects.using(using).filter(name__in=GROUPS):
        group.permissions.remove(*permissions)
        if not group.permissions.exists():
            group.delete()


def grant_operation(app_label: str, edited_models=None) -> migrations.RunPython:
    """The migration operation granting `app_label`'s permissions, reversible."""
    return migrations.RunPython(
        partial(grant, app_label=app_label, edited_models=edited_models),
        partial(revoke, app_label=app_label),
    )


def _permissions(apps, using, app_label: str) -> list:
    Permission = apps.get_model("auth", "Permission")
    return list(
        Permission.objects.using(using)
        .filter(content_type__app_label=app_label)
        .select_related("content_type")
    )


def _is(permission, actions) -> bool:
    """Whether `permission` is one of the model permissions `actions` (not a custom one)."""
    model = permission.content_type.model
    return permission.codename in {f"{action}_{model}" for action in actions}
