"""The system diagram on the overview: sanitised, and coloured by the checks' states."""

import re

import pytest
from django.contrib.auth.models import User

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     width="400" height="200" onload="alert('load')">
  <style>@import url(https://evil.example.com/x.css); rect { stroke: black }</style>
  <script>alert('script')</script>
  <inkscape:perspective id="p1"/>
  <g id="web--home" inkscape:label="Home"><rect width="10" height="10" fill="#ccc"/><title>old</title></g>
  <rect id="db--ping" x="20" width="10" height="10" onclick="alert('click')"/>
  <rect id="web--gone" x="40" width="10" height="10"/>
  <a xlink:href="javascript:alert('href')"><text>bad link</text></a>
  <a xlink:href="https://wiki.example.com/"><text>good link</text></a>
  <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">html inside</div></foreignObject>
  <set attributeName="href" to="javascript:alert('set')"/>
  <text x="1" y="1" style="fill: red; background: expression(alert(1))">label</text>
</svg>
"""


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    return client


@pytest.fixture
def diagram_file(tmp_path, settings):
    path = tmp_path / "diagram.svg"
    path.write_text(DIAGRAM)
    settings.DIAGRAM_FILE = str(path)
    return path


@pytest.fixture
def checks(make_check):
    make_check("web", "home", alert_state="failing", description="The home page")
    make_check("db", "ping", alert_state="passing")


def diagram_of(client) -> str:
    html = client.get("/dashboard/").content.decode()
    match = re.search(r'<section id="diagram".*?>(.*?)</section>', html, re.S)
    assert match, "no diagram on the page"
    return match.group(1)


def test_elements_of_checks_are_coloured_titled_and_linked(staff_client, diagram_file, checks):
    svg = diagram_of(staff_client)
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    home = re.search(r'<a href="/dashboard/checks/web/home/"><g id="web--home"([^>]*)>(.*?)</g></a>',
                     svg, re.S)
    assert home, svg
    assert 'data-diagram-check="web/home"' in home.group(1)
    assert 'data-state="failing"' in home.group(1)
    assert "<title>web/home: failing\nThe home page</title>" in home.group(2)
    assert "old" not in home.group(2)
    ping = re.search(r'<a href="/dashboard/checks/db/ping/"><rect id="db--ping"([^>]*)>', svg)
    assert ping and 'data-state="passing"' in ping.group(1)
    # An element named after no check is left as drawn.
    assert '<rect id="web--gone" x="40" width="10" height="10" />' in svg
    # Scales with the page.
    assert 'viewBox="0 0 400 200"' in svg and 'width="400"' not in svg


def test_the_diagram_is_sanitised(staff_client, diagram_file, checks):
    svg = diagram_of(staff_client)
    for bad in ("<script", "alert(", "onload", "onclick", "javascript:", "foreignObject",
                "html inside", "<set", "@import", "expression(", "inkscape"):
        assert bad not in svg, bad
    assert '<a href="https://wiki.example.com/"><text>good link</text></a>' in svg
    assert "<a><text>bad link</text></a>" in svg
    assert "rect { stroke: black }" in svg
    assert '<text x="1" y="1">label</text>' in svg


def test_no_diagram_without_a_file(staff_client, checks, settings, tmp_path):
    settings.DIAGRAM_FILE = str(tmp_path / "missing.svg")
    assert 'id="diagram"' not in staff_client.get("/dashboard/").content.decode()


@pytest.mark.parametrize("content", [
    "<svg xmlns='http://www.w3.org/2000/svg'><rect",  # not well-formed
    "<html><body>not svg</body></html>",
    "<?xml version='1.0'?><!DOCTYPE svg [<!ENTITY a 'aaaa'>]>"
    "<svg xmlns='http://www.w3.org/2000/svg'><text>&a;</text></svg>",
])
def test_a_bad_file_is_not_shown(staff_client, checks, settings, tmp_path, content):
    path = tmp_path / "bad.svg"
    path.write_text(content)
    settings.DIAGRAM_FILE = str(path)
    response = staff_client.get("/dashboard/")
    assert response.status_code == 200 and b'id="diagram"' not in response.content


def test_a_changed_file_is_read_again(staff_client, diagram_file, checks):
    assert "web--home" in diagram_of(staff_client)
    diagram_file.write_text("<svg xmlns='http://www.w3.org/2000/svg'><rect id='db--ping'/>"
                            "<!-- a longer file -->  </svg>")
    svg = diagram_of(staff_client)
    assert "web--home" not in svg and 'data-diagram-check="db/ping"' in svg
