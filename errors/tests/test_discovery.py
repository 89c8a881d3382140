"""
Service discovery: static, file_sd (JSON, YAML, globs, changes), dns_sd against a real
DNS server on 127.0.0.1, relabelling of what is found, and config validation.
"""

import json
import os
import socket
import threading
import time

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from errors import discovery
from errors.discovery import DiscoveredTarget, validate


def discover(config: dict, **options) -> tuple[list[DiscoveredTarget], list[str]]:
    """(targets, errors) of a discovery, what most tests look at."""
    found = discovery.discover(config, **options)
    return found.targets, found.errors


def addresses(targets: list[DiscoveredTarget]) -> list[str]:
    return [target.address for target in targets]


def found(targets: list[DiscoveredTarget]) -> list[tuple[str, dict]]:
    """(address, labels) of each target, the labels without those every target has."""
    return [(t.address, {k: v for k, v in t.labels.items() if k != "instance"}) for t in targets]


def write_json(path, groups) -> None:
    path.write_text(json.dumps(groups))


# --- a real DNS server ---------------------------------------------------------------


class LocalDNS:
    """
    A UDP DNS server on 127.0.0.1 answering fixed records, e.g.
    {("api.test", "A"): ["10.0.0.1"]}. Other types of a known name get an empty
    answer (NOERROR), unknown names NXDOMAIN.
    """

    def __init__(self, records: dict[tuple[str, str], list[str]]):
        self.records = {
            (dns.name.from_text(name), dns.rdatatype.from_text(rdtype)): values
            for (name, rdtype), values in records.items()
        }
        self.names = {name for name, _ in self.records}
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def start(self) -> "LocalDNS":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.sock.sendto(self._answer(dns.message.from_wire(wire)).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        self.queries.append(question.name.to_text())
        values = self.records.get((question.name, question.rdtype))
        if values:
            rrset = dns.rrset.from_text_list(question.name, 60, "IN", question.rdtype, values)
            response.answer.append(rrset)
        elif question.name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


RECORDS = {
    ("api.test", "A"): ["10.0.0.2", "10.0.0.1"],
    ("api.test", "AAAA"): ["2001:db8::1", "::1"],
    ("_periskop._tcp.api.test", "SRV"): [
        "0 0 7777 host-b.api.test.",
        "0 0 7778 host-a.api.test.",
        "0 0 7779 .",  # "not available here" (RFC 2782)
    ],
    ("empty.test", "TXT"): ['"exists, but has no A record"'],
    ("short.svc.test", "A"): ["10.0.1.1"],
}


@pytest.fixture
def dns_server():
    server = LocalDNS(RECORDS).start()
    yield server
    server.stop()


@pytest.fixture
def resolver(dns_server):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns_server.port
    resolver.lifetime = 2.0
    resolver.domain = dns.name.root  # no search suffix from this machine's hostname
    return resolver


# --- static_configs ------------------------------------------------------------------


def test_static_targets_carry_their_group_labels():
    config = {
        "static_configs": [
            {"targets": ["10.0.0.1:7777", "10.0.0.2:7777"], "labels": {"zone": "a", "env": "prod"}},
            {"targets": ["10.0.0.3:7777"]},
        ]
    }
    targets, errors = discover(config)
    assert errors == []
    assert found(targets) == [
        ("10.0.0.1:7777", {"env": "prod", "zone": "a"}),
        ("10.0.0.2:7777", {"env": "prod", "zone": "a"}),
        ("10.0.0.3:7777", {}),
    ]


def test_labels_are_sorted_by_name():
    config = {"static_configs": [{"targets": ["h:1"], "labels": {"z": "1", "a": "2", "m": "3"}}]}
    [target], _ = discover(config)
    assert list(target.labels) == ["a", "instance", "m", "z"]


def test_targets_are_deduplicated_by_address_the_first_winning():
    config = {
        "static_configs": [
            {"targets": ["h:1", "h:2"], "labels": {"group": "first"}},
            {"targets": ["h:1"], "labels": {"group": "second"}},
        ]
    }
    targets, _ = discover(config)
    assert [(t.address, t.labels["group"]) for t in targets] == [("h:1", "first"), ("h:2", "first")]


def test_no_source_means_no_target():
    assert discover({}) == ([], [])


# --- file_sd_configs ------------------------------------------------------------------


def test_file_sd_reads_json_targets_with_their_labels(tmp_path):
    write_json(tmp_path / "api.json", [{"targets": ["10.0.0.1:7777"], "labels": {"zone": "a"}}])
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert errors == []
    assert found(targets) == [("10.0.0.1:7777", {"zone": "a"})]


def test_file_sd_reads_yaml_targets(tmp_path):
    (tmp_path / "api.yml").write_text(
        "- targets: ['10.0.0.1:7777', '10.0.0.2:7777']\n  labels:\n    zone: b\n"
        "- targets: ['10.0.0.3:7777']\n"
    )
    (tmp_path / "more.yaml").write_text("- targets: ['10.0.0.4:7777']\n")
    config = {"file_sd_configs": [{"files": ["api.yml", "more.yaml"], "refresh_interval": "30s"}]}
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert errors == []
    assert found(targets) == [
        ("10.0.0.1:7777", {"zone": "b"}),
        ("10.0.0.2:7777", {"zone": "b"}),
        ("10.0.0.3:7777", {}),
        ("10.0.0.4:7777", {}),
    ]


def test_file_sd_targets_know_their_file_path(tmp_path):
    write_json(tmp_path / "api.json", [{"targets": ["h:1"]}])
    config = {
        "file_sd_configs": [{"files": [str(tmp_path / "api.json")]}],  # absolute: base_dir unused
        "relabel_configs": [{"source_labels": ["__meta_filepath"], "target_label": "file"}],
    }
    [target], _ = discover(config, base_dir="/nonexistent")
    assert found([target]) == [("h:1", {"file": str(tmp_path / "api.json")})]


def test_file_changes_are_seen_on_the_next_call(tmp_path):
    path = tmp_path / "api.json"
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    write_json(path, [{"targets": ["10.0.0.1:7777", "10.0.0.2:7777"]}])
    assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.1:7777", "10.0.0.2:7777"]

    write_json(path, [{"targets": ["10.0.0.2:7777", "10.0.0.3:7777"]}])
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert errors == []
    assert addresses(targets) == ["10.0.0.2:7777", "10.0.0.3:7777"]


def test_a_recent_rewrite_keeping_size_and_mtime_is_still_seen(tmp_path):
    path = tmp_path / "api.json"
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    now = time.time_ns()
    write_json(path, [{"targets": ["10.0.0.1:7777"]}])
    os.utime(path, ns=(now, now))
    assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.1:7777"]

    # Same size, same mtime (a coarse clock tick): only the content tells the change.
    write_json(path, [{"targets": ["10.0.0.2:7777"]}])
    os.utime(path, ns=(now, now))
    assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.2:7777"]


def test_a_rewritten_old_file_is_read_again(tmp_path):
    path = tmp_path / "api.json"
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    write_json(path, [{"targets": ["10.0.0.1:7777"]}])
    os.utime(path, (time.time() - 3600, time.time() - 3600))  # old enough to be cached
    assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.1:7777"]

    write_json(path, [{"targets": ["10.0.0.9:7777"]}])
    os.utime(path, (time.time() - 1800, time.time() - 1800))
    assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.9:7777"]


def test_an_unchanged_file_is_not_parsed_again(tmp_path, monkeypatch):
    path = tmp_path / "api.json"
    write_json(path, [{"targets": ["10.0.0.1:7777"]}])
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    parsed = []
    real_parse = discovery._parse_file
    monkeypatch.setattr(discovery, "_parse_file", lambda p: parsed.append(p) or real_parse(p))
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    for _ in range(3):
        assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.1:7777"]
    assert parsed == [str(path)]


def test_a_deleted_file_takes_its_targets_away(tmp_path):
    path = tmp_path / "api.json"
    write_json(path, [{"targets": ["10.0.0.1:7777"]}])
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    assert addresses(discover(config, base_dir=str(tmp_path))[0]) == ["10.0.0.1:7777"]
    path.unlink()
    assert discover(config, base_dir=str(tmp_path)) == ([], [])


def test_a_glob_matches_every_file_relative_to_base_dir(tmp_path):
    (tmp_path / "sd").mkdir()
    write_json(tmp_path / "sd" / "b.json", [{"targets": ["10.0.0.2:7777"]}])
    write_json(tmp_path / "sd" / "a.json", [{"targets": ["10.0.0.1:7777"]}])
    write_json(tmp_path / "sd" / "other.txt", [{"targets": ["10.0.0.9:7777"]}])
    config = {"file_sd_configs": [{"files": ["sd/*.json"]}]}
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert errors == []
    assert addresses(targets) == ["10.0.0.1:7777", "10.0.0.2:7777"]

    write_json(tmp_path / "sd" / "c.json", [{"targets": ["10.0.0.3:7777"]}])
    assert len(discover(config, base_dir=str(tmp_path))[0]) == 3


def test_base_dir_is_not_a_pattern(tmp_path):
    base = tmp_path / "conf[prod]"
    base.mkdir()
    write_json(base / "api.json", [{"targets": ["10.0.0.1:7777"]}])
    config = {"file_sd_configs": [{"files": ["*.json"]}]}
    assert addresses(discover(config, base_dir=str(base))[0]) == ["10.0.0.1:7777"]


def test_a_missing_file_gives_no_target_and_no_error(tmp_path):
    config = {
        "static_configs": [{"targets": ["10.0.0.1:7777"]}],
        "file_sd_configs": [{"files": ["missing.json", "missing/*.yml"]}],
    }
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert (addresses(targets), errors) == (["10.0.0.1:7777"], [])


def test_an_empty_yaml_file_has_no_target(tmp_path):
    (tmp_path / "api.yml").write_text("")
    config = {"file_sd_configs": [{"files": ["api.yml"]}]}
    assert discover(config, base_dir=str(tmp_path)) == ([], [])


def test_an_invalid_file_is_reported_and_the_other_sources_still_count(tmp_path):
    (tmp_path / "broken.json").write_text('[{"targets": ["10.0.0.1:7777"]')
    write_json(tmp_path / "good.json", [{"targets": ["10.0.0.2:7777"]}])
    config = {
        "static_configs": [{"targets": ["10.0.0.3:7777"]}],
        "file_sd_configs": [{"files": ["broken.json", "good.json"]}],
    }
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert addresses(targets) == ["10.0.0.3:7777", "10.0.0.2:7777"]
    [error] = errors
    assert error.startswith(f"file_sd_configs[0]: {tmp_path / 'broken.json'}: invalid JSON: ")


def test_an_invalid_yaml_file_is_reported_with_its_path(tmp_path):
    (tmp_path / "api.yml").write_text("- targets: [unclosed\n")
    config = {"file_sd_configs": [{"files": ["api.yml"]}]}
    targets, [error] = discover(config, base_dir=str(tmp_path))
    assert targets == []
    assert error.startswith(f"file_sd_configs[0]: {tmp_path / 'api.yml'}: invalid YAML: ")


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"targets": ["h:1"]}', 'expected a list of groups like [{"targets": [...], "labels": {...}}]'),
        ('[{"targets": "h:1"}]', "[0].targets: expected a list of host:port strings"),
        ('[{"targets": ["http://h:1/"]}]', "[0].targets[0]: 'http://h:1/' is not a valid host:port"),
        ('[{"targets": ["h:1"], "labels": {"port": 1}}]', "[0].labels.port: expected a string"),
        ('[{"targets": ["h:1"], "labels": {"a-b": "x"}}]', "[0].labels: 'a-b' is not a valid label"),
    ],
)
def test_a_file_of_the_wrong_shape_is_reported(tmp_path, content, problem):
    (tmp_path / "api.json").write_text(content)
    targets, [error] = discover({"file_sd_configs": [{"files": ["api.json"]}]}, base_dir=str(tmp_path))
    assert targets == []
    assert error.startswith(f"file_sd_configs[0]: {tmp_path / 'api.json'}: {problem}"), error


def test_unknown_keys_are_ignored_in_json_files_but_not_in_yaml_as_prometheus(tmp_path):
    write_json(tmp_path / "api.json", [{"targets": ["h:1"], "comment": "from a generator"}])
    (tmp_path / "api.yml").write_text("- targets: ['h:2']\n  label: {zone: a}\n")
    config = {"file_sd_configs": [{"files": ["api.json", "api.yml"]}]}
    targets, [error] = discover(config, base_dir=str(tmp_path))
    assert addresses(targets) == ["h:1"]
    assert "api.yml: [0].label: unknown field" in error


def test_a_fixed_file_is_read_again(tmp_path):
    path = tmp_path / "api.json"
    path.write_text("not json")
    config = {"file_sd_configs": [{"files": ["api.json"]}]}
    assert discover(config, base_dir=str(tmp_path))[1] != []
    write_json(path, [{"targets": ["h:1"]}])
    targets, errors = discover(config, base_dir=str(tmp_path))
    assert (found(targets), errors) == ([("h:1", {})], [])


# --- dns_sd_configs ---------------------------------------------------------------------


def test_dns_a_records_give_addresses_with_the_configured_port(resolver):
    config = {"dns_sd_configs": [{"names": ["api.test"], "type": "A", "port": 7777}]}
    targets, errors = discover(config, resolver=resolver)
    assert errors == []
    assert addresses(targets) == ["10.0.0.1:7777", "10.0.0.2:7777"]


def test_dns_aaaa_records_give_bracketed_addresses(resolver):
    config = {"dns_sd_configs": [{"names": ["api.test"], "type": "AAAA", "port": 7777}]}
    targets, errors = discover(config, resolver=resolver)
    assert errors == []
    assert addresses(targets) == ["[2001:db8::1]:7777", "[::1]:7777"]


def test_dns_srv_records_give_hosts_and_ports(resolver):
    config = {
        "dns_sd_configs": [{"names": ["_periskop._tcp.api.test"]}],  # SRV by default
        "relabel_configs": [{"regex": "__meta_dns_(.+)", "action": "labelmap"}],
    }
    targets, errors = discover(config, resolver=resolver)
    assert errors == []
    assert found(targets) == [
        ("host-a.api.test:7778",
            {"name": "_periskop._tcp.api.test", "srv_record_port": "7778",
             "srv_record_target": "host-a.api.test."},
        ),
        ("host-b.api.test:7777",
            {"name": "_periskop._tcp.api.test", "srv_record_port": "7777",
             "srv_record_target": "host-b.api.test."},
        ),
    ]


def test_dns_meta_labels_are_not_kept_without_relabelling(resolver):
    config = {"dns_sd_configs": [{"names": ["api.test"], "type": "a", "port": 7777}]}
    targets, _ = discover(config, resolver=resolver)
    assert [labels for _, labels in found(targets)] == [{}, {}]


def test_a_name_that_does_not_exist_is_an_error_and_other_sources_still_count(resolver):
    config = {
        "static_configs": [{"targets": ["10.0.0.9:7777"]}],
        "dns_sd_configs": [{"names": ["missing.test", "api.test"], "type": "A", "port": 7777}],
    }
    targets, errors = discover(config, resolver=resolver)
    assert addresses(targets) == ["10.0.0.9:7777", "10.0.0.1:7777", "10.0.0.2:7777"]
    assert errors == ["dns_sd_configs[0]: missing.test (A): no such DNS name (NXDOMAIN)"]


def test_a_name_without_records_of_the_type_has_no_instance(resolver):
    config = {"dns_sd_configs": [{"names": ["empty.test"], "type": "A", "port": 7777}]}
    assert discover(config, resolver=resolver) == ([], [])


def test_dns_names_use_the_resolver_search_domains(resolver):
    resolver.search = [dns.name.from_text("svc.test.")]
    config = {"dns_sd_configs": [{"names": ["short"], "type": "A", "port": 7777}]}
    targets, errors = discover(config, resolver=resolver)
    assert (addresses(targets), errors) == (["10.0.1.1:7777"], [])


def test_an_unreachable_dns_server_is_an_error_naming_the_name():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed below: nothing answers there
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], port, 0.5
    config = {"dns_sd_configs": [{"names": ["api.test"], "type": "A", "port": 7777}]}
    targets, [error] = discover(config, resolver=resolver)
    assert targets == []
    assert error.startswith("dns_sd_configs[0]: api.test (A): DNS lookup failed: ")


# --- relabelling what was found -----------------------------------------------------------


def test_relabel_rules_keep_drop_and_rewrite_the_address(resolver, tmp_path):
    write_json(tmp_path / "api.json", [{"targets": ["10.0.0.5:8080"], "labels": {"zone": "b"}}])
    config = {
        "static_configs": [
            {"targets": ["10.0.0.3:8080"], "labels": {"zone": "a"}},
            {"targets": ["10.0.0.4:8080"], "labels": {"zone": "a", "canary": "yes"}},
        ],
        "file_sd_configs": [{"files": ["api.json"]}],
        "dns_sd_configs": [{"names": ["api.test"], "type": "A", "port": 8080}],
        "relabel_configs": [
            {"source_labels": ["canary"], "regex": "yes", "action": "drop"},
            {"source_labels": ["__address__"], "regex": "10\\.0\\.0\\.2:.*", "action": "drop"},
            {"source_labels": ["__address__"], "regex": "(.+):8080", "replacement": "$1:7777",
             "target_label": "__address__"},
            {"source_labels": ["__meta_dns_name"], "regex": "(.+)", "target_label": "zone",
             "replacement": "dns"},
        ],
    }
    targets, errors = discover(config, base_dir=str(tmp_path), resolver=resolver)
    assert errors == []
    assert found(targets) == [
        ("10.0.0.3:7777", {"zone": "a"}),
        ("10.0.0.5:7777", {"zone": "b"}),
        ("10.0.0.1:7777", {"zone": "dns"}),
    ]


def test_keep_rule_selects_targets_by_label():
    config = {
        "static_configs": [
            {"targets": ["h:1"], "labels": {"env": "prod"}},
            {"targets": ["h:2"], "labels": {"env": "test"}},
        ],
        "relabel_configs": [{"source_labels": ["env"], "regex": "prod", "action": "keep"}],
    }
    assert addresses(discover(config)[0]) == ["h:1"]


def test_addresses_equal_after_relabelling_are_deduplicated():
    config = {
        "static_configs": [{"targets": ["h:1", "h:2"]}],
        "relabel_configs": [{"source_labels": ["__address__"], "regex": "(.+):\\d+",
                             "replacement": "$1:9", "target_label": "__address__"}],
    }
    assert addresses(discover(config)[0]) == ["h:9"]


def test_a_target_left_without_a_valid_address_is_skipped_and_reported():
    config = {
        "static_configs": [{"targets": ["h:1", "h:2"]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "regex": "h:1", "target_label": "__address__",
             "replacement": "http://h:1/metrics"},
        ],
    }
    targets, [error] = discover(config)
    assert addresses(targets) == ["h:2"]
    assert error.startswith("relabel_configs: 1 target(s) skipped")
    assert "'http://h:1/metrics'" in error


# --- validation -------------------------------------------------------------------------

WHERE = "config.toml: errors.services.api"


def test_a_valid_config_has_no_problem():
    config = {
        "static_configs": [{"targets": ["h:1"], "labels": {"zone": "a"}}],
        "file_sd_configs": [{"files": ["sd/*.json", "api.yml"], "refresh_interval": "5m"}],
        "dns_sd_configs": [
            {"names": ["_p._tcp.api.test"]},
            {"names": ["api.test"], "type": "AAAA", "port": 7777, "refresh_interval": "30s"},
        ],
        "relabel_configs": [{"source_labels": ["zone"], "regex": "a", "action": "keep"}],
        "scraper": {"endpoint": "/errors"},  # the caller's business
    }
    assert validate(config, WHERE) == []


@pytest.mark.parametrize(
    "config, problem",
    [
        ({"file_sd_configs": [{"files": "a.json"}]},
         "file_sd_configs[0].files: expected a list of paths"),
        ({"file_sd_configs": [{"files": ["targets.txt"]}]},
         "file_sd_configs[0].files[0]: 'targets.txt' must end in .json, .yml or .yaml"),
        ({"file_sd_configs": [{"files": ["a.json"], "refresh_interval": "30x"}]},
         "file_sd_configs[0].refresh_interval: '30x' is not a duration"),
        ({"static_configs": [{"targets": ["h:1"], "label": {"a": "b"}}]},
         "static_configs[0].label: unknown field (known: targets, labels)"),
        ({"static_configs": [{"targets": ["http://h:1"]}]},
         "static_configs[0].targets[0]: 'http://h:1' is not a valid host:port"),
        ({"static_configs": [{"targets": ["h:1"], "labels": {"n": 1}}]},
         "static_configs[0].labels.n: expected a string"),
        ({"static_configs": {"targets": ["h:1"]}}, "static_configs: expected a list of tables"),
        ({"dns_sd_configs": [{"names": ["api.test"], "type": "A"}]},
         "dns_sd_configs[0].port: required for type A"),
        ({"dns_sd_configs": [{"names": ["api.test"], "type": "MX", "port": 25}]},
         "dns_sd_configs[0].type: expected one of SRV, A, AAAA"),
        ({"dns_sd_configs": [{"names": "api.test"}]}, "dns_sd_configs[0].names: expected a list"),
        ({"dns_sd_configs": [{"names": ["a"], "type": "A", "port": 70000}]},
         "dns_sd_configs[0].port: 70000 is not a port number"),
        ({"dns_sd_configs": [{"names": ["a"], "server": "8.8.8.8"}]},
         "dns_sd_configs[0].server: unknown field"),
        ({"consul_sd_configs": [{"server": "consul:8500"}]},
         "consul_sd_configs: not supported (supported: static_configs, file_sd_configs, dns_sd_configs)"),
        ({"relabel_configs": [{"action": "rewrite"}]}, "relabel_configs[0].action: unknown action"),
    ],
)
def test_invalid_configs_name_the_field(config, problem):
    problems = validate(config, WHERE)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{WHERE}: {problem}"), problems[0]


def test_a_config_that_is_not_a_table_is_a_problem():
    assert validate(["h:1"], WHERE) == [f"{WHERE}: expected a table of discovery settings"]


def test_discover_refuses_an_invalid_config():
    targets, errors = discover({"static_configs": [{"targets": ["h:1"]}], "relabel_configs": [{"regex": "("}]})
    assert targets == []
    assert errors[0].startswith("discovery config: relabel_configs[0].regex: invalid regular expression")


# --- as Prometheus: labels before and after relabelling, the scrape URL ---------------

API = discovery.ScrapeDefaults(job="api", scheme="http", metrics_path="/errors", interval=90, timeout=10)


def one(config: dict) -> DiscoveredTarget:
    [target] = discovery.discover(config, defaults=API).targets
    return target


def test_targets_have_prometheus_labels_before_relabelling():
    target = one({"static_configs": [{"targets": ["h:1"], "labels": {"zone": "a"}}]})
    assert target.discovered_labels == {
        "__address__": "h:1", "__metrics_path__": "/errors", "__scheme__": "http",
        "__scrape_interval__": "1m30s", "__scrape_timeout__": "10s", "job": "api", "zone": "a",
    }
    assert target.labels == {"instance": "h:1", "job": "api", "zone": "a"}


def test_rules_read_the_labels_prometheus_sets_before_relabelling():
    rules = [
        {"source_labels": ["job", "__scrape_interval__"], "separator": "/", "target_label": "from"},
        {"source_labels": ["__scheme__"], "regex": "http", "action": "keep"},
    ]
    target = one({"static_configs": [{"targets": ["h:1"]}], "relabel_configs": rules})
    assert target.labels["from"] == "api/1m30s"


def test_a_group_sets_the_scrape_labels_over_the_service_defaults():
    labels = {"__scheme__": "https", "__metrics_path__": "/-/errors", "job": "other"}
    target = one({"static_configs": [{"targets": ["h:1"], "labels": labels}]})
    assert (target.url, target.labels["job"]) == ("https://h:1/-/errors", "other")


def test_instance_is_the_final_address_unless_a_rule_sets_it():
    rewrite = {"source_labels": ["__address__"], "regex": "(.+):1", "replacement": "$1:2",
               "target_label": "__address__"}
    name = {"target_label": "instance", "replacement": "web-1"}
    static = {"static_configs": [{"targets": ["h:1"]}]}
    assert one({**static, "relabel_configs": [rewrite]}).labels["instance"] == "h:2"
    assert one({**static, "relabel_configs": [rewrite, name]}).labels["instance"] == "web-1"


@pytest.mark.parametrize(
    "group_labels, rules, url",
    [
        ({}, [], "http://h:1/errors"),
        ({}, [{"target_label": "__scheme__", "replacement": "https"}], "https://h:1/errors"),
        ({}, [{"target_label": "__metrics_path__", "replacement": "/v2/errors"}], "http://h:1/v2/errors"),
        ({}, [{"target_label": "__metrics_path__", "replacement": "errors"}], "http://h:1/errors"),
        ({}, [{"target_label": "__metrics_path__", "replacement": "/a b?"}], "http://h:1/a%20b%3F"),
        ({"__param_b": "x y", "__param_a": "é&"}, [], "http://h:1/errors?a=%C3%A9%26&b=x+y"),
        ({}, [{"source_labels": ["job"], "target_label": "__param_service"}], "http://h:1/errors?service=api"),
    ],
)
def test_scheme_metrics_path_and_params_build_the_scrape_url(group_labels, rules, url):
    config = {"static_configs": [{"targets": ["h:1"], "labels": group_labels}], "relabel_configs": rules}
    assert one(config).url == url


@pytest.mark.parametrize(
    "address, scheme, expected",
    [
        ("localhost", "http", "localhost:80"),
        ("localhost", "https", "localhost:443"),
        ("[::1]", "https", "[::1]:443"),
        ("localhost:8080", "https", "localhost:8080"),
    ],
)
def test_an_address_without_port_gets_the_port_of_its_scheme(address, scheme, expected):
    target = one({"static_configs": [{"targets": [address], "labels": {"__scheme__": scheme}}]})
    assert (target.address, target.labels["instance"]) == (expected, expected)
    assert target.url == f"{scheme}://{expected}/errors"


def test_a_scheme_other_than_http_or_https_is_skipped_and_reported():
    config = {"static_configs": [{"targets": ["h:1", "h:2"]}],
              "relabel_configs": [{"source_labels": ["__address__"], "regex": "h:1",
                                   "target_label": "__scheme__", "replacement": "ftp"}]}
    found = discovery.discover(config, defaults=API)
    assert addresses(found.targets) == ["h:2"]
    assert found.errors == [
        "relabel_configs: 1 target(s) skipped after relabelling, e.g. __scheme__ 'ftp' is not http or https"
    ]


def test_dropped_targets_are_kept_with_their_discovered_labels():
    config = {"static_configs": [{"targets": ["h:1", "h:2"], "labels": {"zone": "a"}}],
              "relabel_configs": [{"source_labels": ["__address__"], "regex": "h:2", "action": "drop"}]}
    found = discovery.discover(config, defaults=API)
    assert addresses(found.targets) == ["h:1"]
    assert found.dropped == [{**found.targets[0].discovered_labels, "__address__": "h:2"}]


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0s"), (0.5, "500ms"), (10, "10s"), (90, "1m30s"), (3600, "1h"), (86400 + 1, "1d1s"),
     (14 * 86400, "2w"), (90 * 86400, "90d"), (365 * 86400, "1y")],
)
def test_durations_are_written_as_prometheus_writes_them(seconds, text):
    assert discovery.prometheus_duration(seconds) == text
