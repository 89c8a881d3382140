from checks.core import cloudfront_age


def test_cloudfront_age_under_the_maximum_passes(upstream):
    url = upstream.route("/", headers={"X-Cache": "Hit from cloudfront", "Age": "120"})

    assert cloudfront_age.run(url=url, max_age=3600) == (True, 120)
    assert upstream.requests[0][0] == "HEAD"


def test_cloudfront_age_over_the_maximum_fails(upstream):
    url = upstream.route("/", headers={"X-Cache": "Hit from cloudfront", "Age": "7200"})

    assert cloudfront_age.run(url=url, max_age=3600) == (False, 7200)


def test_cloudfront_cache_miss_without_age_counts_as_fresh(upstream):
    url = upstream.route("/", headers={"X-Cache": "Miss from cloudfront"})

    assert cloudfront_age.run(url=url, max_age=3600) == (True, 0)


def test_cloudfront_age_without_x_cache_fails_with_explanation(upstream):
    url = upstream.route("/", headers={"Age": "10"})

    success, data = cloudfront_age.run(url=url, max_age=3600)

    assert not success
    assert "no X-Cache header" in data


def test_cloudfront_age_with_invalid_age_fails_with_explanation(upstream):
    url = upstream.route("/", headers={"X-Cache": "Hit from cloudfront", "Age": "old"})

    assert cloudfront_age.run(url=url, max_age=3600) == (False, "Invalid Age header: 'old'")


def test_cloudfront_age_of_an_unreachable_url_fails_with_message(closed_port_url):
    success, data = cloudfront_age.run(url=closed_port_url, max_age=3600)

    assert not success
    assert "connection refused" in data
