from checks import config
from checks.core import deployed_version


def test_deployed_version_equal_to_the_latest_release_passes(github_api):
    github_api.route("/__version__", json={"version": "v2.1.0", "commit": "abc"})
    github_api.route("/repos/o/r/releases/latest", json={"tag_name": "v2.1.0"})

    result = deployed_version.run(server=github_api.url(""), repo="o/r")

    assert result == (True, {"latest_tag": "v2.1.0", "deployed_version": "v2.1.0"})


def test_deployed_version_with_a_suffix_of_the_latest_release_passes(github_api):
    github_api.route("/__version__", json={"version": "v2.1.0-3-gabc"})
    github_api.route("/repos/o/r/releases/latest", json={"tag_name": "v2.1.0"})

    assert deployed_version.run(server=github_api.url("/"), repo="o/r")[0] is True


def test_deployed_version_behind_the_latest_release_fails(github_api):
    github_api.route("/__version__", json={"version": "v1.10"})
    github_api.route("/repos/o/r/releases/latest", json={"tag_name": "v1.1"})

    result = deployed_version.run(server=github_api.url(""), repo="o/r")

    assert result == (False, {"latest_tag": "v1.1", "deployed_version": "v1.10"})


def test_deployed_version_sends_the_github_token(github_api):
    config.configure(github_token="gh-secret")
    github_api.route("/__version__", json={"version": "1"})
    github_api.route("/repos/o/r/releases/latest", json={"tag_name": "1"})

    deployed_version.run(server=github_api.url(""), repo="o/r")

    paths = {path: headers for _, path, headers in github_api.requests}
    assert paths["/repos/o/r/releases/latest"]["Authorization"] == "token gh-secret"


def test_deployed_version_without_releases_fails_with_explanation(github_api):
    github_api.route("/__version__", json={"version": "1"})
    github_api.route("/repos/o/r/releases/latest", status=404, json={"message": "Not Found"})

    success, data = deployed_version.run(server=github_api.url(""), repo="o/r")

    assert not success
    assert "HTTP 404" in data["error"]


def test_deployed_version_without_version_field_fails_with_explanation(github_api):
    github_api.route("/__version__", json={"commit": "abc"})

    success, data = deployed_version.run(server=github_api.url(""), repo="o/r")

    assert (success, data) == (False, {"error": "No 'version' string in the __version__ document"})


def test_deployed_version_of_an_unreachable_server_fails_with_message(closed_port_url):
    success, data = deployed_version.run(server=closed_port_url, repo="o/r")

    assert not success
    assert "connection refused" in data["error"]
