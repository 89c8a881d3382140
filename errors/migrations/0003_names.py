"""Names hold nothing a URL or the database cannot carry (`foundation.names`)."""

import django.core.validators
import foundation.names
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('errors', '0002_permission_groups'),
    ]

    operations = [
        migrations.AlterField(
            model_name='service',
            name='name',
            field=models.CharField(max_length=100, unique=True, validators=[foundation.names.NameValidator(), django.core.validators.RegexValidator('\\A[A-Za-z0-9][A-Za-z0-9_.-]*\\Z', "must be letters, digits, '.', '-' or '_'")]),
        ),
    ]
