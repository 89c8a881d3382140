"""Tags in admin: their number of checks in one query, and merging tags."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audits.models import Check, Tag

LIST = "/admin/audits/tag/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


def test_list_shows_each_tags_number_of_checks(admin_client, make_check):
    make_check(name="a", tags=["web", "db"])
    make_check(name="b", tags=["web"])
    Tag.objects.create(name="unused", description="nothing yet")
    response = admin_client.get(LIST)
    assert response.status_code == 200
    counts = {tag.name: tag.check_count for tag in response.context["cl"].result_list}
    assert counts == {"db": 1, "unused": 0, "web": 2}
    html = response.content.decode()
    web = Tag.objects.get(name="web")
    assert f'href="/admin/audits/check/?tags__id__exact={web.pk}">2</a>' in html
    assert "nothing yet" in html
    ordered = admin_client.get(f"{LIST}?o=-3")
    assert [t.name for t in ordered.context["cl"].result_list][0] == "web"


def test_list_queries_do_not_grow_with_tags(admin_client, make_check):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    make_check(name="a", tags=["t0"])
    few = count()
    for i in range(1, 20):
        make_check(name=f"c{i}", tags=[f"t{i}", "t0"])
    assert count() == few


def test_tag_pages_load_and_save(admin_client, db):
    assert admin_client.get(f"{LIST}add/").status_code == 200
    response = admin_client.post(f"{LIST}add/", {"name": "web", "description": "Web sites"})
    assert response.status_code == 302
    tag = Tag.objects.get(name="web")
    assert admin_client.get(f"{LIST}{tag.pk}/change/").status_code == 200
    assert admin_client.get(f"{LIST}?q=Web").context["cl"].result_count == 1


def test_merge_asks_which_tag_to_keep_then_moves_the_checks(admin_client, make_check):
    both = make_check(name="both", tags=["web", "www"])
    only_www = make_check(name="www-only", tags=["www", "legacy"])
    only_web = make_check(name="web-only", tags=["web"])
    make_check(name="untagged")
    web, www, legacy = (Tag.objects.get(name=n) for n in ("web", "www", "legacy"))
    Tag.objects.filter(pk=www.pk).update(description="Old name")
    selected = {"action": "merge_selected", "_selected_action": [web.pk, www.pk, legacy.pk]}

    page = admin_client.post(LIST, selected)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="radio" name="target"' in html
    assert "Old name" in html and "(2 checks)" in html
    assert Tag.objects.count() == 3  # nothing merged yet

    done = admin_client.post(LIST, {**selected, "merge": "yes", "target": www.pk}, follow=True)
    assert [str(m) for m in done.context["messages"]] == [
        "Merged legacy, web into www: 1 check got it."
    ]
    assert list(Tag.objects.values_list("name", "description")) == [("www", "Old name")]
    for check in (both, only_www, only_web):
        assert Check.objects.get(pk=check.pk).tag_names() == ["www"]
    assert Check.objects.get(name="untagged").tag_names() == []


def test_merge_keeps_a_description(admin_client, make_check):
    make_check(name="a", tags=["a", "b"])
    a, b = Tag.objects.get(name="a"), Tag.objects.get(name="b")
    Tag.objects.filter(pk=b.pk).update(description="From b")
    admin_client.post(
        LIST,
        {"action": "merge_selected", "_selected_action": [a.pk, b.pk], "merge": "yes",
         "target": a.pk},
    )
    assert list(Tag.objects.values_list("name", "description")) == [("a", "From b")]


def test_merge_needs_two_tags(admin_client, make_check):
    make_check(tags=["only"])
    only = Tag.objects.get()
    response = admin_client.post(
        LIST, {"action": "merge_selected", "_selected_action": [only.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["Select at least two tags to merge."]
    assert Tag.objects.count() == 1


def test_merge_target_must_be_one_of_the_selected(admin_client, make_check):
    make_check(tags=["a", "b", "c"])
    a, b, c = Tag.objects.order_by("name")
    response = admin_client.post(
        LIST,
        {"action": "merge_selected", "_selected_action": [a.pk, b.pk], "merge": "yes",
         "target": c.pk},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Tag.objects.count() == 3
