"""
Discovery as Prometheus does it: the folder relative file_sd paths start from,
the dropped targets, and each target's discovered labels and scrape URL.
"""

from django.db import migrations, models


def fill_urls(apps, schema_editor):
    # The URL the scraper used so far; the next discovery writes the relabelled one.
    Target = apps.get_model("errors", "Target")
    targets = list(Target.objects.select_related("service"))
    for target in targets:
        service = target.service
        target.url = f"{service.scheme}://{target.address}{service.endpoint}"
    Target.objects.bulk_update(targets, ["url"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("errors", "0003_names")]

    operations = [
        migrations.AddField(
            model_name="service",
            name="config_dir",
            field=models.CharField(
                blank=True,
                help_text="Folder that relative file_sd_configs paths are read from: that of "
                "the file the service was imported from; empty: that of CONFIG_FILE.",
                max_length=1000,
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="dropped_targets",
            field=models.JSONField(default=list, editable=False),
        ),
        migrations.AddField(
            model_name="target",
            name="discovered_labels",
            field=models.JSONField(
                default=dict, help_text="Its labels before relabelling, as discovery found them."
            ),
        ),
        migrations.AddField(
            model_name="target",
            name="url",
            field=models.TextField(
                default="", help_text="The URL scraped, built from the relabelled labels."
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="target",
            name="labels",
            field=models.JSONField(default=dict, help_text="Its labels after relabelling."),
        ),
        migrations.RunPython(fill_urls, migrations.RunPython.noop),
    ]
