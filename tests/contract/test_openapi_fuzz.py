"""Schemathesis over /openapi.json against the real server: no 5xx, no off-schema answer.

Every operation gets ``FUZZ_EXAMPLES`` generated requests, derandomized (the same
inputs every run), with a valid API key, so the run is bounded and repeatable.
The stateful test chains operations along the links schemathesis infers from the
schema (a chat id from ``POST /v3/chats`` into ``GET /v3/chats/{chat_id}`` …), so
requests reach real resources instead of stopping at a 404.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.support.server import RunningServer
from tests.support.tenant import Tenant

FUZZ_EXAMPLES = 25
STATEFUL_SCENARIOS = 30
STATEFUL_STEPS = 12
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
# Schemathesis gives up on an answer after 10 s. On a loaded CI machine a clock advance can
# take that long; the timeout then failed a scenario whose replay (against a server that had
# moved on) drew differently, which Hypothesis reports as FlakyStrategyDefinition. These
# tests check answers, not speed: wait as long as the tenant's own clients do.
REQUEST_TIMEOUT = 120

# Once, in the SQLite run. What only these tests check (answers match the schema's shapes and
# content types, links chain) is decided by the API layer, the same on both backends; what
# the storage decides (hostile values reach the database, no 5xx, a refused request changes
# nothing) the adversarial suite (tests/contract/adversarial/) checks on both, and the
# PostgreSQL run's contract tests read every answer through the SDK's strict validation.
pytestmark = pytest.mark.one_backend("sqlite")


def _fuzz(operation: Any, api_key: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=FUZZ_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        _no_long_wait(case)
        case.call_and_validate(
            headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS, timeout=REQUEST_TIMEOUT
        )

    run()


# Every operation in one test (the schema is only known once the server runs): it takes
# minutes, not the suite's default two.
@pytest.mark.timeout(600)
def test_no_input_breaks_the_server(server: RunningServer, tenant: Tenant) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the schema has an unusable operation: {result.err()}")
            continue
        operation = result.ok()
        operations += 1
        try:
            _fuzz(operation, tenant.api_key)
        except Exception as failure:  # collect every operation's failure, not only the first
            failures.append(f"{operation.label}: {failure}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)


RECIPIENT = "+14155552671"


def _no_long_wait(case: Any) -> None:
    """The harness's long poll waits as long as it is asked to (up to 30 s): fuzzing the
    wait itself adds nothing, so generated requests wait at most a moment."""
    if case.path.endswith("/next-message"):
        case.query = {**(case.query if isinstance(case.query, dict) else {}), "timeout": 0.01}


def _steer(case: Any, tenant: Tenant) -> None:
    """Put the account's own line and a real recipient where generated ones would only 404.

    The rest of each request stays generated; this only lets scenarios create the
    chats and messages the following steps then use.
    """
    body = case.body
    if isinstance(body, dict):
        if "from" in body:
            body["from"] = tenant.line
        if isinstance(body.get("to"), list):
            body["to"] = [RECIPIENT]
        elif isinstance(body.get("to"), str):
            body["to"] = tenant.line
        if isinstance(body.get("phone_number"), str):
            body["phone_number"] = tenant.line
    if isinstance(case.query, dict) and "from" in case.query:
        case.query["from"] = tenant.line


def _seed(tenant: Tenant) -> None:
    """Resources for the list operations to return, so links lead somewhere real."""
    http = tenant.http
    text = {"parts": [{"type": "text", "value": "seed"}]}
    for body in (
        {"from": tenant.line, "to": [RECIPIENT], "message": text},
        {"from": tenant.line, "to": [RECIPIENT, "+14155552672"], "message": text},
    ):
        assert http.post("/v3/chats", json=body).status_code == 201
    subscription = {"target_url": "http://127.0.0.1:9/hook", "subscribed_events": ["message.sent"]}
    assert http.post("/v3/webhook-subscriptions", json=subscription).status_code == 201
    assert http.post(
        f"/sim/v1/devices/{RECIPIENT}/messages", json={"to": tenant.line, "text": "hi"}
    )
    tenant.sim.advance(1)


def test_chained_operations_never_break_the_server(server: RunningServer, tenant: Tenant) -> None:
    _seed(tenant)
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    machine = schema.as_state_machine()
    # Every link schemathesis inferred is a transition the scenarios can take.
    assert schema.statistic.transitions.total > 100
    headers = {"Authorization": f"Bearer {tenant.api_key}"}

    class Scenarios(machine):  # type: ignore[misc,valid-type]
        def before_call(self, case: Any) -> None:
            _steer(case, tenant)
            _no_long_wait(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers, "timeout": REQUEST_TIMEOUT}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Scenarios.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            # A failure is reported as found: shrinking a long scenario costs minutes.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
