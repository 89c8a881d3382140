from checks import config
from checks.core import deployed_commit


def test_deployed_commit_equal_to_the_branch_head_passes(github_api, github_branch, ago):
    github_api.route("/__version__", json={"commit": "abc123"})
    github_branch("o/r", "main", sha="abc123", date=ago(days=3))

    result = deployed_commit.run(server=github_api.url(""), repo="o/r")

    assert result == (
        True,
        {
            "latest_commit": {
                "sha": "abc123",
                "author": "alice",
                "message": "Fix the thing",
                "date": ago(days=3),
            },
            "deployed_commit": "abc123",
        },
    )


def test_deployed_commit_behind_an_old_branch_head_fails(github_api, github_branch, ago):
    github_api.route("/__version__", json={"commit": "old"})
    github_branch("o/r", "prod", sha="new", date=ago(hours=2))

    success, data = deployed_commit.run(server=github_api.url(""), repo="o/r", branch="prod")

    assert not success
    assert data["deployed_commit"] == "old"
    assert data["latest_commit"]["sha"] == "new"


def test_deployed_commit_behind_a_recent_branch_head_passes(github_api, github_branch, ago):
    github_api.route("/__version__", json={"commit": "old"})
    github_branch("o/r", "main", sha="new", date=ago(minutes=10))

    server = github_api.url("")
    assert deployed_commit.run(server=server, repo="o/r")[0] is True
    assert deployed_commit.run(server=server, repo="o/r", lag_margin_seconds=60)[0] is False


def test_deployed_commit_sends_the_github_token(github_api, github_branch, ago):
    config.configure(github_token="gh-secret")
    github_api.route("/__version__", json={"commit": "abc"})
    github_branch("o/r", "main", sha="abc", date=ago(days=1))

    deployed_commit.run(server=github_api.url(""), repo="o/r")

    paths = {path: headers for _, path, headers in github_api.requests}
    assert paths["/repos/o/r/branches/main"]["Authorization"] == "token gh-secret"
    assert "Authorization" not in paths["/__version__"]


def test_deployed_commit_of_an_unknown_branch_fails_with_explanation(github_api):
    github_api.route("/__version__", json={"commit": "abc"})

    success, data = deployed_commit.run(server=github_api.url(""), repo="o/r", branch="nope")

    assert not success
    assert "HTTP 404" in data["error"]


def test_deployed_commit_of_an_unreachable_server_fails_with_message(closed_port_url):
    success, data = deployed_commit.run(server=closed_port_url, repo="o/r")

    assert not success
    assert "connection refused" in data["error"]
