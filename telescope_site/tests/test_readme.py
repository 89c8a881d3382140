"""
What the README tells users to type exists: the badge paths, the dashboard's
filter parameter, the metric names of scrapes, the commands of a manual run.
"""

import re
from pathlib import Path

from django.urls import Resolver404, resolve

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_badge_path_of_the_readme_is_a_badge():
    paths = set(re.findall(r"`(/dashboard/badges/[^`]+\.svg)`", README))
    assert paths, "the README shows the badge paths"
    for path in paths:
        example = re.sub(r"<[^>]+>", "x", path)
        try:
            match = resolve(example)
        except Resolver404:
            raise AssertionError(f"README's {path} is no route") from None
        assert match.url_name.startswith("badge-"), (path, match.url_name)


def test_the_readmes_filter_parameters_are_the_ones_the_overview_reads():
    from audits.dashboard.views import Filters

    dashboard = README.split("\n## Dashboard", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`\?(\w+)=", dashboard)
    assert "status" in named
    for name in named:
        assert name in Filters.__dataclass_fields__, name


def test_the_scrape_metrics_are_named_as_prometheus_exposes_them(client, db):
    text = client.get("/__metrics__").content.decode()
    names = re.findall(r"`(periskop_scrape_\w+)`", README)
    assert "periskop_scrape_failures_total" in names
    for name in names:
        assert re.search(rf"^# TYPE {name} ", text, re.M), name


def test_a_manual_run_collects_the_static_files():
    assert "python manage.py collectstatic --noinput" in README
