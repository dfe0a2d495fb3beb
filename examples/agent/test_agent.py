"""The reference agent's test suite, written with openlinq's pytest plugin.

No conftest, no server to start: the plugin's fixtures give each test a fresh
account on an in-process openlinq (``sim``, ``linq_env``, ``webhook_sink``).
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from agent import AgentState, create_app
from openlinq.testing import Sim, WebhookSink

PERSON = "+14155550123"


@pytest.fixture
def agent(linq_env: dict[str, str], webhook_sink: WebhookSink) -> Starlette:
    """The agent, served in-process; the account's webhooks are forwarded to it."""
    app = create_app(
        base_url=linq_env["LINQ_API_V3_BASE_URL"],
        api_key=linq_env["LINQ_API_V3_API_KEY"],
        webhook_secret=webhook_sink.secret,
        think_seconds=0.2,
    )
    webhook_sink.forward_to(app)  # served until the test ends
    return app


def state_of(app: Starlette) -> AgentState:
    state: AgentState = app.state.agent
    return state


def test_it_greets_a_new_person(agent: Starlette, sim: Sim) -> None:
    phone = sim.phone(PERSON, service="iMessage")
    phone.says("hi")
    reply = phone.wait_for_message(matching="Hello")
    assert reply.text.startswith("Hello! I'm the demo agent")
    assert reply.sender == sim.line
    assert phone.texts() == ["hi", reply.text]


def test_a_three_turn_booking(agent: Starlette, sim: Sim) -> None:
    # A scripted person: answers each of the agent's messages with the next reply.
    phone = sim.phone(PERSON, replies=["Tuesday", "3pm"], reply_after=1.0)
    phone.says("I'd like to book a haircut")
    booked = phone.wait_for_message(matching="^Booked")
    assert booked.text == "Booked: Tuesday at 3pm. See you then!"
    assert phone.texts() == [
        "I'd like to book a haircut",
        "Happy to book you in. What day works for you?",
        "Tuesday",
        "What time on Tuesday?",
        "3pm",
        "Booked: Tuesday at 3pm. See you then!",
    ]


def test_the_same_conversation_driven_turn_by_turn(agent: Starlette, sim: Sim) -> None:
    phone = sim.phone(PERSON)
    phone.says("book please")
    assert phone.wait_for_message().text == "Happy to book you in. What day works for you?"
    phone.says("Friday")
    assert phone.wait_for_message().text == "What time on Friday?"
    phone.says("noon")
    assert phone.wait_for_message().text == "Booked: Friday at noon. See you then!"


def test_it_replies_from_a_background_task_after_thinking(agent: Starlette, sim: Sim) -> None:
    phone = sim.phone(PERSON)
    phone.says("what can you do?")
    # The webhook was acknowledged before the agent answered: nothing on the screen yet.
    assert phone.texts() == ["what can you do?"]
    reply = phone.wait_for_message(timeout=5)
    assert reply.text == "You said: what can you do?. Say 'book' to make an appointment."


def test_it_respects_an_opt_out(agent: Starlette, sim: Sim, webhook_sink: WebhookSink) -> None:
    phone = sim.phone(PERSON)
    phone.says("hello")
    phone.wait_for_message(matching="Hello")
    phone.opts_out()
    phone.says("hi again")
    sim.settle()
    with pytest.raises(AssertionError, match="got no message"):
        phone.wait_for_message(timeout=0.5)
    assert PERSON in state_of(agent).opted_out
    assert [e["data"]["parts"][0]["value"] for e in webhook_sink.events("message.received")] == [
        "hello",
        "STOP",
        "hi again",
    ]


def test_a_webhook_that_failed_is_retried_and_answered(
    agent: Starlette, sim: Sim, webhook_sink: WebhookSink
) -> None:
    state_of(agent).available = False  # mid-deploy: webhooks get a 503
    phone = sim.phone(PERSON)
    phone.says("hey there")
    assert {d.forwarded_status for d in webhook_sink.deliveries} == {503}
    state_of(agent).available = True
    # openlinq retries on its (manual) clock; wait_for_message lets the clock move.
    assert phone.wait_for_message(matching="Hello").text.startswith("Hello!")
    received = [d for d in webhook_sink.deliveries if d.event["event_type"] == "message.received"]
    assert [d.forwarded_status for d in received] == [503, 200]


def test_a_reply_that_cannot_be_delivered_is_noted(agent: Starlette, sim: Sim) -> None:
    phone = sim.phone(PERSON)
    phone.says("hello")
    phone.wait_for_message(matching="Hello")
    phone.configure(reachable=False)  # the phone is switched off
    phone.says("still there?")
    phone.wait_for_message(timeout=5)  # the agent answered, into the void
    sim.settle()
    assert len(state_of(agent).failed) == 1
    assert [m["delivery_status"] for m in phone.screen() if m["direction"] == "received"] == [
        "delivered"
    ]
