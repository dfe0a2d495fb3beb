"""api/inputs.check_json: which JSON bodies the input rules let through."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from openlinq.api.inputs import MAX_JSON_DEPTH, check_json
from openlinq.domain.errors import ErrorCode

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None), max_size=8)
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec=None), max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


def _acceptable(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    if isinstance(value, list):
        return all(_acceptable(v) for v in value)
    if isinstance(value, dict):
        return all(_acceptable(k) and _acceptable(v) for k, v in value.items())
    return True


@given(documents)
def test_a_body_passes_exactly_when_every_value_follows_the_rules(document: Any) -> None:
    refused = check_json(json.dumps({"message": document}).encode())
    assert (refused is None) == _acceptable(document)
    if refused is not None:
        assert refused.code is ErrorCode.INVALID_MESSAGE_CONTENT


def test_outside_message_the_code_is_1005_and_the_value_is_not_echoed() -> None:
    refused = check_json(json.dumps({"to": ["x\u0000secret"]}).encode())
    assert refused is not None
    assert refused.code is ErrorCode.INVALID_PARAMETER
    assert "secret" not in refused.message
    assert refused.message.startswith("to[0]:")


def test_depth_is_bounded() -> None:
    def nested(depth: int) -> bytes:
        return ("[" * depth + "]" * depth).encode()

    assert check_json(nested(MAX_JSON_DEPTH + 1)) is None  # the leaf sits at depth MAX
    refused = check_json(nested(MAX_JSON_DEPTH + 2))
    assert refused is not None
    assert refused.code is ErrorCode.INVALID_REQUEST_BODY


def test_a_syntax_error_is_left_to_the_parser() -> None:
    assert check_json(b'{"a": ') is None
