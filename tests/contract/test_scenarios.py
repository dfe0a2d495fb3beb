"""Scenario files played end to end: a tiny agent (a webhook receiver that answers through
the SDK) on the session's server, the example scenario run against it, on the manual clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openlinq.scenarios import ScenarioError, ScenarioReport, load_scenario, run_scenario
from tests.support.agent import booking_agent, running_agent
from tests.support.tenant import Tenant

ONE = "name: x\npersonas: {a: {handle: '+14155559875'}}\n"
TWO = "name: x\npersonas: {a: {handle: '+14155559875'}, b: {handle: '+14155559876'}}\n"
EXAMPLE = Path(__file__).parents[2] / "examples" / "scenarios" / "booking.yaml"


def _run(tenant: Tenant, scenario: str | Path) -> ScenarioReport:
    return run_scenario(scenario, base_url=tenant.client.base_url.__str__(), api_key=tenant.api_key)


def test_the_example_scenario_passes_against_a_good_agent(tenant: Tenant) -> None:
    with running_agent(tenant, booking_agent):
        report = _run(tenant, EXAMPLE)
    assert report.passed, report.to_text()
    assert [r.passed for r in report.results] == [True] * 6
    transcript = [(line.sender, line.text) for line in report.transcripts["alice"]]
    assert transcript == [
        ("alice", "Hi, can I book a table for tonight?"),
        ("agent", "Hi! How many people?"),
        ("alice", "Two of us"),
        ("agent", "Booked: a table for two at 7pm."),
        ("alice", "Thanks!"),
        ("agent", "You're welcome, see you at 7!"),
        ("alice", "STOP"),
    ]
    assert report.to_text().splitlines()[0].startswith("Scenario 'Books a table")
    data = json.loads(json.dumps(report.to_json()))
    assert (data["passed"], data["clock"], len(data["expectations"])) == (True, "manual", 6)


def test_a_silent_agent_fails_with_a_report_per_expectation(tenant: Tenant) -> None:
    with running_agent(tenant, lambda _: (None, False)):
        report = _run(tenant, EXAMPLE)
    assert not report.passed
    by_kind = {(r.kind, r.passed) for r in report.results}
    assert ("reply_within", False) in by_kind
    assert ("turns", False) in by_kind
    text = report.to_text()
    assert "FAIL  alice gets a reply within 5 s to each message — no reply to" in text
    assert "Transcript with alice:" in text
    assert "Hi, can I book a table for tonight?" in text


def test_a_slow_agent_fails_reply_within(tenant: Tenant) -> None:
    scenario = """
name: slow
duration: 20
personas:
  bob:
    handle: "+14155559872"
    says: [{text: "hello"}, {at: 10, text: "hello?"}]
expect:
  - reply_within: 5
  - reply_matches: "^pong$"
  - turns: {min: 1, max: 1}
"""
    with running_agent(tenant, lambda text: ("pong", False) if text == "hello?" else (None, False)):
        report = _run(tenant, scenario)
    results = {r.kind: (r.passed, r.detail) for r in report.results}
    assert results["reply_within"] == (False, "'hello' was answered after 10 s")
    assert results["reply_matches"][0] is True
    assert results["turns"] == (True, "1 replies")


def test_an_agent_writing_after_stop_fails(tenant: Tenant) -> None:
    scenario = """
name: stop
duration: 10
personas:
  carol:
    handle: "+14155559873"
    device: {opt_out_after: 1}
    says: ["hi"]
expect:
  - no_message_after_stop: true
  - reaction: any
"""
    # An agent that ignores the opt-out: the server refuses its send, so the person never
    # sees it; the expectation passes on what reached the phone, and no reaction came.
    with running_agent(tenant, lambda text: ("bye!", False) if text == "STOP" else ("hey", False)):
        report = _run(tenant, scenario)
    results = {r.kind: (r.passed, r.detail) for r in report.results}
    assert results["no_message_after_stop"] == (True, "")
    assert results["reaction"] == (False, "the agent never reacted")


def test_device_settings_the_server_refuses_stop_the_run(tenant: Tenant) -> None:
    scenario = """
name: bad device
personas:
  dan:
    handle: "+14155559874"
    device: {rules: [{match: "(", reply: "x"}]}
expect: [{turns: 0}]
"""
    with pytest.raises(ScenarioError, match=r"PUT /sim/v1/devices/\+14155559874: 400 .*regex"):
        _run(tenant, scenario)


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        (
            ONE + "expect: [{turns: 1, reaction: love}]",
            "exactly one",
        ),
        (ONE + "expect: [{turnz: 1}]", "turnz"),
        (
            TWO + "expect: [{turns: 1}]",
            "name its persona",
        ),
        (
            ONE + "expect: [{persona: z, turns: 1}]",
            "unknown persona",
        ),
        (
            ONE + "expect: [{reply_matches: '('}]",
            "not a valid regex",
        ),
        (
            ONE + "expect: [{turn: 2, turns: 1}]",
            "turn goes with",
        ),
        ("name: [unclosed", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
    ],
)
def test_a_bad_scenario_is_refused_with_a_clear_message(text: str, mentions: str) -> None:
    with pytest.raises(ScenarioError, match=mentions):
        load_scenario(text)


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")
