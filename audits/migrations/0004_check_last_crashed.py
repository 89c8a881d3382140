"""`Check.last_crashed`: whether the last run crashed, shown as "crashed"."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audits', '0003_permission_groups'),
    ]

    operations = [
        migrations.AddField(
            model_name='check',
            name='last_crashed',
            field=models.BooleanField(default=False, editable=False),
        ),
    ]
