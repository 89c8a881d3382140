import pytest

from checks import config
from checks.core import maintenance


@pytest.fixture
def pulls(github_api, ago):
    """`pulls(repo, [days_inactive, ...], **extra)` programs the open pull requests."""

    def route(repo, ages, draft=False, labels=(), headers=None, path=None):
        payload = [
            {
                "updated_at": ago(days=age, hours=1),
                "draft": draft,
                "labels": [{"name": name} for name in labels],
            }
            for age in ages
        ]
        return github_api.route(path or f"/repos/{repo}/pulls", json=payload, headers=headers)

    return route


def test_maintenance_with_recent_pull_requests_passes(pulls):
    pulls("o/a", [1, 2, 8])
    pulls("o/b", [])

    result = maintenance.run(repositories=["o/a", "o/b"])

    assert result == (True, {"o/a": {"pulls": {"old": 1, "total": 3}}})


def test_maintenance_with_too_many_old_pull_requests_fails(pulls):
    pulls("o/a", [8, 9, 10])

    result = maintenance.run(repositories=["o/a"], max_opened_pulls=2)

    assert result == (False, {"o/a": {"pulls": {"old": 3, "total": 3}}})


def test_maintenance_with_an_abandoned_pull_request_fails(pulls):
    pulls("o/a", [1, 50])

    assert maintenance.run(repositories=["o/a"])[0] is False
    assert maintenance.run(repositories=["o/a"], max_days_last_activity=60)[0] is True


def test_maintenance_ignores_drafts_and_ignored_labels(github_api, ago):
    stale = ago(days=100)
    github_api.route(
        "/repos/o/a/pulls",
        json=[
            {"updated_at": stale, "draft": True, "labels": []},
            {"updated_at": stale, "draft": False, "labels": [{"name": "blocked"}]},
            {"updated_at": stale, "draft": False, "labels": [{"name": "on-hold"}]},
        ],
    )

    ignored = ["blocked", "on-hold"]
    assert maintenance.run(repositories=["o/a"], ignore_with_labels=ignored) == (True, {})
    assert maintenance.run(repositories=["o/a"])[0] is False


def test_maintenance_follows_pagination(pulls, github_api):
    next_page = github_api.url("/repos/o/a/pulls-2?page=2")
    pulls("o/a", [8, 9], headers={"Link": f'<{next_page}>; rel="next"'})
    pulls("o/a", [10, 11], path="/repos/o/a/pulls-2")

    result = maintenance.run(repositories=["o/a"], max_opened_pulls=3)

    assert result == (False, {"o/a": {"pulls": {"old": 4, "total": 4}}})
    assert github_api.hits("/repos/o/a/pulls-2") == 1


def test_maintenance_lists_repositories_with_most_old_pulls_first(pulls):
    pulls("o/a", [8, 1])
    pulls("o/b", [8, 9, 10])

    _, data = maintenance.run(repositories=["o/a", "o/b"])

    assert list(data) == ["o/b", "o/a"]


def test_maintenance_sends_the_github_token(pulls, github_api):
    config.configure(github_token="gh-secret")
    pulls("o/a", [])

    maintenance.run(repositories=["o/a"])

    _, path, headers = github_api.requests[0]
    assert path == "/repos/o/a/pulls?state=open&per_page=100"
    assert headers["Authorization"] == "token gh-secret"


def test_maintenance_of_an_unknown_repository_fails_with_explanation(pulls):
    pulls("o/a", [1])

    success, data = maintenance.run(repositories=["o/a", "o/missing"])

    assert not success
    assert list(data) == ["o/missing", "o/a"]
    assert "HTTP 404" in data["o/missing"]["error"]


def test_maintenance_with_unexpected_pull_data_fails_with_explanation(github_api):
    github_api.route("/repos/o/a/pulls", json=[{"title": "no dates"}])

    success, data = maintenance.run(repositories=["o/a"])

    assert not success
    assert "Unexpected pull request data" in data["o/a"]["error"]


def test_maintenance_with_github_unreachable_fails_with_message(closed_port_url):
    config.configure(github_api_url=closed_port_url)

    success, data = maintenance.run(repositories=["o/a"])

    assert not success
    assert "connection refused" in data["o/a"]["error"]
