"""
The errors' permissions for the admin's two groups (see
`foundation.permission_groups`): "Read-only staff" view every model of errors,
"Editors" edit them all.
"""

from django.db import migrations

from foundation.permission_groups import DEPENDENCIES, grant_operation


class Migration(migrations.Migration):

    dependencies = [("errors", "0001_initial"), *DEPENDENCIES]

    operations = [grant_operation("errors")]
