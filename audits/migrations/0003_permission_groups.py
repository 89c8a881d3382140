"""
The audits' permissions for the admin's two groups (see
`foundation.permission_groups`): "Read-only staff" view every model of audits and
of Celery beat, whose periodic tasks hold the checks' own schedules; "Editors"
edit every model of audits and beat's periodic tasks and schedules.

Databases migrated before each app granted its own permissions ran an earlier
version of this migration, which also granted those of errors and bugtracker:
their own migrations find them granted already and add nothing.
"""

from django.db import migrations

from foundation.permission_groups import DEPENDENCIES, grant_operation

BEAT_MODELS = (
    "periodictask", "intervalschedule", "crontabschedule", "solarschedule", "clockedschedule",
)


class Migration(migrations.Migration):

    dependencies = [
        ("audits", "0002_history_state_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        *DEPENDENCIES,
    ]

    operations = [
        grant_operation("audits"),
        grant_operation("django_celery_beat", edited_models=BEAT_MODELS),
    ]
