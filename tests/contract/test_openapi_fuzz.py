"""Schemathesis over /openapi.json against the real server: no 5xx, no off-schema answer.

Every operation gets ``FUZZ_EXAMPLES`` generated requests, derandomized (the same
inputs every run), with a valid API key, so the run is bounded and repeatable.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.support.server import RunningServer
from tests.support.tenant import Tenant

FUZZ_EXAMPLES = 25
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


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
        case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)

    run()


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
