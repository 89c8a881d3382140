"""
Dependencies between checks (`depends_on`): while a parent fails, a failing child
is reported as "blocked by <parent>" (API answer, text table) and does not alert;
the parent alerts. Checks are heartbeats of a real HTTP server on 127.0.0.1 that
answers 503 when told, run through the API as a monitor would.
"""

import logging
import re

import pytest

from audits.config import reader
from audits.models import AlertState, Check, dependency_cycle
from foundation.config.errors import ConfigError

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = "checks.core.heartbeat"


@pytest.fixture
def chain(upstream):
    """infra/dns <- web/api <- web/home, heartbeats of `upstream`, all passing at first;
    `chain.fail(key)` / `chain.heal(key)` make one's upstream answer 503 / 200."""

    class Chain:
        def __init__(self):
            self.checks = {}
            for key in ("infra/dns", "web/api", "web/home"):
                self.heal(key)
                project, name = key.split("/")
                self.checks[key] = Check.objects.create(
                    project=project, name=name, module=HEARTBEAT, ttl=0,
                    params={"url": upstream.url(f"/{key}")},
                )
            self.checks["web/api"].depends_on.add(self.checks["infra/dns"])
            self.checks["web/home"].depends_on.add(self.checks["web/api"])

        def fail(self, key):
            upstream.route(f"/{key}", status=503, json={"status": "down"})

        def heal(self, key):
            upstream.route(f"/{key}", json={"status": "ok"})

    return Chain()


def alerts(caplog) -> list[str]:
    """The state changes announced (the event's log line, sent with every alert)."""
    return [r.getMessage() for r in caplog.records if r.name == "check.state"]


@pytest.fixture
def events(caplog):
    caplog.set_level(logging.INFO, logger="check.state")
    return caplog


def test_a_failing_child_of_a_failing_parent_is_blocked_and_does_not_alert(client, chain, events):
    chain.fail("infra/dns")
    chain.fail("web/api")

    parent = client.get("/checks/infra/dns")
    child = client.get("/checks/web/api")

    assert parent.status_code == 503 and parent.json()["blocked_by"] is None
    assert child.status_code == 503  # still failing, for the monitors
    assert child.json()["blocked_by"] == "infra/dns"
    assert child.json()["depends_on"] == ["infra/dns"]
    assert alerts(events) == ["infra/dns is failing"]  # the parent alerts, not the child
    assert Check.objects.get(name="api").alert_state != AlertState.FAILING


def test_a_blocked_child_reads_blocked_by_in_the_text_table(client, chain):
    chain.fail("infra/dns")
    chain.fail("web/api")
    client.get("/checks/infra/dns")

    text = client.get("/checks/web/api", HTTP_ACCEPT="text/plain").content.decode()

    assert "Blocked by:\n    infra/dns" in text


def test_parent_and_child_failing_in_one_answer_block_the_child(client, chain, events):
    chain.fail("infra/dns")
    chain.fail("web/api")
    Check.objects.filter(name="dns").update(project="web")  # one project: one batch

    answer = {r["name"]: r for r in client.get("/checks/web").json()}

    assert answer["api"]["blocked_by"] == "web/dns"
    assert answer["dns"]["blocked_by"] is None and answer["home"]["blocked_by"] is None
    assert alerts(events) == ["web/dns is failing"]


def test_a_child_still_failing_after_its_parent_recovered_alerts(client, chain, events):
    chain.fail("infra/dns")
    chain.fail("web/api")
    client.get("/checks/infra/dns")
    client.get("/checks/web/api")  # blocked: no alert

    chain.heal("infra/dns")
    client.get("/checks/infra/dns")
    answer = client.get("/checks/web/api").json()

    assert answer["blocked_by"] is None
    assert alerts(events) == ["infra/dns is failing", "infra/dns recovered", "web/api is failing"]


def test_a_passing_child_is_not_blocked(client, chain):
    chain.fail("infra/dns")
    client.get("/checks/infra/dns")

    answer = client.get("/checks/web/api")

    assert answer.status_code == 200 and answer.json()["blocked_by"] is None


def test_a_disabled_parent_blocks_nothing(client, chain, events):
    chain.fail("infra/dns")
    chain.fail("web/api")
    client.get("/checks/infra/dns")
    Check.objects.filter(name="dns").update(enabled=False)

    assert client.get("/checks/web/api").json()["blocked_by"] is None
    assert alerts(events) == ["infra/dns is failing", "web/api is failing"]


def test_the_blocking_chain_leads_to_the_root_cause(client, chain):
    for key in ("infra/dns", "web/api", "web/home"):
        chain.fail(key)
        project, name = key.split("/")
        client.get(f"/checks/{project}/{name}")
    home = chain.checks["web/home"]

    chains = Check.objects.blocking_chains()

    assert [parent.key for parent in chains[home.pk]] == ["web/api", "infra/dns"]
    assert [parent.key for parent in chains[chain.checks["web/api"].pk]] == ["infra/dns"]
    assert chain.checks["infra/dns"].pk not in chains


def test_blocking_chains_take_two_queries_however_many_checks(django_assert_num_queries):
    parents = Check.objects.bulk_create(
        Check(project="p", name=f"c{i}", module=HEARTBEAT, last_success=False) for i in range(30)
    )
    for parent, child in zip(parents, parents[1:]):
        child.depends_on.add(parent)

    with django_assert_num_queries(2):
        chains = Check.objects.blocking_chains()

    assert len(chains[parents[-1].pk]) == 29


# --- Import, export and the admin ---------------------------------------------------------

CHAIN_TOML = """
[checks.infra.dns]
module = "checks.core.heartbeat"
params.url = "http://127.0.0.1:1/"
depends_on = {dns}

[checks.web.api]
module = "checks.core.heartbeat"
params.url = "http://127.0.0.1:1/"
depends_on = {api}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        reader.parse(text, "config.toml")
    return raised.value.errors


def test_a_cycle_is_refused_at_import_naming_the_file_the_check_and_the_field():
    errors = problems_of(CHAIN_TOML.format(dns='["web/api"]', api='["infra/dns"]'))
    assert errors == [
        "config.toml: checks.infra.dns: depends_on: a cycle: infra/dns → web/api → infra/dns"
    ]


def test_a_check_depending_on_itself_is_refused_at_import():
    errors = problems_of(CHAIN_TOML.format(dns="[]", api='["web/api"]'))
    assert errors == ["config.toml: checks.web.api: depends_on: a check cannot depend on itself"]


def test_an_unknown_check_is_refused_at_import():
    errors = problems_of(CHAIN_TOML.format(dns="[]", api='["infra/dsn"]'))
    assert errors == [
        "config.toml: checks.web.api: depends_on: "
        "unknown check 'infra/dsn' (neither in this file nor stored)"
    ]


def test_a_value_that_is_not_project_slash_name_is_refused():
    errors = problems_of(CHAIN_TOML.format(dns="[]", api='["dns"]'))
    assert errors == [
        "config.toml: checks.web.api: depends_on[0]: "
        "'dns' is not a check's project/name, such as \"infra/dns\""
    ]


def test_a_cycle_through_a_stored_check_is_refused():
    stored = Check.objects.create(project="infra", name="dns", module=HEARTBEAT)
    other = Check.objects.create(project="web", name="api", module=HEARTBEAT)
    stored.depends_on.add(other)
    text = CHAIN_TOML.split("[checks.web.api]")[1]
    errors = problems_of("[checks.web.api]" + text.format(api='["infra/dns"]'))
    assert errors == [
        "config.toml: checks.web.api: depends_on: a cycle: infra/dns → web/api → infra/dns"
    ]


def test_dependencies_are_imported_exported_and_imported_again_unchanged(tmp_path):
    from audits.config import exporter, importer

    text = CHAIN_TOML.format(dns="[]", api='["infra/dns"]')
    importer.apply(importer.plan(reader.parse(text, "config.toml")))
    api = Check.objects.get(project="web", name="api")
    assert api.parent_keys() == ["infra/dns"]

    exported = exporter.export_toml()
    assert 'depends_on = [\n    "infra/dns",\n]' in exported or 'depends_on = ["infra/dns"]' in exported
    again = importer.plan(reader.parse(exported, "exported.toml"))
    assert again.is_empty


def test_a_changed_dependency_is_planned_as_a_change():
    from audits.config import importer

    importer.apply(importer.plan(reader.parse(CHAIN_TOML.format(dns="[]", api="[]"), "c.toml")))
    plan = importer.plan(reader.parse(CHAIN_TOML.format(dns="[]", api='["infra/dns"]'), "c.toml"))
    assert plan.lines() == [("changed", "web/api (depends_on)")]
    importer.apply(plan)
    assert Check.objects.get(name="api").parent_keys() == ["infra/dns"]


def test_the_admin_refuses_a_cycle(admin_client):
    dns = Check.objects.create(project="infra", name="dns", module=HEARTBEAT,
                               params={"url": "http://127.0.0.1:1/"})
    api = Check.objects.create(project="web", name="api", module=HEARTBEAT,
                               params={"url": "http://127.0.0.1:1/"})
    api.depends_on.add(dns)
    url = f"/admin/audits/check/{dns.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None and k not in ("tags", "depends_on")},
        "params": '{"url": "http://127.0.0.1:1/"}', "params_form": "",
        "depends_on": [str(api.pk)], "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0",
    }

    response = admin_client.post(url, data)

    assert response.status_code == 200  # the form again, with the error
    assert "A cycle: infra/dns → web/api → infra/dns." in response.content.decode()
    assert dns.parent_keys() == []


def test_dependency_cycle_finds_a_self_loop_and_nothing_in_a_tree():
    assert dependency_cycle({"a": ["a"]}) == ["a", "a"]
    assert dependency_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None
    assert dependency_cycle({"a": ["b"], "b": ["c"], "c": ["b"]}) == ["b", "c", "b"]


# --- The dashboard ---------------------------------------------------------------------------


@pytest.fixture
def all_failing(client, chain):
    """The whole chain failing, run through the API: dns, then api, then home."""
    for key in ("infra/dns", "web/api", "web/home"):
        chain.fail(key)
        client.get(f"/checks/{key}")
    return chain


def test_the_overview_shows_blocked_checks_with_their_chain(admin_client, all_failing):
    page = admin_client.get("/dashboard/").content.decode()

    home = re.search(r'<li class="check" data-check="web/home" data-state="(\w+)">(.*?)</li>', page)
    assert home.group(1) == "blocked"
    assert '<span class="chain">by web/api → infra/dns</span>' in home.group(2)
    assert re.search(r'data-check="infra/dns" data-state="failing"', page)
    assert "The system has 1 failing check" in page  # the root cause, not its consequences
    assert '<span class="count-blocked" data-count="blocked">2</span> blocked' in page


def test_the_check_page_shows_what_it_depends_on_and_what_blocks_it(admin_client, all_failing):
    page = admin_client.get("/dashboard/checks/web/home/").content.decode()

    assert '<span class="st">blocked</span> web / home <span class="chain">by web/api → infra/dns</span>' in page
    assert re.search(r'Blocked: its failure follows from <a href="[^"]+">web/api</a>, '
                     r'itself blocked by <a href="[^"]+">infra/dns</a>', page)
    api = admin_client.get("/dashboard/checks/web/api/").content.decode()
    assert re.search(r'Depends on</h3><ul class="depends-on"><li><a href="[^"]+">infra/dns</a>', api)
    assert re.search(r'Needed by</h3><ul class="dependents"><li><a href="[^"]+">web/home</a>', api)


def test_the_status_feed_says_blocked_and_by_what(admin_client, all_failing):
    checks = admin_client.get("/dashboard/status.json").json()["checks"]

    assert checks["web/home"]["state"] == "blocked"
    assert checks["web/home"]["blocked_by"] == ["web/api", "infra/dns"]
    assert checks["infra/dns"] == {**checks["infra/dns"], "state": "failing", "blocked_by": []}


def test_blocked_checks_are_a_status_filter(admin_client, all_failing):
    page = admin_client.get("/dashboard/?status=blocked").content.decode()

    shown = re.findall(r'<li class="check" data-check="([^"]+)"', page)
    assert shown == ["web/api", "web/home"]
