import pytest

from checks.core import readthedocs

BUILDS_PAGE = """
<html><body>
<table>
  <tr><th>Build</th><th>Version</th></tr>
  <tr><td><a href="/projects/docs/builds/1/">#1</a></td>
      <td><a href="https://github.com/o/r/commit/{sha}">{sha}</a></td></tr>
  <tr><td><a href="https://github.com/o/r/commit/older">older</a></td></tr>
</table>
</body></html>
"""


@pytest.fixture
def rtd(github_api, monkeypatch):
    """The upstream server also stands in for ReadTheDocs."""
    monkeypatch.setattr(readthedocs, "READTHEDOCS_URL", github_api.url(""))

    def builds(sha=None, page=None):
        return github_api.route("/projects/docs/builds/", body=page or BUILDS_PAGE.format(sha=sha))

    return builds


def test_readthedocs_built_from_the_branch_head_passes(rtd, github_branch, ago):
    rtd(sha="abc123")
    github_branch("o/r", "main", sha="abc123", date=ago(days=2))

    result = readthedocs.run(repo="o/r", rtd_slug="docs")

    assert result == (
        True,
        {"github": {"latest_sha": "abc123"}, "readthedocs": {"latest_build": "abc123"}},
    )


def test_readthedocs_behind_an_old_branch_head_fails(rtd, github_branch, ago):
    rtd(sha="old")
    github_branch("o/r", "stable", sha="new", date=ago(days=2))

    result = readthedocs.run(repo="o/r", rtd_slug="docs", branch="stable")

    assert result == (
        False,
        {"github": {"latest_sha": "new"}, "readthedocs": {"latest_build": "old"}},
    )


def test_readthedocs_behind_a_recent_branch_head_passes(rtd, github_branch, ago):
    rtd(sha="old")
    github_branch("o/r", "main", sha="new", date=ago(minutes=5))

    assert readthedocs.run(repo="o/r", rtd_slug="docs")[0] is True


def test_readthedocs_page_without_builds_table_fails_with_explanation(rtd):
    rtd(page="<html><p>Maintenance</p></html>")

    success, data = readthedocs.run(repo="o/r", rtd_slug="docs")

    assert not success
    assert data == {"error": "Could not find the builds table on the ReadTheDocs page"}


def test_readthedocs_unknown_project_fails_with_explanation(rtd):
    success, data = readthedocs.run(repo="o/r", rtd_slug="unknown")

    assert not success
    assert "HTTP 404" in data["error"]


def test_readthedocs_unreachable_fails_with_message(monkeypatch, closed_port_url):
    monkeypatch.setattr(readthedocs, "READTHEDOCS_URL", closed_port_url)

    success, data = readthedocs.run(repo="o/r", rtd_slug="docs")

    assert not success
    assert "connection refused" in data["error"]
