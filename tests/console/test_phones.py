"""/console/phones over real HTTP: the list, a phone's settings, and being the phone.

Every action must reach the agent as the same events /sim/v1 records (read back through
/sim/v1/events), because both go through SimulatorControl.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import linq
import pytest

from tests.support.console import ConsoleClient
from tests.support.files import PNG
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic

A, B, C = "+14155554101", "+14155554102", "+14155554103"


def _path(handle: str, suffix: str = "") -> str:
    return f"/console/phones/{quote(handle, safe='')}{suffix}"


def _write(console: ConsoleClient, handle: str, target: str, text: str) -> int:
    body = {"target": target, "text": text}
    return console.act("POST", _path(handle, "/messages"), json=body).status_code


def _send_to(tenant: Tenant, *handles: str, text: str = "hello") -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=list(handles), message={"parts": [{"type": "text", "value": text}]}
    )
    tenant.sim.advance(0)
    return created.chat.id


def test_the_list_shows_configured_phones_and_every_chat_handle(
    tenant: Tenant, console: ConsoleClient
) -> None:
    _send_to(tenant, A)
    _send_to(tenant, "ana@example.com")
    tenant.sim.configure(B, preset="echo_bot")
    page = console.page("/console/phones")
    for handle in (A, B, "ana@example.com"):
        assert _path(handle) in page
    assert "echo_bot" in page
    assert "configured" in page
    # The magic numbers, with what they do.
    assert magic("05") in page
    assert "replies “echo: &lt;text&gt;” after 2 s" in page
    assert "every send fails" in page


def test_the_list_pages_by_handle(tenant: Tenant, console: ConsoleClient) -> None:
    for handle in (A, B, C):
        tenant.sim.configure(handle, preset="reader")
    page = console.page("/console/phones", after=A)
    assert _path(A) not in page
    assert _path(B) in page
    assert _path(C) in page


def test_another_accounts_phones_are_not_listed(
    server: RunningServer, tenant: Tenant, console: ConsoleClient
) -> None:
    other = create_tenant(server)
    other.sim.configure(C, preset="reader")
    assert _path(C) not in console.page("/console/phones")
    other.http.close()
    other.client.close()


def test_opening_a_number_goes_to_its_phone(console: ConsoleClient) -> None:
    opened = console.get("/console/phones/open", handle=" +1 (415) 555-4101 ")
    assert opened.status_code == 303
    assert opened.headers["location"] == _path(A)
    refused = console.get("/console/phones/open", handle="not a phone")
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text


def test_settings_use_the_device_model(tenant: Tenant, console: ConsoleClient) -> None:
    answer = console.ok(
        "PUT", _path(A), json={"preset": "reader", "reply": "echo", "reply_after": 4}
    )
    assert answer["profile"]["reply"] == "echo"
    device = tenant.sim.device(A)
    assert device["configured"] is True
    assert device["profile"]["read_after"] == 1.0
    assert device["profile"]["reply_after"] == 4
    page = console.page(_path(A))
    assert '<option value="reader" selected>' in page
    # The same checks as PUT /sim/v1/devices: the Linq error body comes back.
    bad = console.act("PUT", _path(A), json={"preset": "nokia"})
    assert bad.status_code == 400
    assert bad.json()["success"] is False
    assert "unknown preset" in bad.json()["error"]["message"]
    misspelt = console.act("PUT", _path(A), json={"rply": "echo"})
    assert misspelt.status_code == 400
    console.ok("DELETE", _path(A))
    assert tenant.sim.device(A)["configured"] is False


def test_actions_need_the_page_token(tenant: Tenant, console: ConsoleClient) -> None:
    refused = console.http.put(_path(A), json={"preset": "reader"})
    assert refused.status_code == 403
    assert tenant.sim.device(A)["configured"] is False


def test_typing_as_the_phone_writes_to_a_line(tenant: Tenant, console: ConsoleClient) -> None:
    sent = console.ok(
        "POST", _path(A, "/messages"), json={"target": f"line:{tenant.line}", "text": "hi there"}
    )
    received = tenant.sim.events("message.received")
    assert [e["data"]["id"] for e in received] == [sent["message_id"]]
    assert received[0]["data"]["parts"][0]["value"] == "hi there"
    screen = console.page(_path(A, "/screen"))
    assert "hi there" in screen
    # Into a chat it is in; the same chat again.
    again = console.ok(
        "POST", _path(A, "/messages"), json={"target": f"chat:{sent['chat_id']}", "text": "2"}
    )
    assert again["chat_id"] == sent["chat_id"]


def test_the_phone_cannot_write_where_it_is_not(
    server: RunningServer, tenant: Tenant, console: ConsoleClient
) -> None:
    chat_id = _send_to(tenant, B)
    assert _write(console, A, f"chat:{chat_id}", "x") == 403
    assert _write(console, A, "line:+14155550000", "x") == 403
    other = create_tenant(server)
    foreign = _send_to(other, A)
    other.http.close()
    other.client.close()
    assert _write(console, A, f"chat:{foreign}", "x") == 404
    assert _write(console, A, f"line:{tenant.line}", " ") == 400
    assert tenant.sim.events("message.received") == []


def test_sending_a_file_from_disk(tenant: Tenant, console: ConsoleClient) -> None:
    sent = console.ok(
        "POST",
        _path(A, "/messages"),
        data={"target": f"line:{tenant.line}", "text": "look"},
        files={"file": ("cat.png", PNG, "image/png")},
    )
    parts = tenant.client.messages.retrieve(sent["message_id"]).parts or []
    assert [(p.type, getattr(p, "filename", None)) for p in parts] == [
        ("media", "cat.png"),
        ("text", None),
    ]
    assert tenant.http.get(getattr(parts[0], "url", "")).content == PNG
    assert "cat.png" in console.page(_path(A, "/screen"))
    # The file is checked as any upload is.
    fake = console.act(
        "POST",
        _path(A, "/messages"),
        data={"target": f"line:{tenant.line}"},
        files={"file": ("cat.png", b"not a png at all", "image/png")},
    )
    assert fake.status_code == 400
    assert len(tenant.sim.events("message.received")) == 1


def test_react_type_read_and_share_location(tenant: Tenant, console: ConsoleClient) -> None:
    chat_id = _send_to(tenant, A, text="how are you")
    message_id = tenant.client.chats.messages.list(chat_id).messages[0].id
    screen = console.page(_path(A, "/screen"))
    assert "how are you" in screen
    assert f'"message_id": "{message_id}"' in screen
    console.ok("POST", _path(A, "/reactions"), json={"message_id": message_id, "type": "love"})
    console.ok("POST", _path(A, "/typing"), json={"chat_id": chat_id, "state": "started"})
    console.ok("POST", _path(A, "/typing"), json={"chat_id": chat_id, "state": "stopped"})
    console.ok("POST", _path(A, "/read"), json={"chat_id": chat_id})
    where = {"target": f"line:{tenant.line}", "longitude": -122.4, "latitude": 37.8}
    console.ok("POST", _path(A, "/location"), json=where)
    console.ok("POST", _path(A, "/location/stop"), json={"target": f"line:{tenant.line}"})
    types = [e["event_type"] for e in tenant.sim.events()]
    for expected in (
        "reaction.added",
        "chat.typing_indicator.started",
        "chat.typing_indicator.stopped",
        "message.read",
        "location.sharing.started",
        "location.sharing.stopped",
    ):
        assert expected in types
    assert "❤️" in console.page(_path(A, "/screen"))


def test_stop_and_start_are_messages_with_the_opt_out_rules(
    tenant: Tenant, console: ConsoleClient
) -> None:
    chat_id = _send_to(tenant, A)
    console.ok("POST", _path(A, "/messages"), json={"target": f"chat:{chat_id}", "text": "STOP"})
    with pytest.raises(linq.PermissionDeniedError) as blocked:
        tenant.client.chats.messages.send(
            chat_id, message={"parts": [{"type": "text", "value": "still there?"}]}
        )
    assert blocked.value.code == 2024
    assert "opted out" in console.page("/console/phones")
    assert "opted out" in console.page(_path(A))
    console.ok("POST", _path(A, "/messages"), json={"target": f"chat:{chat_id}", "text": "START"})
    tenant.client.chats.messages.send(
        chat_id, message={"parts": [{"type": "text", "value": "welcome back"}]}
    )
    assert "opted out" not in console.page("/console/phones")


def test_leaving_a_group_tells_the_agent(tenant: Tenant, console: ConsoleClient) -> None:
    chat_id = _send_to(tenant, A, B, C)
    assert "Leave group" in console.page(_path(A, "/screen"))
    console.ok("POST", _path(A, "/leave"), json={"chat_id": chat_id})
    removed = tenant.sim.events("participant.removed")
    assert [(e["data"]["handle"], e["data"]["participant"]["status"]) for e in removed] == [
        (A, "left")
    ]
    handles = {h.handle: h for h in tenant.client.chats.retrieve(chat_id).handles}
    assert handles[A].status == "left"
    assert handles[A].left_at is not None
    # It is gone: it cannot leave or write again, and three members cannot shrink further.
    gone = console.act("POST", _path(A, "/leave"), json={"chat_id": chat_id})
    assert gone.status_code == 409
    small = console.act("POST", _path(B, "/leave"), json={"chat_id": chat_id})
    assert small.status_code == 409
    assert small.json()["error"]["code"] == 2015


def test_the_simulator_api_has_the_same_leave(tenant: Tenant) -> None:
    chat_id = _send_to(tenant, A, B, C)
    left = tenant.http.post(f"/sim/v1/devices/{A}/leave", json={"chat_id": chat_id})
    assert left.status_code == 204
    assert tenant.sim.events("participant.removed")[-1]["data"]["participant"]["status"] == "left"
    sms = _send_to(tenant, magic("01", "212"), magic("01", "213"), magic("01", "214"))
    refused = tenant.http.post(f"/sim/v1/devices/{magic('01', '212')}/leave", json={"chat_id": sms})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == 2017


def test_blocked_handles_and_what_they_sent_are_shown(
    tenant: Tenant, console: ConsoleClient
) -> None:
    page = console.page("/console/phones")
    assert "No blocked handles" in page
    tenant.client.blocked_handles.block(handle=A, reason="abusive <b>")
    tenant.sim.send(A, to=tenant.line, text="are you there?")
    sent = console.ok(
        "POST", _path(A, "/messages"), json={"target": f"line:{tenant.line}", "text": "hello?"}
    )
    assert sent["dropped"] is True
    page = console.page("/console/phones")
    assert "abusive &lt;b&gt;" in page
    assert "Dropped inbound" in page
    assert "message: &#34;hello?&#34;" in page
    assert "message: &#34;are you there?&#34;" in page
    assert tenant.sim.events("message.received") == []


def test_a_phone_pays_an_agentpay_card_from_its_screen(
    tenant: Tenant, console: ConsoleClient
) -> None:
    request = tenant.client.payment_requests.create(
        amount=2500, currency="usd", description="Concert tickets"
    )
    chat_id = _send_to(tenant, A)
    card: Any = {
        "experience": {
            "name": "agentpay",
            "action": "request_payment",
            "params": {"checkout_url": request.checkout_url},
        }
    }
    sent = tenant.client.chats.messages.send(chat_id, message=card)
    tenant.sim.advance(0)
    screen = console.page(_path(A, "/screen"))
    assert "Concert tickets" in screen
    assert "$25.00" in screen
    pay_body = f'{{"message_id": "{sent.message.id}", "outcome": "pay"}}'
    assert pay_body in screen
    declined = console.ok(
        "POST", _path(A, "/payments"), json={"message_id": sent.message.id, "outcome": "decline"}
    )
    assert declined == {"message": "Payment declined"}
    paid = console.ok("POST", _path(A, "/payments"), json={"message_id": sent.message.id})
    assert paid == {"message": "Paid"}
    assert tenant.client.payment_requests.retrieve(request.id).status == "succeeded"
    settled = console.page(_path(A, "/screen"))
    assert '<strong class="settled">Paid</strong>' in settled
    assert "Pay</button>" not in settled


def test_a_phone_sees_a_poll_and_votes_from_its_screen(
    tenant: Tenant, console: ConsoleClient
) -> None:
    chat_id = _send_to(tenant, A)
    poll = tenant.client.chats.polls.create(
        chat_id, poll={"options": [{"text": "Pizza"}, {"text": "Tacos"}]}
    )
    tenant.sim.advance(0)
    (shown,) = [
        m
        for m in tenant.http.get(f"/sim/v1/devices/{A}/screen").json()["messages"]
        if m["message_id"] == poll.message_id
    ]
    tacos = poll.poll.options[1].option_id
    assert [(o["text"], o["votes"], o["voted"]) for o in shown["poll"]] == [
        ("Pizza", 0, False),
        ("Tacos", 0, False),
    ]
    screen = console.page(_path(A, "/screen"))
    assert "📊 Poll" in screen
    assert f'"option_id": "{tacos}", "operation": "add"' in screen
    vote = {"message_id": poll.message_id, "option_id": tacos, "operation": "add"}
    assert console.ok("POST", _path(A, "/poll-votes"), json=vote) == {"message": "Voted"}
    voters = tenant.client.messages.poll.retrieve(poll.message_id).poll.options[1].voters
    assert [v.handle for v in voters] == [A]
    screen = console.page(_path(A, "/screen"))
    assert f'"option_id": "{tacos}", "operation": "remove"' in screen
    assert re.search(r"Tacos <span[^>]*>— 1 vote</span>", screen)
