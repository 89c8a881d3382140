"""The admin pages of checks and runs load, and a schedule edited there is synced."""

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import PeriodicTask

from audits import runner


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


def test_check_list_and_change_pages_load(admin_client, make_check):
    check = make_check(params={"url": "https://h/?t=${API_TOKEN}"})
    assert admin_client.get("/admin/audits/check/").status_code == 200
    page = admin_client.get(f"/admin/audits/check/{check.pk}/change/")
    assert page.status_code == 200
    assert b"${API_TOKEN}" in page.content


def test_schedule_saved_in_admin_is_synced_to_beat(admin_client, make_check):
    check = make_check()
    form = {
        "project": "proj", "name": "check", "module": check.module,
        "params": '{"url": "u"}', "schedule": "5m", "failure_threshold": 1, "recovery_threshold": 1,
        "position": 0, "enabled": "on", "description": "", "plot": "", "ttl": "",
    }
    response = admin_client.post(f"/admin/audits/check/{check.pk}/change/", form)
    assert response.status_code == 302, response.content
    assert PeriodicTask.objects.get().interval.every == 300


def test_bad_schedule_is_refused_in_admin(admin_client, make_check):
    check = make_check()
    form = {
        "project": "proj", "name": "check", "module": check.module, "params": "{}",
        "schedule": "sometimes", "failure_threshold": 1, "position": 0,
    }
    response = admin_client.post(f"/admin/audits/check/{check.pk}/change/", form)
    assert response.status_code == 200
    assert b"is neither a duration" in response.content
    assert not PeriodicTask.objects.exists()


def test_run_history_page_lists_runs_and_is_read_only(admin_client, make_check):
    runner.run_check(make_check())
    assert admin_client.get("/admin/audits/checkrun/").status_code == 200
    assert admin_client.get("/admin/audits/checkrun/add/").status_code == 403
