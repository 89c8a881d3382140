"""
Alerts in the distributed mode: a Celery worker delivers a check's alert to its
channel (the `notifications.tasks.deliver` task, its notice JSON through Redis),
retrying a receiver that fails until it answers.
"""

from integration.conftest import heartbeat_toml, wait_until


def test_a_worker_delivers_the_alert_and_retries_a_failing_receiver(cluster, upstream):
    hook = upstream.route("/alerts", status=503)
    url = upstream.route("/down", status=500, json={"ok": False})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=2))
    cluster.shell(f"""
        from audits.models import Check
        from notifications.models import Channel
        channel = Channel.objects.create(name="ops", kind="webhook", url="{hook}")
        Check.objects.get(project="p", name="n").channels.add(channel)
    """)
    cluster.env["PUBLIC_URL"] = "https://telescope.example.com"
    w1, _ = cluster.start(cluster.worker("w1"), cluster.beat())
    wait_until(lambda: upstream.hits("/alerts") >= 2, 60,
               lambda: f"{upstream.hits('/alerts')} deliveries:\n{w1.tail()}")
    failed = upstream.hits("/alerts")
    upstream.route("/alerts", status=204)
    wait_until(lambda: upstream.hits("/alerts") > failed, 120,
               lambda: f"no retry after {failed} failed deliveries:\n{w1.tail()}")
    bodies = upstream.json_bodies("/alerts")
    assert {(b["state"], b["link"]) for b in bodies} == {
        ("failing", "https://telescope.example.com/checks/p/n")}  # one alert, retried
    assert w1.lines(r"Retry in \d+s"), w1.tail()
