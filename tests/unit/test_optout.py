"""opt_out_keyword: which inbound messages are opt-outs."""

from __future__ import annotations

import pytest

from openlinq.domain.optout import opt_out_keyword


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("  QUIT ", "QUIT"),
        ("opt-out", "opt-out"),
        ("Opt Out", "Opt Out"),
        ("stop", None),
        ("STOP now", None),
        ("OPT OUTS", None),
    ],
)
def test_opt_out_keywords(text: str, keyword: str | None) -> None:
    assert opt_out_keyword([{"type": "text", "value": text}]) == keyword


def test_media_messages_are_never_opt_outs() -> None:
    assert opt_out_keyword([{"type": "text", "value": "STOP"}, {"type": "media"}]) is None
