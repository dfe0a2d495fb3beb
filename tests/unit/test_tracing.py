"""W3C trace context: which traceparent headers are honoured, and the trace in force."""

from __future__ import annotations

import re

import pytest

from openlinq.domain.tracing import (
    current_trace_id,
    new_span_id,
    new_trace_id,
    reset_trace_id,
    set_trace_id,
    trace_id_from_traceparent,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-00",  # not sampled is still a trace
        f"00-{TRACE.upper()}-{SPAN.upper()}-01",  # upper case is accepted
        f"  00-{TRACE}-{SPAN}-01\t",
        f"01-{TRACE}-{SPAN}-01-future-field",  # later versions may append fields
    ],
)
def test_a_valid_traceparent_gives_its_trace_id_in_lower_case(header: str) -> None:
    assert trace_id_from_traceparent(header) == TRACE


@pytest.mark.parametrize(
    "header",
    [
        f"ff-{TRACE}-{SPAN}-01",  # version ff is forbidden
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE[:-1]}-{SPAN}-01",  # trace id one digit short
        f"00-{TRACE}0-{SPAN}-01",
        f"00-{TRACE}-{SPAN[:-1]}-01",
        f"00-{TRACE[:-1]}g-{SPAN}-01",  # not hex
        f"00_{TRACE}_{SPAN}_01",
        f"0-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}",
        TRACE,
        "garbage",
        "",
        None,
    ],
)
def test_an_invalid_traceparent_gives_no_trace_id(header: str | None) -> None:
    assert trace_id_from_traceparent(header) is None


def test_new_ids_have_the_w3c_shape_and_differ() -> None:
    assert HEX32.match(new_trace_id())
    assert re.match(r"^[0-9a-f]{16}$", new_span_id())
    assert len({new_trace_id() for _ in range(100)}) == 100


def test_work_without_a_trace_gets_a_fresh_one_each_time() -> None:
    first, second = current_trace_id(), current_trace_id()
    assert HEX32.match(first)
    assert first != second


def test_a_set_trace_is_in_force_until_reset() -> None:
    outer = set_trace_id(TRACE)
    try:
        assert current_trace_id() == TRACE
        inner = set_trace_id("a" * 32)
        assert current_trace_id() == "a" * 32
        reset_trace_id(inner)
        assert current_trace_id() == TRACE
    finally:
        reset_trace_id(outer)
    assert current_trace_id() != TRACE
