"""
The project's `runserver`, once it listens: the scheduler only where tasks run in
the process, and where to log in. (The real processes are in
test_zero_config_start.py; this is what they cannot show cheaply.)
"""

import io
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User

from foundation.management.commands import runserver


def bound(monkeypatch, tasks_in_process: bool, addr="127.0.0.1") -> tuple[str, list]:
    """What runserver prints and starts once bound to `addr`:8123."""
    started = []
    monkeypatch.setattr(runserver, "start_embedded_beat", lambda app: started.append("beat"))
    celery_app = SimpleNamespace(conf=SimpleNamespace(task_always_eager=tasks_in_process))
    monkeypatch.setattr(runserver, "current_app", celery_app)
    output = io.StringIO()
    command = runserver.Command(stdout=output)
    command.addr, command._raw_ipv6, command.protocol = addr, ":" in addr, "http"
    command.on_bind(8123)
    return output.getvalue(), started


@pytest.mark.django_db
def test_runserver_starts_the_scheduler_when_tasks_run_in_its_process(monkeypatch):
    assert bound(monkeypatch, tasks_in_process=True)[1] == ["beat"]


@pytest.mark.django_db
def test_runserver_leaves_the_schedules_to_celery_beat_in_the_distributed_mode(monkeypatch):
    assert bound(monkeypatch, tasks_in_process=False)[1] == []


@pytest.mark.django_db
def test_runserver_says_how_to_create_the_first_login(monkeypatch):
    output, _ = bound(monkeypatch, tasks_in_process=False)
    assert "Dashboard: http://127.0.0.1:8123/dashboard/" in output
    assert "No one can log in yet" in output
    assert "manage.py createsuperuser" in output


@pytest.mark.django_db
def test_runserver_once_a_staff_account_exists_says_to_log_in_with_it(monkeypatch):
    User.objects.create_user("ops", password="x", is_staff=True)
    output, _ = bound(monkeypatch, tasks_in_process=False)
    assert "Log in with a staff account" in output
    assert "createsuperuser" not in output


@pytest.mark.django_db
@pytest.mark.parametrize("addr, url", [("0.0.0.0", "http://127.0.0.1:8123"),
                                       ("0", "http://127.0.0.1:8123"),
                                       ("::", "http://[::1]:8123")])
def test_runserver_on_every_address_points_the_browser_at_this_machine(monkeypatch, addr, url):
    output, _ = bound(monkeypatch, tasks_in_process=False, addr=addr)
    assert f"Dashboard: {url}/dashboard/" in output
