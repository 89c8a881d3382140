"""Names hold nothing a URL or the database cannot carry (`foundation.names`)."""

import foundation.names
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audits', '0004_check_last_crashed'),
    ]

    operations = [
        migrations.AlterField(
            model_name='check',
            name='name',
            field=models.CharField(max_length=100, validators=[foundation.names.NameValidator('+?#% ')]),
        ),
        migrations.AlterField(
            model_name='check',
            name='project',
            field=models.CharField(max_length=100, validators=[foundation.names.NameValidator('+?#% ', reserved=('tags',))]),
        ),
        migrations.AlterField(
            model_name='tag',
            name='name',
            field=models.CharField(max_length=100, unique=True, validators=[foundation.names.NameValidator('+?#% ')]),
        ),
    ]
