"""
The bug tracker's permissions for the admin's two groups (see
`foundation.permission_groups`): "Read-only staff" view known bugs, "Editors" edit
them.
"""

from django.db import migrations

from foundation.permission_groups import DEPENDENCIES, grant_operation


class Migration(migrations.Migration):

    dependencies = [("bugtracker", "0001_initial"), *DEPENDENCIES]

    operations = [grant_operation("bugtracker")]
