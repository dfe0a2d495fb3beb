"""Every endpoint, attacked: hostile bodies, path parameters, query parameters and headers.

Each example starts from a valid request (endpoints.py) and makes one part of it
hostile. Whatever is sent, the answer is a 2xx or a Linq-shaped 4xx, and a
rejected request changes nothing in the database (tests/support/adversarial.py).
Derandomized: every run sends the same requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contract.adversarial.conftest import World
from tests.contract.adversarial.endpoints import SIM, SYSTEM, V3, Endpoint
from tests.support.adversarial import (
    RAW_BODIES,
    encode_component,
    encode_json,
    hostile_for,
    mutated,
)

# Examples per endpoint: a base, plus more for each valid body to start from.
EXAMPLES = 30
EXAMPLES_PER_BODY = 20
URL_PART = 4_000  # characters: longer URLs are refused by the HTTP client itself

CONTENT_TYPES = [
    "text/plain",
    "application/json; charset=utf-16",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
    "application/json\t;;;",
]
QUERY_NAMES = ["cursor", "limit", "from", "to", "phone_number", "status", "event_type", "sig"]


@dataclass(frozen=True)
class Attack:
    where: str
    path: str
    content: bytes | None
    params: list[tuple[str, str]]
    headers: dict[str, str | bytes]


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return values.get(value, value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill(v, values) for v in value]
    return value


def _header_value(text: str) -> bytes:
    """What an HTTP client can put on the wire: no CR, LF or NUL, other bytes as they come."""
    raw = text.encode("utf-8", "surrogatepass")
    return bytes(b for b in raw if b == 9 or b >= 32)[:8000]


def _as_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    return text[:URL_PART]


def url_value(name: str) -> st.SearchStrategy[str]:
    return hostile_for(name).map(_as_text)


@st.composite
def attacks(draw: st.DrawFn, endpoint: Endpoint, values: dict[str, str]) -> Attack:
    path_values = {k: str(fill(v, values)) for k, v in endpoint.path.items()}
    params = [(k, str(fill(v, values))) for k, v in endpoint.params]
    headers: dict[str, str | bytes] = {k: v for k, v in endpoint.headers}
    bodies = [fill(b, values) for b in endpoint.bodies]
    content: bytes | None = encode_json(draw(st.sampled_from(bodies))) if bodies else None
    if endpoint.raw_body:
        content = b"\x89PNG\r\n\x1a\n" + b"\x00" * 80

    # Weighted by how much there is to attack in each place.
    places = ["query"] * (1 + 2 * len(params)) + ["header", "raw"]
    places += ["body"] * 6 * len(bodies) + ["path"] * 2 * len(path_values)
    where = draw(st.sampled_from(places))
    if where == "body":
        content = encode_json(draw(mutated(draw(st.sampled_from(bodies)))))
    elif where == "raw":
        content = draw(st.sampled_from(RAW_BODIES))
    elif where == "path":
        name = draw(st.sampled_from(sorted(path_values)))
        path_values[name] = draw(url_value(name))
    elif where == "query":
        if len(params) > 0 and draw(st.booleans()):
            index = draw(st.integers(0, len(params) - 1))
            name = params[index][0]
            params[index] = (name, draw(url_value(name)))
        else:
            name = draw(st.sampled_from([p for p, _ in params] + QUERY_NAMES))
            params.append((name, draw(url_value(name))))
    else:
        name = draw(st.sampled_from([*headers, "Idempotency-Key", "Content-Type", "traceparent"]))
        if name == "Content-Type":
            headers[name] = draw(st.sampled_from(CONTENT_TYPES))
        else:
            headers[name] = _header_value(draw(url_value(name)))
    path = endpoint.route.format(**{k: encode_component(v) for k, v in path_values.items()})
    return Attack(where, path, content, params, headers)


def _run(world: World, endpoint: Endpoint) -> None:
    probe = world.probe()

    examples = EXAMPLES + EXAMPLES_PER_BODY * len(endpoint.bodies)

    @given(attack=attacks(endpoint, world.values))
    @settings(max_examples=examples, suppress_health_check=list(HealthCheck))
    def attack_once(attack: Attack) -> None:
        probe.send(
            endpoint.method,
            attack.path,
            route=f"{endpoint.route} ({attack.where})",
            content=attack.content,
            params=attack.params,
            headers=attack.headers,
        )

    attack_once()
    assert not probe.failures, probe.report(endpoint.id)


@pytest.mark.parametrize("endpoint", V3, ids=lambda e: e.id)
def test_v3_endpoints_refuse_hostile_input_cleanly(world: World, endpoint: Endpoint) -> None:
    _run(world, endpoint)


@pytest.mark.parametrize("endpoint", SIM, ids=lambda e: e.id)
def test_simulator_endpoints_refuse_hostile_input_cleanly(world: World, endpoint: Endpoint) -> None:
    _run(world, endpoint)


@pytest.mark.parametrize("endpoint", SYSTEM, ids=lambda e: e.id)
def test_system_and_file_endpoints_refuse_hostile_input_cleanly(
    world: World, endpoint: Endpoint
) -> None:
    _run(world, endpoint)
