"""SVG status badges of a check, a project and tags."""

import pytest

from audits.dashboard import badges

SVG = "image/svg+xml"


@pytest.fixture
def checks(make_check):
    make_check("web", "home", tags=["prod", "front"], alert_state="passing")
    make_check("web", "api", tags=["prod"], alert_state="failing")
    make_check("db", "ping", tags=["front"], alert_state="unknown")
    make_check("db", "off", alert_state="failing", enabled=False)


@pytest.mark.parametrize(
    "url, state, text",
    [
        ("/dashboard/badges/checks/web/home.svg", "passing", "passing"),
        ("/dashboard/badges/checks/web/api.svg", "failing", "failing"),
        ("/dashboard/badges/checks/db/ping.svg", "unknown", "unknown"),
        ("/dashboard/badges/projects/web.svg", "failing", "1 failing"),
        ("/dashboard/badges/projects/db.svg", "unknown", "unknown"),
        ("/dashboard/badges/tags/prod.svg", "failing", "1 failing"),
        ("/dashboard/badges/tags/front.svg", "unknown", "unknown"),
        ("/dashboard/badges/tags/prod+front.svg", "passing", "passing"),  # AND
    ],
)
def test_badges_are_svg_in_the_colour_of_the_state(client, checks, url, state, text):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == SVG
    body = response.content.decode()
    assert body.startswith("<svg") and body.endswith("</svg>")
    assert f'fill="{badges.COLORS[state]}"' in body
    assert f">{text}</text>" in body
    assert "no-cache" in response["Cache-Control"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_unknown_or_disabled_checks_get_a_not_found_badge(client, checks):
    for url in ["/dashboard/badges/checks/web/nope.svg", "/dashboard/badges/checks/db/off.svg",
                "/dashboard/badges/projects/nope.svg", "/dashboard/badges/tags/nope.svg"]:
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == SVG
        assert b"not found" in response.content


def test_a_badge_label_can_be_chosen_and_is_escaped(client, checks):
    body = client.get("/dashboard/badges/checks/web/home.svg?label=<b>prod").content.decode()
    assert "&lt;b&gt;prod" in body and "<b>" not in body


def test_an_unchanged_badge_is_a_304(client, checks):
    first = client.get("/dashboard/badges/projects/web.svg")
    again = client.get("/dashboard/badges/projects/web.svg", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_badge_width_grows_with_the_text():
    short, long = badges.render("a", "passing", "passing"), badges.render("a" * 40, "passing", "passing")
    width = lambda svg: int(svg.split('width="', 1)[1].split('"', 1)[0])  # noqa: E731
    assert width(long) > width(short) + 200
