"""
The notifications' permissions for the admin's two groups (see
`foundation.permission_groups`): "Read-only staff" view channels and maintenance
windows, "Editors" edit them (a deploy's silence is an editor's job).
"""

from django.db import migrations

from foundation.permission_groups import DEPENDENCIES, grant_operation


class Migration(migrations.Migration):

    dependencies = [("notifications", "0001_channels_and_maintenance_windows"), *DEPENDENCIES]

    operations = [grant_operation("notifications")]
