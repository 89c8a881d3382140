import pytest

from checks import config, github, http


def test_token_is_sent_as_authorization_token(github_api):
    config.configure(github_token="gh-secret")
    github_api.route("/repos/o/r", json={"name": "r"})

    github.fetch_json("repos/o/r")

    _, _, headers = github_api.requests[0]
    assert headers["Authorization"] == "token gh-secret"
    assert headers["Accept"] == "application/vnd.github+json"


def test_no_authorization_without_token(github_api):
    github_api.route("/repos/o/r", json={})

    github.fetch_json("repos/o/r")

    assert "Authorization" not in github_api.requests[0][2]


def test_fetch_all_follows_link_next_with_the_token(github_api):
    config.configure(github_token="gh-secret")
    page2 = github_api.url("/repos/o/r/pulls-page-2?state=open&page=2")
    github_api.route("/repos/o/r/pulls", json=[1, 2], headers={"Link": f'<{page2}>; rel="next"'})
    github_api.route("/repos/o/r/pulls-page-2", json=[3])

    items = github.fetch_all("repos/o/r/pulls", params={"state": "open"})

    assert items == [1, 2, 3]
    assert [path for _, path, _ in github_api.requests] == [
        "/repos/o/r/pulls?state=open",
        "/repos/o/r/pulls-page-2?state=open&page=2",
    ]
    assert all(h["Authorization"] == "token gh-secret" for _, _, h in github_api.requests)


def test_fetch_all_refuses_a_link_to_another_origin(github_api, upstream):
    elsewhere = "http://example.invalid/steal"
    github_api.route("/list", json=[1], headers={"Link": f'<{elsewhere}>; rel="next"'})

    with pytest.raises(http.HTTPError, match="refusing to follow"):
        github.fetch_all("list")


def test_fetch_all_stops_a_runaway_pagination(github_api, monkeypatch):
    monkeypatch.setattr(github, "MAX_PAGES", 3)
    link = f'<{github_api.url("/list")}>; rel="next"'
    github_api.route("/list", json=[1], headers={"Link": link})

    with pytest.raises(http.HTTPError, match="more than 3 pages"):
        github.fetch_all("list")


def test_rate_limit_is_explained(github_api):
    github_api.route(
        "/repos/o/r",
        status=403,
        json={"message": "API rate limit exceeded"},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000000"},
    )

    with pytest.raises(http.HTTPError, match="rate limit exceeded .*token"):
        github.fetch_json("repos/o/r")


def test_token_never_appears_in_error_messages(github_api):
    config.configure(github_token="gh-secret")
    github_api.route("/repos/o/r", status=401, json={"message": "Bad credentials gh-secret"})

    with pytest.raises(http.HTTPError) as error:
        github.fetch_json("repos/o/r")

    assert "gh-secret" not in str(error.value)


def test_branch_head_falls_back_to_the_author_name(github_branch, ago):
    github_branch("o/r", "main", sha="abc", date=ago(days=1), login=None)

    head = github.branch_head("o/r", "main")

    assert head["author"] == "Alice Liddell"
    assert head["message"] == "Fix the thing"


def test_branch_head_with_unexpected_json_raises(github_api):
    github_api.route("/repos/o/r/branches/main", json={"commit": None})

    with pytest.raises(http.HTTPError, match="unexpected answer"):
        github.branch_head("o/r", "main")
