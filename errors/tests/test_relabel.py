"""Prometheus relabelling: each action, group expansion, and rule validation."""

import hashlib

import pytest

from errors.relabel import relabel, validate

TARGET = {"__address__": "10.0.0.1:8080", "__meta_dns_name": "api.test", "zone": "eu-1"}


def test_replace_rewrites_the_port_of_the_address():
    rule = {
        "source_labels": ["__address__"],
        "regex": "(.+):\\d+",
        "replacement": "${1}:7777",
        "target_label": "__address__",
    }
    assert relabel(TARGET, [rule])["__address__"] == "10.0.0.1:7777"


def test_replace_defaults_copy_the_joined_source_labels():
    rule = {"source_labels": ["zone", "__meta_dns_name"], "target_label": "where"}
    assert relabel(TARGET, [rule])["where"] == "eu-1;api.test"


def test_replace_uses_the_given_separator_and_groups():
    rule = {
        "source_labels": ["a", "b"],
        "separator": "/",
        "regex": "f(.*)/(.*)r",
        "target_label": "a",
        "replacement": "b${1}${2}m",
    }
    assert relabel({"a": "foo", "b": "bar"}, [rule])["a"] == "boobam"


def test_replace_leaves_labels_alone_when_the_regex_does_not_match():
    rule = {"source_labels": ["zone"], "regex": "us-.*", "target_label": "zone", "replacement": "x"}
    assert relabel(TARGET, [rule]) == TARGET


def test_replace_with_an_empty_result_removes_the_label():
    rule = {"source_labels": ["missing"], "target_label": "zone"}
    assert "zone" not in relabel(TARGET, [rule])


def test_replace_may_name_its_target_label_with_groups():
    rule = {
        "source_labels": ["a"],
        "regex": "some-([^-]+)-([^,]+)",
        "target_label": "${1}",
        "replacement": "${2}",
    }
    assert relabel({"a": "some-name-value"}, [rule]) == {"a": "some-name-value", "name": "value"}


def test_replace_skips_a_target_label_that_expands_to_an_invalid_name():
    rule = {"source_labels": ["a"], "regex": "(.*)-(.*)", "target_label": "x$3", "replacement": "$1"}
    rule_invalid = {**rule, "target_label": "${3}"}
    assert relabel({"a": "p-q"}, [rule_invalid]) == {"a": "p-q"}
    assert relabel({"a": "p-q"}, [rule]) == {"a": "p-q", "x": "p"}


def test_replacement_expands_named_groups_and_dollar_escapes_like_go():
    rule = {
        "source_labels": ["__address__"],
        "regex": "(?P<host>[^:]+):(?P<port>\\d+)",
        "target_label": "out",
        "replacement": "$host|${port}0|$1x|$$1|$9|$-",
    }
    # $1x reads as the group named "1x" (absent: empty), as in Go; $$ is a literal $;
    # an absent group is empty; a $ followed by no name stays as it is.
    assert relabel(TARGET, [rule])["out"] == "10.0.0.1|80800||$1||$-"


def test_regex_is_anchored_at_both_ends():
    keep = {"source_labels": ["zone"], "regex": "eu", "action": "keep"}
    assert relabel(TARGET, [keep]) is None
    alternation = {"source_labels": ["zone"], "regex": "eu|eu-1", "action": "keep"}
    assert relabel(TARGET, [alternation]) == TARGET


def test_keep_keeps_matching_targets_and_drops_the_others():
    rule = {"source_labels": ["zone"], "regex": "eu-.*", "action": "keep"}
    assert relabel(TARGET, [rule]) == TARGET
    assert relabel({**TARGET, "zone": "us-1"}, [rule]) is None


def test_drop_drops_matching_targets_by_address():
    rule = {"source_labels": ["__address__"], "regex": "10\\.0\\.0\\.1:.*", "action": "drop"}
    assert relabel(TARGET, [rule]) is None
    assert relabel({**TARGET, "__address__": "10.0.0.2:8080"}, [rule]) is not None


def test_a_dropped_target_stops_the_rules():
    rules = [
        {"source_labels": ["zone"], "regex": "eu-1", "action": "drop"},
        {"target_label": "never", "replacement": "set"},
    ]
    assert relabel(TARGET, rules) is None


def test_actions_are_case_insensitive():
    assert relabel(TARGET, [{"source_labels": ["zone"], "regex": "eu-1", "action": "DROP"}]) is None


def test_labelmap_copies_meta_labels_to_plain_names():
    rule = {"regex": "__meta_dns_(.+)", "action": "labelmap"}
    assert relabel(TARGET, [rule]) == {**TARGET, "name": "api.test"}


def test_labelmap_uses_the_replacement_as_the_new_name():
    rule = {"regex": "(b.*)", "replacement": "bar_${1}", "action": "labelmap"}
    labels = {"a": "foo", "b1": "bar", "b2": "baz"}
    assert relabel(labels, [rule]) == {**labels, "bar_b1": "bar", "bar_b2": "baz"}


def test_labeldrop_and_labelkeep_filter_label_names():
    labels = {"a": "foo", "b1": "bar", "b2": "baz"}
    assert relabel(labels, [{"regex": "b.*", "action": "labeldrop"}]) == {"a": "foo"}
    assert relabel(labels, [{"regex": "b.*", "action": "labelkeep"}]) == {"b1": "bar", "b2": "baz"}


def test_hashmod_shards_like_prometheus():
    rule = {"source_labels": ["c"], "target_label": "d", "modulus": 1000, "action": "hashmod"}
    # The values of Prometheus' own tests: the same target lands in the same shard.
    assert relabel({"c": "baz"}, [rule])["d"] == "976"
    assert relabel({"c": "foo\nbar"}, [rule])["d"] == "734"


def test_lowercase_and_uppercase_set_the_target_label():
    rules = [
        {"source_labels": ["foo"], "target_label": "lower", "action": "lowercase"},
        {"source_labels": ["foo"], "target_label": "upper", "action": "uppercase"},
    ]
    result = relabel({"foo": "bAr123Foo"}, rules)
    assert (result["lower"], result["upper"]) == ("bar123foo", "BAR123FOO")


def test_keepequal_and_dropequal_compare_two_labels():
    labels = {"a": "1", "b": "1", "c": "2"}
    keep = {"source_labels": ["a"], "target_label": "b", "action": "keepequal"}
    drop = {"source_labels": ["a"], "target_label": "b", "action": "dropequal"}
    assert relabel(labels, [keep]) == labels
    assert relabel(labels, [drop]) is None
    assert relabel(labels, [{**keep, "target_label": "c"}]) is None


def test_relabel_does_not_modify_its_input():
    labels = dict(TARGET)
    relabel(labels, [{"source_labels": ["zone"], "target_label": "zone", "replacement": "x"}])
    assert labels == TARGET


def test_no_rules_keep_the_labels():
    assert relabel(TARGET, []) == TARGET


# --- validation -------------------------------------------------------------------


def test_valid_rules_have_no_problem():
    rules = [
        {"source_labels": ["__address__"], "regex": "(.+):\\d+", "replacement": "$1:7777",
         "target_label": "__address__"},
        {"source_labels": ["zone"], "regex": "eu-.*", "action": "keep"},
        {"source_labels": ["zone"], "regex": "test", "action": "drop"},
        {"regex": "__meta_dns_(.+)", "action": "labelmap"},
        {"regex": "tmp_.*", "action": "labeldrop"},
        {"source_labels": ["a"], "target_label": "shard", "modulus": 4, "action": "hashmod"},
        {"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "action": "replace"},
    ]
    assert validate(rules, "config.toml: errors.services.api") == []


def test_an_unknown_action_is_a_problem():
    assert validate([{"action": "rewrite"}], "svc") == [
        "svc: relabel_configs[0].action: unknown action 'rewrite' (known: replace, keep, drop, "
        "labelmap, labeldrop, labelkeep, hashmod, lowercase, uppercase, keepequal, dropequal)"
    ]


def test_an_invalid_regex_is_a_problem():
    [problem] = validate([{"regex": "(unclosed", "action": "keep"}], "svc")
    assert problem.startswith("svc: relabel_configs[0].regex: invalid regular expression '(unclosed'")


def test_an_unknown_key_is_a_problem():
    [problem] = validate([{"source_labels": ["a"], "action": "keep", "regexp": "x"}], "svc")
    assert problem.startswith("svc: relabel_configs[0].regexp: unknown field")


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({"source_labels": ["a"]}, "relabel_configs[0].target_label: required for action 'replace'"),
        ({"source_labels": ["a"], "target_label": "-x"}, "target_label: '-x' is not a valid label name"),
        ({"source_labels": "a", "action": "keep"}, "source_labels: expected a list of label names"),
        ({"source_labels": ["a-b"], "action": "keep"}, "source_labels: 'a-b' is not a valid label name"),
        ({"source_labels": ["a"], "target_label": "b", "action": "hashmod"}, "modulus: required"),
        ({"target_label": "b", "modulus": 0, "action": "hashmod"}, "modulus: expected a positive"),
        ({"regex": "a", "source_labels": ["a"], "action": "labeldrop"}, "source_labels: not allowed"),
        ({"regex": "(.*)", "replacement": "-$1", "action": "labelmap"}, "replacement: '-$1' is not"),
        ({"regex": 3, "action": "keep"}, "relabel_configs[0].regex: expected a string"),
        ("keep", "relabel_configs[0]: expected a table of rule fields"),
    ],
)
def test_invalid_rules_name_the_field(rule, expected):
    problems = validate([rule], "svc")
    assert len(problems) == 1 and expected in problems[0], problems


def test_default_values_are_allowed_with_label_actions():
    assert validate([{"regex": "b.*", "separator": ";", "action": "labeldrop"}], "svc") == []


def test_rules_must_be_a_list():
    assert validate({"action": "keep"}, "svc") == ["svc: relabel_configs: expected a list of rules"]


def test_every_rule_is_checked():
    problems = validate([{"action": "keep"}, {"action": "nope"}, {"oops": 1}], "svc")
    assert [p.split(":")[1].strip() for p in problems] == [
        "relabel_configs[1].action",
        "relabel_configs[2].oops",
    ]


# --- one table, every action, RE2 as Prometheus uses it -----------------------------
# Cases written for this service after reading what Prometheus's model/relabel tests
# cover: each action, both outcomes of the filters, groups in target and replacement,
# values spanning lines, and the syntax only RE2 (Go's regexp) reads the Prometheus way.

HOST = {"__address__": "h:9", "__scheme__": "http", "__metrics_path__": "/errors", "team": "Web"}
DROPPED = None


@pytest.mark.parametrize(
    "labels, rule, expected",
    [
        # keep / drop: the whole joined value, anchored
        (HOST, {"source_labels": ["team"], "regex": "W.b", "action": "keep"}, HOST),
        (HOST, {"source_labels": ["team"], "regex": "W", "action": "keep"}, DROPPED),
        (HOST, {"source_labels": ["team", "__address__"], "regex": "Web;h:9", "action": "drop"}, DROPPED),
        (HOST, {"source_labels": ["missing"], "regex": "", "action": "drop"}, DROPPED),
        (HOST, {"source_labels": ["team"], "regex": "W|b", "action": "drop"}, HOST),
        # replace: groups in the replacement and in the target label's name
        (HOST, {"source_labels": ["__address__"], "regex": "(.+):(\\d+)", "target_label": "port_$2",
                "replacement": "$1"}, {**HOST, "port_9": "h"}),
        (HOST, {"source_labels": ["nothing"], "target_label": "team"},
         {k: v for k, v in HOST.items() if k != "team"}),
        # the labels that build the scrape URL are labels like the others
        (HOST, {"target_label": "__scheme__", "replacement": "https"}, {**HOST, "__scheme__": "https"}),
        (HOST, {"source_labels": ["__metrics_path__"], "regex": "/(.*)", "target_label": "__metrics_path__",
                "replacement": "/v2/$1"}, {**HOST, "__metrics_path__": "/v2/errors"}),
        (HOST, {"source_labels": ["team"], "target_label": "__param_team"}, {**HOST, "__param_team": "Web"}),
        # label-name actions
        ({"__meta_zone": "a", "x": "1"}, {"regex": "__meta_(.+)", "action": "labelmap"},
         {"__meta_zone": "a", "x": "1", "zone": "a"}),
        ({"tmp_a": "1", "tmp_b": "2", "keep": "3"}, {"regex": "tmp_.*", "action": "labeldrop"}, {"keep": "3"}),
        ({"tmp_a": "1", "tmp_b": "2", "keep": "3"}, {"regex": "tmp_.*", "action": "labelkeep"},
         {"tmp_a": "1", "tmp_b": "2"}),
        # hashmod: the low 64 bits of the MD5, big-endian, as Prometheus
        ({"a": "shard-me"}, {"source_labels": ["a"], "target_label": "s", "modulus": 7, "action": "hashmod"},
         {"a": "shard-me", "s": str(int(hashlib.md5(b"shard-me").hexdigest()[16:], 16) % 7)}),
        (HOST, {"source_labels": ["team"], "target_label": "t", "action": "lowercase"}, {**HOST, "t": "web"}),
        (HOST, {"source_labels": ["team"], "target_label": "t", "action": "uppercase"}, {**HOST, "t": "WEB"}),
        ({"a": "1", "b": "1"}, {"source_labels": ["a"], "target_label": "b", "action": "keepequal"},
         {"a": "1", "b": "1"}),
        ({"a": "1", "b": "2"}, {"source_labels": ["a"], "target_label": "b", "action": "keepequal"}, DROPPED),
        ({"a": "1", "b": "1"}, {"source_labels": ["a"], "target_label": "b", "action": "dropequal"}, DROPPED),
        ({"a": "1"}, {"source_labels": ["a"], "target_label": "b", "action": "dropequal"}, {"a": "1"}),
        # RE2's syntax, which Python's `re` reads differently or refuses
        ({"a": "abc"}, {"source_labels": ["a"], "regex": "[[:alpha:]]+", "action": "keep"}, {"a": "abc"}),
        ({"a": "aa"}, {"source_labels": ["a"], "regex": "a{,3}", "action": "keep"}, DROPPED),
        ({"a": "a{,3}"}, {"source_labels": ["a"], "regex": "a{,3}", "action": "keep"}, {"a": "a{,3}"}),
        ({"a": "déjà"}, {"source_labels": ["a"], "regex": "\\pL+", "action": "keep"}, {"a": "déjà"}),
        ({"a": "a.b"}, {"source_labels": ["a"], "regex": "\\Qa.b\\E", "action": "keep"}, {"a": "a.b"}),
        ({"a": "axb"}, {"source_labels": ["a"], "regex": "\\Qa.b\\E", "action": "keep"}, DROPPED),
        ({"a": "ab"}, {"source_labels": ["a"], "regex": "ab\\z", "action": "keep"}, {"a": "ab"}),
        ({"a": "aaa"}, {"source_labels": ["a"], "regex": "(?U)(a+)(a*)", "target_label": "b", "replacement": "$1"},
         {"a": "aaa", "b": "a"}),
        # `.` matches a newline: the regex is wrapped in (?s:...), as Prometheus does
        ({"a": "line1\nline2"}, {"source_labels": ["a"], "regex": "line1.*line2", "target_label": "b",
                                 "replacement": "match"}, {"a": "line1\nline2", "b": "match"}),
    ],
)
def test_each_rule_relabels_as_prometheus(labels, rule, expected):
    assert relabel(labels, [rule]) == expected


@pytest.mark.parametrize("regex", ["(a)\\1", "(?=a)a", "(?P=name)", "a++"])
def test_python_only_syntax_is_refused_as_prometheus_refuses_it(regex):
    [problem] = validate([{"source_labels": ["a"], "regex": regex, "action": "keep"}], "svc")
    assert f"invalid regular expression {regex!r}" in problem
