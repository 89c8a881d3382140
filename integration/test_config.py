"""Loading checks as a deployment does: `manage.py import_config` in a fresh process."""

from integration.conftest import heartbeat_toml


def test_import_config_command_imports_checks_in_a_fresh_process(cluster, upstream):
    # Regression: the command once resolved each app's config handler with
    # import_string(), which fails in a process that never imported the module.
    path = cluster.tmp_path / "config.toml"
    path.write_text(heartbeat_toml("p", "n", upstream.route("/hb"), ttl=60, schedule="5m"))

    output = cluster.manage("import_config", str(path))

    assert "created p/n" in output
    check_id = cluster.check_id("p", "n")
    # The schedule is synced to django-celery-beat, where beat reads it.
    assert cluster.sql(
        "SELECT t.task, t.args, i.every, i.period FROM audits_check c "
        "JOIN django_celery_beat_periodictask t ON t.id = c.periodic_task_id "
        "JOIN django_celery_beat_intervalschedule i ON i.id = t.interval_id "
        "WHERE c.id = %s", (check_id,),
    ) == [("audits.tasks.run_scheduled_check", f"[{check_id}]", 300, "seconds")]
