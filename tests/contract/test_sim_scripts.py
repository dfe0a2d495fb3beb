"""Scripted people in the simulator: replies in order, rules, opting out or going unreachable
after N messages, and a device webhook that answers for the person. All through /sim/v1
over real HTTP, on the session's manual clock."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from openlinq.delivery.simulator.hooks import DeviceAnswer, DeviceMessage
from tests.support.receiver import Answer, Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant

PERSON = "+14155559871"


def _text(value: str) -> Any:
    return {"parts": [{"type": "text", "value": value}]}


class Conversation:
    """The agent's side of a chat with PERSON, and what the person has sent back."""

    def __init__(self, tenant: Tenant, handle: str = PERSON) -> None:
        self.tenant = tenant
        self.handle = handle
        self.chat_id: str | None = None

    def send(self, text: str, settle: float = 5.0) -> Any:
        client = self.tenant.client
        if self.chat_id is None:
            created = client.chats.create(
                from_=self.tenant.line, to=[self.handle], message=_text(text)
            )
            self.chat_id = created.chat.id
            sent = created.chat.message
        else:
            sent = client.chats.messages.send(self.chat_id, message=_text(text)).message
        self.tenant.sim.settle(settle)
        return sent

    def said(self) -> list[str]:
        """What the person sent, oldest first."""
        return [
            " ".join(p.get("value", "") for p in m["parts"])
            for m in self.tenant.sim.screen(self.handle)
            if m["direction"] == "sent"
        ]

    def reactions(self) -> list[str]:
        return [
            r["type"]
            for m in self.tenant.sim.screen(self.handle)
            for r in m["reactions"]
            if r["handle"] == self.handle
        ]


def _error(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, int(response.json()["error"]["code"])


# -- replies in order ------------------------------------------------------------------


def test_replies_are_sent_in_order_one_per_message_then_silence(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["hi!", "7pm for two", "thanks"])
    talk = Conversation(tenant)
    for text in ("hello", "when?", "booked", "anything else?"):
        talk.send(text)
    assert talk.said() == ["hi!", "7pm for two", "thanks"]


def test_replies_can_loop(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["yes", "no"], replies_loop=True)
    talk = Conversation(tenant)
    for text in "abcde":
        talk.send(text)
    assert talk.said() == ["yes", "no", "yes", "no", "yes"]


def test_a_reply_comes_after_reply_after_on_the_clock(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["later"], reply_after=10)
    talk = Conversation(tenant)
    talk.send("hello", settle=9.5)
    assert talk.said() == []
    tenant.sim.settle(1)
    assert talk.said() == ["later"]


def test_setting_the_device_again_starts_the_script_over(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["one", "two"])
    talk = Conversation(tenant)
    talk.send("a")
    tenant.sim.configure(PERSON, replies=["one", "two"])
    talk.send("b")
    assert talk.said() == ["one", "one"]


# -- rules -----------------------------------------------------------------------------


def test_the_first_matching_rule_answers_with_substitutions(tenant: Tenant) -> None:
    tenant.sim.configure(
        PERSON,
        rules=[
            {"match": r"your name\?", "reply": "I'm Alice"},
            {"match": r"table for (?P<n>\d+)", "reply": "yes, {n} of us ({0})"},
            {"match": r".*", "reply": "you said: {text}"},
        ],
        replies=["never used"],
    )
    talk = Conversation(tenant)
    talk.send("What is YOUR NAME?")
    talk.send("A table for 4 tonight?")
    talk.send("ok")
    assert talk.said() == ["I'm Alice", "yes, 4 of us (table for 4)", "you said: ok"]


def test_rules_fall_back_to_replies_and_can_be_case_sensitive(tenant: Tenant) -> None:
    tenant.sim.configure(
        PERSON,
        rules=[{"match": "^Hello$", "reply": "matched", "ignore_case": False}],
        replies=["fallback"],
    )
    talk = Conversation(tenant)
    talk.send("hello")
    talk.send("Hello")
    assert talk.said() == ["fallback", "matched"]


def test_a_rule_reacts_to_matching_messages(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, rules=[{"match": "discount", "react": "love"}])
    talk = Conversation(tenant)
    talk.send("hello")
    talk.send("here is a DISCOUNT")
    assert talk.reactions() == ["love"]
    assert talk.said() == []
    assert [e["data"]["reaction_type"] for e in tenant.sim.events("reaction.added")] == ["love"]


def test_a_rule_with_delay_and_typing_shows_typing_before_the_reply(tenant: Tenant) -> None:
    tenant.sim.configure(
        PERSON, rules=[{"match": "hi", "reply": "hey", "delay_seconds": 4, "typing": True}]
    )
    talk = Conversation(tenant)
    talk.send("hi", settle=3.5)
    assert talk.said() == []
    assert [e["data"]["chat_id"] for e in tenant.sim.events("chat.typing_indicator.started")] == [
        talk.chat_id
    ]
    tenant.sim.settle(1)
    assert talk.said() == ["hey"]
    assert tenant.sim.events("chat.typing_indicator.stopped")


@pytest.mark.parametrize(
    ("rule", "mentions"),
    [
        ({"match": "(unclosed", "reply": "x"}, "not a valid regex"),
        ({"match": "a", "reply": "{2}"}, "names no group"),
        ({"match": "(?P<x>a)", "reply": "{y}"}, "names no group"),
        ({"match": "a"}, "needs a reply, a react or both"),
        ({"match": "a", "reply": "x", "react": "wave"}, "react"),
        ({"match": "a", "reply": "x", "colour": "red"}, "colour"),
        ({"match": "", "reply": "x"}, "match"),
    ],
)
def test_a_bad_rule_is_refused_and_nothing_changes(
    tenant: Tenant, rule: dict[str, Any], mentions: str
) -> None:
    tenant.sim.configure(PERSON, replies=["kept"])
    response = tenant.http.put(f"/sim/v1/devices/{PERSON}", json={"rules": [rule]})
    assert _error(response) == (400, 1005), response.text
    assert mentions in response.text
    assert tenant.sim.device(PERSON)["profile"]["replies"] == ["kept"]


def test_the_profile_spells_out_the_script(tenant: Tenant) -> None:
    device = tenant.sim.configure(
        PERSON, rules=[{"match": "hi", "reply": "hey"}], opt_out_after=3, replies=["a"]
    )
    profile = device["profile"]
    assert profile["rules"] == [
        {
            "match": "hi",
            "reply": "hey",
            "ignore_case": True,
            "delay_seconds": None,
            "typing": None,
            "react": None,
        }
    ]
    assert (profile["opt_out_after"], profile["replies"], profile["replies_loop"]) == (
        3,
        ["a"],
        False,
    )


# -- opting out, going unreachable -------------------------------------------------------


def test_opt_out_after_n_messages_replies_stop_once_then_stays_silent(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["sure", "ok", "never"], opt_out_after=2)
    talk = Conversation(tenant)
    talk.send("one")
    talk.send("two")
    assert talk.said() == ["sure", "STOP"]
    # The STOP is a real opt-out: the agent's next send is refused.
    refused = tenant.http.post(
        f"/v3/chats/{talk.chat_id}/messages", json={"message": _text("three")}
    )
    assert _error(refused) == (403, 2024)
    assert talk.said() == ["sure", "STOP"]


def test_unreachable_after_n_messages_fails_the_next_send(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, unreachable_after=2)
    talk = Conversation(tenant)
    talk.send("one")
    talk.send("two")
    assert tenant.sim.device(PERSON)["profile"]["reachable"] is False
    talk.send("three")
    assert [e["data"]["code"] for e in tenant.sim.events("message.failed")] == [4002]
    # Reachable again on command, and the script keeps its place.
    tenant.http.patch(f"/sim/v1/devices/{PERSON}", json={"reachable": True}).raise_for_status()
    assert tenant.sim.device(PERSON)["profile"]["reachable"] is True


def test_a_device_goes_unreachable_on_command_and_keeps_its_script(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["one", "two"])
    talk = Conversation(tenant)
    talk.send("a")
    changed = tenant.http.patch(f"/sim/v1/devices/{PERSON}", json={"reachable": False})
    assert changed.json()["profile"]["replies"] == ["one", "two"]
    talk.send("b")
    assert len(tenant.sim.events("message.failed")) == 1
    tenant.http.patch(f"/sim/v1/devices/{PERSON}", json={"reachable": True}).raise_for_status()
    talk.send("c")
    assert talk.said() == ["one", "two"]


def test_patch_with_null_removes_a_setting(tenant: Tenant) -> None:
    tenant.sim.configure(PERSON, replies=["x"], reply_after=7)
    changed = tenant.http.patch(f"/sim/v1/devices/{PERSON}", json={"replies": None}).json()
    assert (changed["profile"]["replies"], changed["profile"]["reply_after"]) == ([], 7)


# -- the device webhook ------------------------------------------------------------------


def test_a_device_webhook_answers_for_the_person(tenant: Tenant, receiver: Receiver) -> None:
    receiver.script(
        Answer(body=json.dumps({"reply": "from my code", "delay_seconds": 1}).encode()),
        Answer(body=json.dumps({"react": "laugh"}).encode()),
        Answer(status=204, body=b""),
    )
    tenant.sim.configure(PERSON, webhook_url=receiver.url("/person"), read_after=1)
    talk = Conversation(tenant)
    talk.send("hi there")
    talk.send("a joke")
    talk.send("silence please")
    assert talk.said() == ["from my code"]
    assert talk.reactions() == ["laugh"]
    first = receiver.hits[0]
    assert first.path == "/person"
    body = json.loads(first.body)
    assert (body["text"], body["from"], body["chat_id"], body["handle"]) == (
        "hi there",
        tenant.line,
        talk.chat_id,
        PERSON,
    )
    assert body["parts"][0]["value"] == "hi there"
    assert [h["text"] for h in body["history"]] == ["hi there"]
    third = json.loads(receiver.hits[2].body)
    assert [(h["direction"], h["text"]) for h in third["history"]] == [
        ("received", "hi there"),
        ("sent", "from my code"),
        ("received", "a joke"),
        ("received", "silence please"),
    ]


def test_the_webhook_is_asked_after_the_person_reads_on_the_clock(
    tenant: Tenant, receiver: Receiver
) -> None:
    tenant.sim.configure(PERSON, webhook_url=receiver.url(), read_after=3)
    talk = Conversation(tenant)
    talk.send("hi", settle=2.5)
    assert receiver.hits == []
    tenant.sim.settle(1)
    assert len(receiver.hits) == 1


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=500),
        Answer(body=b"not json"),
        Answer(body=b'{"reply": 5}'),
        Answer(body=b'{"reply": "x", "mood": "grumpy"}'),
        Answer(body=b'{"react": "wave"}'),
    ],
)
def test_a_failing_webhook_is_logged_and_the_device_keeps_working(
    tenant: Tenant, receiver: Receiver, answer: Answer, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script(answer, Answer(body=b'{"reply": "back"}'))
    tenant.sim.configure(PERSON, webhook_url=receiver.url())
    talk = Conversation(tenant)
    talk.send("one")
    talk.send("two")
    assert talk.said() == ["back"]
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("simulator.carrier")]
    assert len(warnings) == 1
    assert f"{PERSON}: its webhook {receiver.url()} failed" in warnings[0]


def test_an_unreachable_webhook_leaves_the_person_silent(
    tenant: Tenant, receiver: Receiver
) -> None:
    url = receiver.url()
    receiver.stop()
    tenant.sim.configure(PERSON, webhook_url=url)
    talk = Conversation(tenant)
    talk.send("hello?")
    assert talk.said() == []
    assert len(tenant.sim.events("message.delivered")) == 1
    talk.send("still there?")  # the device still works: delivered, asked again
    assert len(tenant.sim.events("message.delivered")) == 2


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://user:pw@host/"])
def test_a_bad_webhook_url_is_refused(tenant: Tenant, url: str) -> None:
    response = tenant.http.put(f"/sim/v1/devices/{PERSON}", json={"webhook_url": url})
    assert _error(response) == (400, 1005), response.text


# -- in-process hooks (for a test harness in the server's process) ---------------------


def test_an_in_process_hook_answers_before_the_webhook(
    server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    seen: list[DeviceMessage] = []

    def person(message: DeviceMessage) -> DeviceAnswer | None:
        seen.append(message)
        return DeviceAnswer(reply=f"you said {message.text}", react="like")

    tenant.sim.configure(PERSON, webhook_url=receiver.url())
    simulator = server.services.simulator
    simulator.register_hook(tenant.account_id, PERSON, person)
    try:
        talk = Conversation(tenant)
        talk.send("hi")
    finally:
        simulator.register_hook(tenant.account_id, PERSON, None)
    talk.send("again")  # the hook is gone: the webhook answers now
    assert [m.text for m in seen] == ["hi"]
    assert talk.said() == ["you said hi"]
    assert talk.reactions() == ["like"]
    assert len(receiver.hits) == 1


async def _async_person(message: DeviceMessage) -> DeviceAnswer:
    return DeviceAnswer(reply="async " + message.text, delay_seconds=0)


def test_an_async_hook_works_on_a_device_with_no_script(
    server: RunningServer, tenant: Tenant
) -> None:
    simulator = server.services.simulator
    simulator.register_hook(tenant.account_id, PERSON, _async_person)
    try:
        talk = Conversation(tenant)
        talk.send("ping", settle=0)
    finally:
        simulator.register_hook(tenant.account_id, PERSON, None)
    assert talk.said() == ["async ping"]
