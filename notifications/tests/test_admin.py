"""Channels and maintenance windows in the admin: saved, or refused with the reason."""

import pytest

from notifications.models import Channel, MaintenanceWindow

CHANNEL, WINDOW = "/admin/notifications/channel/add/", "/admin/notifications/maintenancewindow/add/"


def channel_form(**fields) -> dict:
    return {"name": "ops", "kind": "webhook", "url": "https://hooks.example.com/x",
            "recipients": "[]", "projects": "[]", "services": "[]", "enabled": "on", **fields}


def window_form(**fields) -> dict:
    return {"name": "deploy", "starts_at_0": "2030-01-01", "starts_at_1": "02:00:00",
            "ends_at_0": "", "ends_at_1": "", "crontab": "", "duration": "2h",
            "checks": "[]", "tags": "[]", "projects": "[]", "services": "[]", **fields}


def errors_of(response) -> dict:
    form = response.context["adminform"].form
    return {field: [str(m) for m in messages] for field, messages in form.errors.items()}


@pytest.mark.django_db
def test_a_channel_is_added_in_the_admin(admin_client):
    response = admin_client.post(CHANNEL, channel_form(projects='["web"]'))
    assert response.status_code == 302
    assert Channel.objects.get().projects == ["web"]


@pytest.mark.django_db
@pytest.mark.parametrize("fields, field", [
    ({"kind": "email"}, "recipients"),
    ({"kind": "email", "recipients": '["nobody"]'}, "recipients"),
    ({"url": ""}, "url"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"projects": '"web"'}, "projects"),
])
def test_a_channel_that_cannot_deliver_is_refused_in_the_admin(admin_client, fields, field):
    response = admin_client.post(CHANNEL, channel_form(**fields))
    assert response.status_code == 200 and field in errors_of(response)
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_a_window_added_in_the_admin_names_who_added_it(admin_client, admin_user):
    from audits.models import Check

    Check.objects.create(project="web", name="home", module="checks.core.heartbeat")
    response = admin_client.post(WINDOW, window_form(checks='["web/home"]'))
    assert response.status_code == 302, errors_of(response)
    window = MaintenanceWindow.objects.get()
    assert (window.created_by, str(window.ends_at)) == (admin_user.username, "2030-01-01 04:00:00+00:00")


@pytest.mark.django_db
@pytest.mark.parametrize("fields, field", [
    ({}, "__all__"),  # covers nothing
    ({"checks": '["web/nope"]'}, "checks"),
    ({"projects": '["web"]', "crontab": "0 2 * *"}, "crontab"),
    ({"projects": '["web"]', "duration": "", "ends_at_0": "2029-01-01", "ends_at_1": "00:00:00"},
     "ends_at"),
])
def test_a_window_that_cannot_work_is_refused_in_the_admin(admin_client, fields, field):
    response = admin_client.post(WINDOW, window_form(**fields))
    assert response.status_code == 200 and field in errors_of(response), errors_of(response)
    assert not MaintenanceWindow.objects.exists()
