"""The admin pages of services, targets and error groups."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from errors.models import ErrorGroup, GroupStatus, Service, Target


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


def reloaded(group) -> ErrorGroup:
    return ErrorGroup.objects.get(pk=group.pk)


# --- services and targets ------------------------------------------------------------


def test_service_list_shows_how_many_targets_each_has(admin_client, db):
    shop = Service.objects.create(name="shop", endpoint="/-/errors", refresh_interval=15)
    Service.objects.create(name="billing")
    for port in (8000, 8001, 8002):
        Target.objects.create(service=shop, address=f"10.0.0.1:{port}")
    page = admin_client.get("/admin/errors/service/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "/-/errors" in text and "billing" in text
    assert '<td class="field-target_count">3</td>' in text
    assert '<td class="field-target_count">0</td>' in text


def test_service_page_shows_request_headers_as_stored(admin_client, db):
    service = Service.objects.create(
        name="shop", request_headers={"Authorization": "Bearer ${SHOP_TOKEN}"}
    )
    Target.objects.create(service=service, address="10.0.0.1:8000", labels={"zone": "eu-1"})
    page = admin_client.get(f"/admin/errors/service/{service.pk}/change/")
    assert page.status_code == 200
    assert b"${SHOP_TOKEN}" in page.content
    assert b"10.0.0.1:8000" in page.content and b"eu-1" in page.content


def test_service_can_be_added_in_admin(admin_client, db):
    form = {
        "name": "shop", "endpoint": "/errors", "scheme": "http", "refresh_interval": 30,
        "discovery": '{"static_configs": [{"targets": ["10.0.0.1:8000"]}]}',
        "request_headers": '{"X-Team": "${TEAM}"}', "enabled": "on", "position": 0,
        "targets-TOTAL_FORMS": 0, "targets-INITIAL_FORMS": 0,
    }
    response = admin_client.post("/admin/errors/service/add/", form)
    assert response.status_code == 302, response.content
    assert Service.objects.get().request_headers == {"X-Team": "${TEAM}"}


def test_a_service_saves_whatever_is_posted_for_its_read_only_targets(admin_client, db):
    service = Service.objects.create(name="shop")
    Target.objects.create(service=service, address="10.0.0.1:8000")
    form = {
        "name": "shop", "endpoint": "/errors", "scheme": "http", "refresh_interval": 60,
        "discovery": "{}", "request_headers": "{}", "enabled": "on", "position": 0,
    }  # no management form for the targets, as a script posts
    response = admin_client.post(f"/admin/errors/service/{service.pk}/change/", form)
    assert response.status_code == 302, response.content
    assert Service.objects.get().refresh_interval == 60
    assert Target.objects.get().address == "10.0.0.1:8000"


def test_targets_are_listed_filtered_and_read_only(admin_client, db):
    shop = Service.objects.create(name="shop")
    target = Target.objects.create(
        service=shop, address="10.0.0.1:8000", status="down", last_error="timed out after 10 s",
        labels={"__meta_dns_name": "shop.internal"},
    )
    listing = admin_client.get("/admin/errors/target/", {"status__exact": "down"})
    assert listing.status_code == 200 and b"timed out after 10 s" in listing.content
    by_service = admin_client.get("/admin/errors/target/", {"service__id__exact": shop.pk})
    assert by_service.status_code == 200
    page = admin_client.get(f"/admin/errors/target/{target.pk}/change/")
    assert page.status_code == 200 and b"shop.internal" in page.content
    assert b'name="address"' not in page.content  # shown, not editable
    assert admin_client.get("/admin/errors/target/add/").status_code == 403
    response = admin_client.post(f"/admin/errors/target/{target.pk}/change/", {"address": "x:1"})
    assert response.status_code == 403
    assert Target.objects.get().address == "10.0.0.1:8000"


def test_occurrences_have_no_admin_page_of_their_own(admin_client, db):
    assert admin_client.get("/admin/errors/occurrence/").status_code == 404


# --- error groups --------------------------------------------------------------------


def test_group_list_filters_and_searches(admin_client, make_group):
    make_group("PaymentDeclined@pay.py:3", severity="warning", message="card refused")
    make_group("DiskFull@io.py:1", status=GroupStatus.RESOLVED)
    page = admin_client.get("/admin/errors/errorgroup/")
    assert page.status_code == 200
    assert b"PaymentDeclined@pay.py:3" in page.content and b"DiskFull@io.py:1" in page.content
    searched = admin_client.get("/admin/errors/errorgroup/", {"q": "REFUSED"})
    assert b"PaymentDeclined" in searched.content and b"DiskFull@io.py:1" not in searched.content
    filtered = admin_client.get("/admin/errors/errorgroup/", {"status__exact": "resolved"})
    assert b"DiskFull@io.py:1" in filtered.content
    assert b"PaymentDeclined@pay.py:3" not in filtered.content
    by_severity = admin_client.get("/admin/errors/errorgroup/", {"severity": "warning"})
    assert by_severity.status_code == 200 and b"PaymentDeclined@pay.py:3" in by_severity.content


def run_action(admin_client, action, *groups):
    return admin_client.post(
        "/admin/errors/errorgroup/",
        {"action": action, "_selected_action": [g.pk for g in groups]},
        follow=True,
    )


def test_resolve_action_resolves_the_selected_groups(admin_client, make_group):
    a, b, untouched = make_group("a", regression=True), make_group("b"), make_group("c")
    response = run_action(admin_client, "resolve", a, b)
    assert b"2 group(s) resolved." in response.content
    assert reloaded(a).status == reloaded(b).status == GroupStatus.RESOLVED
    assert reloaded(a).resolved_at is not None and reloaded(a).regression is False
    assert reloaded(untouched).status == GroupStatus.ACTIVE


def test_unresolve_action_makes_groups_active(admin_client, make_group):
    group = make_group(status=GroupStatus.RESOLVED, resolved_at=timezone.now())
    run_action(admin_client, "unresolve", group)
    assert reloaded(group).status == GroupStatus.ACTIVE and reloaded(group).resolved_at is None


def test_ignore_action_ignores_for_good(admin_client, make_group):
    group = make_group()
    run_action(admin_client, "ignore", group)
    assert reloaded(group).status == GroupStatus.IGNORED and reloaded(group).ignored_until is None


def test_group_actions_need_the_change_permission(client, make_group):
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(*_perms("view_errorgroup"))
    client.force_login(viewer)
    group = make_group()
    page = client.get("/admin/errors/errorgroup/")
    assert page.status_code == 200 and b'value="resolve"' not in page.content
    run_action(client, "resolve", group)
    assert reloaded(group).status == GroupStatus.ACTIVE


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="errors", codename__in=codenames)


def test_group_page_shows_the_20_newest_occurrences(admin_client, make_group, make_occurrence):
    group = make_group()
    start = timezone.now() - timedelta(days=1)
    for i in range(25):
        make_occurrence(
            group, f"uuid-{i:02}", start + timedelta(minutes=i), message=f"message {i:02}",
            stacktrace=[f"line-of-{i:02}"],
            http_context={"request_method": "GET", "request_url": "/cart"},
        )
    page = admin_client.get(f"/admin/errors/errorgroup/{group.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "uuid-24" in text and "uuid-05" in text and "uuid-04" not in text
    assert "line-of-24" in text and "GET /cart" in text
    assert 'name="aggregation_key"' not in text and 'name="total_count"' not in text


def test_groups_cannot_be_added_in_admin(admin_client, db):
    assert admin_client.get("/admin/errors/errorgroup/add/").status_code == 403


UNTIL = {"ignored_until_0": "2099-05-01", "ignored_until_1": "12:00:00"}


def group_form(group, **changes):
    form = {
        "status": group.status, "ignored_until_0": "", "ignored_until_1": "",
        "occurrences-TOTAL_FORMS": 0, "occurrences-INITIAL_FORMS": 0,
    }
    return {**form, **changes}


def test_status_edited_on_the_group_page_goes_through_the_model(
    admin_client, make_group, make_occurrence
):
    group = make_group(regression=True)
    make_occurrence(group, "u1")
    url = f"/admin/errors/errorgroup/{group.pk}/change/"
    # The page posts back the occurrences shown (read-only): they are left alone.
    shown = {
        "occurrences-TOTAL_FORMS": 1, "occurrences-INITIAL_FORMS": 1,
        "occurrences-0-id": group.occurrences.get().pk, "occurrences-0-group": group.pk,
    }
    form = group_form(group, status="resolved", **shown)
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content
    stored = reloaded(group)
    assert stored.status == GroupStatus.RESOLVED and stored.resolved_at is not None
    assert stored.regression is False
    assert stored.occurrences.count() == 1

    response = admin_client.post(url, group_form(stored, status="active"))
    assert response.status_code == 302
    assert reloaded(group).status == GroupStatus.ACTIVE and reloaded(group).resolved_at is None


def test_ignore_until_a_date_on_the_group_page(admin_client, make_group):
    group = make_group()
    form = group_form(group, status="ignored", **UNTIL)
    response = admin_client.post(f"/admin/errors/errorgroup/{group.pk}/change/", form)
    assert response.status_code == 302, response.content
    stored = reloaded(group)
    assert stored.status == GroupStatus.IGNORED
    assert stored.ignored_until.isoformat() == "2099-05-01T12:00:00+00:00"


def test_ignore_date_on_a_group_that_is_not_ignored_is_refused(admin_client, make_group):
    group = make_group()
    form = group_form(group, status="active", **UNTIL)
    response = admin_client.post(f"/admin/errors/errorgroup/{group.pk}/change/", form)
    assert response.status_code == 200
    assert b"Only an ignored group has an end to its ignore period." in response.content
    assert reloaded(group).ignored_until is None
