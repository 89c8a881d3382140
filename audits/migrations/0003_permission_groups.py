"""
Two groups for the people who work in the admin (their users also need "staff
status" to log in there):

* "Read-only staff": every view permission of audits, errors, bugtracker and
  django_celery_beat. They see everything and change nothing. Not the view
  permissions of authtoken: the admin lists token keys, and a key is a
  credential (it acts as its user on the API), so seeing them would let a
  read-only user act as any token's owner. Tokens are for superusers to manage.
* "Editors": add, change, delete and view of every model of audits, errors and
  bugtracker, and of Celery beat's periodic tasks and schedules.

Permissions are made here first: on a fresh database `post_migrate`, which
normally creates them, has not run yet. Groups that exist already are kept and
only given the missing permissions. Models added later (in any of these apps)
get into the groups by a migration of their own, written like this one.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_ONLY = "Read-only staff"
EDITORS = "Editors"
APPS = ("audits", "errors", "bugtracker")
BEAT = "django_celery_beat"
BEAT_MODELS = (
    "periodictask", "intervalschedule", "crontabschedule", "solarschedule", "clockedschedule",
)
ACTIONS = ("add", "change", "delete", "view")


def create_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    for label in (*APPS, BEAT):
        try:
            app_config = global_apps.get_app_config(label)
        except LookupError:
            continue
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(
        Permission.objects.using(using)
        .filter(content_type__app_label__in=(*APPS, BEAT))
        .select_related("content_type")
    )

    def model_permission(permission, actions):
        model = permission.content_type.model
        return permission.codename in {f"{action}_{model}" for action in actions}

    read_only = [p for p in permissions if model_permission(p, ["view"])]
    editors = [
        p for p in permissions
        if model_permission(p, ACTIONS)
        and (p.content_type.app_label in APPS or p.content_type.model in BEAT_MODELS)
    ]
    for name, members in ((READ_ONLY, read_only), (EDITORS, editors)):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*members)


def delete_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name__in=(READ_ONLY, EDITORS)
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("audits", "0002_history_state_schedule"),
        ("errors", "0001_initial"),
        ("bugtracker", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
