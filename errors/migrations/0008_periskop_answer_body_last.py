"""
The answer's bytes move to the last column. SQLite stores a row's columns in
order, a large value over a chain of overflow pages: with `body` before the
answer's state, reading the state (on every request of Periskop's API) walked the
whole chain, 2.8 ms for a 12 MB answer. The stored answers are dropped, not
copied: they are rendered again from the groups when next read.
"""

from django.db import migrations, models


def drop_answers(apps, schema_editor):
    apps.get_model("errors", "PeriskopAnswer").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("errors", "0007_service_alert_rate"),
    ]

    operations = [
        migrations.RunPython(drop_answers, migrations.RunPython.noop),
        migrations.RemoveField(model_name="periskopanswer", name="body"),
        migrations.AddField(
            model_name="periskopanswer", name="body", field=models.BinaryField(default=b""),
        ),
    ]
