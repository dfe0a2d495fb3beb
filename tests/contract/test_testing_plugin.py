"""The pytest plugin (openlinq.testing), as a user's suite meets it: a real pytest in a
subprocess, loading the plugin through its pytest11 entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import RunningServer

USER_TESTS = """
import json, os
from pathlib import Path

import httpx
import pytest

OUT = Path(os.environ["PLUGIN_OUT"])


def test_a_conversation(sim, linq, linq_env, openlinq_account, openlinq_server):
    phone = sim.phone("+14155550123", service="iMessage")
    phone.says("hi")
    text = {"parts": [{"type": "text", "value": "hello back"}]}
    linq.chats.messages.send(phone.chat_id, message=text)
    reply = phone.wait_for_message(matching="hello")
    assert (reply.text, reply.sender) == ("hello back", sim.line)
    phone.reacts(reply, "love")
    phone.types()
    phone.shares_location(-122.4, 37.8)
    assert phone.texts() == ["hi", "hello back"]
    assert "message.received" in [e["event_type"] for e in sim.events()]
    assert linq_env == {
        "LINQ_API_V3_BASE_URL": openlinq_server.sdk_base_url,
        "LINQ_API_V3_API_KEY": openlinq_account.api_key,
    }
    OUT.joinpath("key").write_text(openlinq_account.api_key)
    OUT.joinpath("started_in").write_text(str(openlinq_server.started_in))


def test_each_test_has_its_own_account(linq, openlinq_account):
    numbers = [p.phone_number for p in linq.phone_numbers.list().phone_numbers]
    assert sorted(numbers) == sorted(openlinq_account.lines)
    assert OUT.joinpath("key").read_text() != openlinq_account.api_key


def test_the_sink_verifies_records_and_refuses_forgeries(sim, webhook_sink):
    sim.phone("+14155550125").says("ping")
    [event] = webhook_sink.events("message.received")
    assert event["data"]["parts"][0]["value"] == "ping"
    forged = httpx.post(webhook_sink.url, content=b"{}", headers={"webhook-signature": "v1,x"})
    assert forged.status_code == 401
    assert not webhook_sink.deliveries[-1].verified


def test_settle_plays_out_a_device(sim, linq):
    bot = sim.phone("+14155550105")  # the echo bot
    text = {"parts": [{"type": "text", "value": "yo"}]}
    linq.chats.create(from_=sim.line, to=[bot.handle], message=text)
    assert sim.settle()["advanced_seconds"] >= 3.0  # read at 1 s, echo at 3 s
    assert bot.texts() == ["yo", "echo: yo"]


def test_a_poll(sim, linq):
    phone = sim.phone("+14155550125", poll_vote=2, poll_vote_after=0)
    phone.says("lunch?")
    options = [{"text": "Pizza"}, {"text": "Tacos"}]
    ours = linq.chats.polls.create(phone.chat_id, poll={"options": options})
    sim.settle()
    tacos = linq.messages.poll.retrieve(ours.message_id).poll.options[1]
    assert [v.handle for v in tacos.voters] == [phone.handle]
    theirs = phone.creates_poll(["Mon", "Tue"])
    phone.votes(theirs, 1)
    phone.adds_poll_options(theirs, ["Wed"])
    phone.reacts(ours.message_id, "sticker", emoji="🍕")
    types = [e["event_type"] for e in sim.events()]
    for event_type in ("poll.received", "poll.vote.added", "poll.updated", "poll.reaction.added"):
        assert event_type in types


def test_a_phone_pays_an_agentpay_card(sim, linq):
    phone = sim.phone("+14155550126", service="iMessage")
    phone.says("can I pay?")
    request = linq.payment_requests.create(amount=500, currency="usd")
    params = {"checkout_url": request.checkout_url}
    card = {"experience": {"name": "agentpay", "action": "request_payment", "params": params}}
    linq.chats.messages.send(phone.chat_id, message=card)
    assert phone.pays(phone.wait_for_message())["status"] == "succeeded"
    assert "payment.succeeded" in [e["event_type"] for e in sim.events()]


def test_a_failure_shows_the_conversation(sim):
    phone = sim.phone("+14155550124")
    phone.says("are you there?")
    phone.wait_for_message(timeout=0.3)
"""


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "test_user_agent.py").write_text(USER_TESTS)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env={"PLUGIN_OUT": str(out), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, out


def _assert_outcome(result: subprocess.CompletedProcess[str]) -> None:
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 failed" in summary, result.stdout + result.stderr
    assert "6 passed" in summary, result.stdout + result.stderr
    assert "openlinq conversations" in result.stdout
    assert "+14155550124 got no message from the agent in 0.3 s" in result.stdout
    assert "→ +14155550124: are you there?" in result.stdout


def test_the_plugin_runs_its_own_server_in_process(tmp_path: Path) -> None:
    result, out = _run(tmp_path)
    _assert_outcome(result)
    # Measured from creating the app to its first answer (imports not counted).
    assert float(out.joinpath("started_in").read_text()) < 3.0


def test_the_plugin_targets_an_external_server(tmp_path: Path, server: RunningServer) -> None:
    result, out = _run(tmp_path, "--openlinq-url", server.base_url + "/")
    _assert_outcome(result)
    key = out.joinpath("key").read_text()
    answer = httpx.get(
        server.sdk_base_url + "/v3/phone_numbers", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(out.joinpath("started_in").read_text()) == 0.0
