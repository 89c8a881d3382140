"""
One duration grammar, read the same by every place a config file holds a duration:
a check's schedule, a service's refresh interval (config.toml and Periskop's YAML),
and the refresh interval of file_sd and dns_sd configs.

Each value of the tables below goes through every such place, by the importer's own
reading of a file (`foundation.config.document`), so that no reader can drift again.
"""

import pytest
import tomli_w
import yaml
from django_celery_beat.models import PeriodicTask

from foundation import durations
from foundation.config import document
from foundation.config.errors import ConfigError

# What a duration may be written as, and how many seconds it means.
ACCEPTED = [
    ("300", 300), (300, 300), ("45s", 45), ("5m", 300), ("1h", 3600),
    ("1m30s", 90), ("1h30m", 5400), ("1.5h", 5400), ("0.5m", 30), ("2m0.5s", 120.5),
    ("90000ms", 90), ("1d", 86400), ("1w", 604800), ("1y", 365 * 86400), ("1.5", 1.5),
    ("300ms", 0.3), (" 30s ", 30),
]
# Not durations anywhere: no unit after a number, unknown units, signs, spaces inside.
REFUSED = ["1h30", "5x", "30 s", "1h 30m", "-1s", "+5m", "1e3", "h", "1.5.2s", "inf"]
# Durations, but no interval: shorter than a second, or not whole seconds.
NOT_INTERVALS = [("300ms", "shorter than the minimum, 1 s"), ("0", "shorter than the minimum"),
                 ("1.5s", "not a whole number of seconds"), ("0.1s", "shorter")]


def check_toml(value) -> dict:
    check = {"module": "checks.core.heartbeat", "params": {"url": "http://127.0.0.1:1/"}}
    return {"checks": {"web": {"home": {**check, "schedule": value}}}}


def service_toml(value) -> dict:
    return {"errors": {"services": {"api": {"refresh_interval": value}}}}


def file_sd_toml(value) -> dict:
    file_sd = {"files": ["targets.json"], "refresh_interval": value}
    return {"errors": {"services": {"api": {"file_sd_configs": [file_sd]}}}}


def dns_sd_toml(value) -> dict:
    dns_sd = {"names": ["_errors._tcp.example.com"], "refresh_interval": value}
    return {"errors": {"services": {"api": {"dns_sd_configs": [dns_sd]}}}}


def periskop_yaml(value) -> dict:
    return {"services": [{"name": "api", "scraper": {"refresh_interval": value}}]}


def read(tmp_path, content: dict, suffix: str = ".toml"):
    """The plans of a file holding `content`, as `import_config` reads it."""
    path = tmp_path / f"config{suffix}"
    text = yaml.safe_dump(content) if suffix == ".yml" else tomli_w.dumps(content)
    path.write_text(text)
    return {plan.section: plan for plan in document.plan(document.load(path), str(path), False)}


def refusal(tmp_path, content: dict, suffix: str = ".toml") -> str:
    with pytest.raises(ConfigError) as info:
        read(tmp_path, content, suffix)
    (problem,) = info.value.errors
    return problem


def service_interval(plans) -> int:
    (spec,) = plans["errors"].plan.created
    return spec.refresh_interval


@pytest.mark.parametrize("value, seconds", ACCEPTED)
def test_a_duration_means_the_same_seconds_everywhere(value, seconds):
    assert durations.parse(value) == pytest.approx(seconds)


@pytest.mark.django_db
@pytest.mark.parametrize("value, seconds", [(v, s) for v, s in ACCEPTED if s >= 1 and s % 1 == 0])
def test_an_interval_is_read_alike_by_every_reader(tmp_path, value, seconds):
    document.apply(list(read(tmp_path, check_toml(value)).values()))
    assert PeriodicTask.objects.get().interval.every == seconds
    assert service_interval(read(tmp_path, service_toml(value))) == seconds
    assert service_interval(read(tmp_path, periskop_yaml(value), ".yml")) == seconds
    read(tmp_path, file_sd_toml(value))
    read(tmp_path, dns_sd_toml(value))


@pytest.mark.django_db
@pytest.mark.parametrize("value", REFUSED)
def test_what_is_not_a_duration_is_refused_by_every_reader_naming_it(tmp_path, value):
    with pytest.raises(durations.DurationError):
        durations.parse(value)
    problems = [
        refusal(tmp_path, check_toml(value)),
        refusal(tmp_path, service_toml(value)),
        refusal(tmp_path, periskop_yaml(value), ".yml"),
        refusal(tmp_path, file_sd_toml(value)),
        refusal(tmp_path, dns_sd_toml(value)),
    ]
    for problem in problems:
        # The bad value, the field, and what would have been right.
        assert repr(value) in problem and durations.FORMS in problem, problem
    assert ": checks.web.home: schedule: " in problems[0]
    assert ": errors.services.api: refresh_interval: " in problems[1]
    assert ": errors.services.api: file_sd_configs[0].refresh_interval: " in problems[3]


@pytest.mark.django_db
@pytest.mark.parametrize("value, message", NOT_INTERVALS)
def test_intervals_need_whole_seconds_and_at_least_one(tmp_path, value, message):
    for content, suffix in [(check_toml(value), ".toml"), (service_toml(value), ".toml"),
                            (periskop_yaml(value), ".yml")]:
        problem = refusal(tmp_path, content, suffix)
        assert repr(value) in problem and message in problem, problem
    # The ignored refresh intervals of discovery only need to be durations.
    read(tmp_path, file_sd_toml(value))


# "" too, though an empty schedule is no schedule (the check's reader never parses it).
@pytest.mark.parametrize("value", ["", True, None, float("nan"), -1, [30]])
def test_empty_or_other_types_are_not_durations(value):
    with pytest.raises(durations.DurationError, match="is not a duration"):
        durations.parse(value)
