"""The experience catalogue and the card an invocation becomes."""

from __future__ import annotations

import pytest

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.experiences import CATALOGUE, Action, checkout_session, experience_part


@pytest.mark.parametrize(
    "action", [a for e in CATALOGUE for a in e.actions], ids=lambda a: str(a.name)
)
def test_every_action_opens_a_required_url_field(action: Action) -> None:
    spec = action.fields[action.target]
    assert (spec.type, spec.required) == ("url", True)


def test_an_attach_card_prompt_opens_its_attach_url() -> None:
    part = experience_part(
        {
            "name": "agentcard",
            "action": "attach_card",
            "params": {"attach_url": "https://cards.example/a/1", "note": "For the trip"},
        }
    )
    assert (part["url"], part["layout"]["caption"], part["layout"]["subcaption"]) == (
        "https://cards.example/a/1",
        "Add a card",
        "For the trip",
    )


def test_params_of_another_action_are_unknown_here() -> None:
    with pytest.raises(LinqError) as refused:
        experience_part(
            {
                "name": "agentcard",
                "action": "attach_card",
                "params": {"approval_url": "https://cards.example/a/1"},
            }
        )
    assert refused.value.code is ErrorCode.INVALID_MESSAGE_CONTENT


@pytest.mark.parametrize(
    ("url", "session"),
    [
        ("http://127.0.0.1:8080/pay/pabc?session=cs_sim_1", "cs_sim_1"),
        ("https://x.example/pay/pabc", None),
        ("https://x.example/other?session=cs_sim_1", None),
        ("https://[/pay/x?session=1", None),
    ],
)
def test_the_session_of_a_checkout_link(url: str, session: str | None) -> None:
    assert checkout_session(url) == session
