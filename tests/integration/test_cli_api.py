"""The API-backed commands (sim, chats, messages, webhooks) against a real server over HTTP,
configured only by the SDK's variables LINQ_API_V3_BASE_URL / LINQ_API_V3_API_KEY."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from typer.testing import CliRunner

from openlinq.cli import app
from tests.support.agent import booking_agent, running_agent
from tests.support.receiver import Receiver
from tests.support.server import RunningServer, free_port
from tests.support.tenant import Tenant, fresh_line_number

runner = CliRunner()


@pytest.fixture
def env(server: RunningServer, tenant: Tenant) -> dict[str, str]:
    return {
        "LINQ_API_V3_BASE_URL": server.sdk_base_url,
        "LINQ_API_V3_API_KEY": tenant.api_key,
        "COLUMNS": "200",
    }


def cli(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def cli_json(env: dict[str, str], *args: str) -> object:
    return json.loads(cli(env, *args, "--json"))


def test_sim_send_screen_react_typing_read_and_chats(
    env: dict[str, str], tenant: Tenant, tmp_path: Path
) -> None:
    phone = fresh_line_number()
    sent = cli_json(env, "sim", "send", phone, "hi from the shell", "--to", tenant.line)
    assert isinstance(sent, dict)
    chat_id = sent["chat_id"]
    photo = tmp_path / "cat.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert "sent" in cli(env, "sim", "send", phone, "--chat", chat_id, "--media", str(photo))
    tenant.client.chats.messages.send(chat_id, message={"parts": [{"type": "text", "value": "yo"}]})
    tenant.sim.settle(2)
    inbound = [m for m in tenant.sim.screen(phone) if m["direction"] == "received"]
    assert "yo" in cli(env, "sim", "screen", phone)
    assert cli(env, "sim", "react", phone, inbound[0]["message_id"], "laugh").startswith(phone)
    assert chat_id in cli(env, "sim", "typing", phone, "--to", tenant.line)
    assert "read 1 message" in cli(env, "sim", "read", phone, "--chat", chat_id)
    assert chat_id in cli(env, "sim", "typing", phone, "--chat", chat_id, "--stop")
    chats = cli_json(env, "chats", "list")
    assert isinstance(chats, list)
    assert chat_id in {c["id"] for c in chats}
    assert chat_id in cli(env, "chats", "list")
    transcript = cli(env, "chats", "show", chat_id).splitlines()
    assert transcript[0].startswith(f"chat {chat_id}")
    assert "← " + phone in transcript[1]
    assert "hi from the shell" in transcript[1]
    assert "[image/png cat.png]" in transcript[2]
    assert "→ " + tenant.line in transcript[3]
    assert "yo" in transcript[3]
    shown = cli_json(env, "chats", "show", chat_id)
    assert isinstance(shown, dict)
    assert len(shown["messages"]) == 3
    events = {e["event_type"] for e in tenant.sim.events()}
    assert {"message.received", "reaction.added", "chat.typing_indicator.started"} <= events


def test_sim_send_from_a_blocked_phone_is_dropped_and_listed(
    env: dict[str, str], tenant: Tenant
) -> None:
    phone = fresh_line_number()
    assert cli(env, "sim", "dropped") == "nothing dropped\n"
    tenant.client.blocked_handles.block(handle=phone)
    assert "dropped" in cli(env, "sim", "send", phone, "anyone?", "--to", tenant.line)
    listed = cli(env, "sim", "dropped")
    assert f'{phone} → {tenant.line}  message: "anyone?"' in listed
    dropped = cli_json(env, "sim", "dropped")
    assert isinstance(dropped, list)
    assert dropped[0]["handle"] == phone


def test_sim_device_presets_clock_jobs_and_reset(env: dict[str, str], tenant: Tenant) -> None:
    phone = fresh_line_number()
    device = cli_json(env, "sim", "device", "set", phone, "--preset", "echo", "--read-after", "2s")
    assert isinstance(device, dict)
    assert device["profile"]["name"] == "echo_bot"
    assert device["profile"]["read_after"] == 2.0
    assert "configured" in cli(env, "sim", "device", "show", phone)
    tenant.client.chats.create(
        from_=tenant.line, to=[phone], message={"parts": [{"type": "text", "value": "ping"}]}
    )
    before = cli_json(env, "sim", "clock")
    assert isinstance(before, dict)
    assert before["mode"] == "manual"
    cli(env, "sim", "jobs", "run")
    for _ in range(10):
        cli(env, "sim", "clock", "advance", "1s")
    assert "echo: ping" in cli(env, "sim", "screen", phone)
    assert f"reset 1 phone(s): {phone}" in cli(env, "sim", "reset")
    assert '"configured": false' in cli(env, "sim", "device", "show", phone, "--json")
    assert "reachable=False" in cli(env, "sim", "device", "set", phone, "--unreachable")
    assert f"{phone} reset" in cli(env, "sim", "device", "reset", phone)


def test_sim_errors_are_one_line_from_the_linq_body(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["sim", "device", "set", fresh_line_number(), "--preset", "nope"], env=env
    )
    assert result.exit_code == 1
    assert result.output.startswith("openlinq: PUT /sim/v1/devices/")
    assert result.output.count("\n") == 1
    bad = runner.invoke(app, ["sim", "clock", "advance", "soon"], env=env)
    assert bad.exit_code == 2


def test_webhooks_list_deliveries_retry_and_recover(
    env: dict[str, str], tenant: Tenant, receiver: Receiver
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.received"]
    )
    assert subscription.id in cli(env, "webhooks", "list")
    tenant.sim.send(fresh_line_number(), to=tenant.line, text="hello")
    tenant.sim.settle(2)
    deliveries = cli_json(env, "webhooks", "deliveries", subscription.id)
    assert isinstance(deliveries, list)
    assert [d["status"] for d in deliveries] == ["succeeded"]
    assert "succeeded" in cli(env, "webhooks", "deliveries", subscription.id)
    retried = cli(env, "webhooks", "retry", subscription.id, deliveries[0]["id"])
    assert retried.startswith(f"message.received {deliveries[0]['event_id']} queued again")
    assert "requeued 0 failed deliveries" in cli(env, "webhooks", "recover", subscription.id)
    listed = cli_json(env, "webhooks", "list")
    assert isinstance(listed, list)
    assert [s["id"] for s in listed] == [subscription.id]


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "openlinq", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(process: subprocess.Popen[str], needle: str, timeout: float = 20) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} in {lines} / {process.stderr and process.stderr.read()}")


@pytest.fixture
def listening(
    env: dict[str, str], tenant: Tenant, receiver: Receiver
) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    port = free_port()
    # A subscription a killed listener left behind: listen replaces it instead of a 409.
    stale = tenant.client.webhook_subscriptions.create(
        target_url=f"http://127.0.0.1:{port}/webhooks", subscribed_events=["message.received"]
    )
    process = _spawn(
        env,
        "webhooks",
        "listen",
        "--port",
        str(port),
        "--forward-to",
        receiver.url("/agent/hook"),
        "--events",
        "message.received",
    )
    try:
        head = _read_until(process, "listening on")
        assert any(f"replaced stale subscription {stale.id}" in line for line in head), head
        secret = next(line.split(": ")[1].strip() for line in head if "signing secret" in line)
        yield process, port, secret
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_webhooks_listen_forwards_signed_deliveries_and_unsubscribes_on_sigterm(
    listening: tuple[subprocess.Popen[str], int, str], tenant: Tenant, receiver: Receiver
) -> None:
    process, port, secret = listening
    tenant.sim.send(fresh_line_number(), to=tenant.line, text="forward me")
    deadline = time.monotonic() + 20
    while not receiver.hits and time.monotonic() < deadline:
        tenant.sim.advance(1)
        time.sleep(0.05)
    assert receiver.hits, "nothing was forwarded"
    hit = receiver.hits[0]
    assert hit.path == "/agent/hook"
    # The target verifies the forwarded delivery as one from openlinq.
    Webhook(secret).verify(hit.body.decode(), hit.headers)
    assert hit.event["event_type"] == "message.received"
    line = _read_until(process, "message.received")[-1]
    assert "signed" in line
    assert "-> 200" in line
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "unsubscribed" in out
    targets = [s.target_url for s in tenant.client.webhook_subscriptions.list().subscriptions]
    assert f"http://127.0.0.1:{port}/webhooks" not in targets


def test_messages_tail_follows_new_messages(env: dict[str, str], tenant: Tenant) -> None:
    phone = fresh_line_number()
    tenant.sim.send(phone, to=tenant.line, text="old news")
    process = _spawn(env, "messages", "tail", "--interval", "100ms", "--count", "2", "--json")
    try:
        assert process.stderr is not None
        assert "following new messages" in process.stderr.readline()
        tenant.sim.send(phone, to=tenant.line, text="fresh")
        chat = tenant.sim.send(phone, to=tenant.line, text="fresher")["chat_id"]
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    followed = [json.loads(line) for line in out.splitlines()]
    assert [m["parts"][0]["value"] for m in followed] == ["fresh", "fresher"]
    assert {m["chat_id"] for m in followed} == {chat}


def test_sim_run_plays_a_scenario_and_exits_by_its_outcome(
    env: dict[str, str], tenant: Tenant
) -> None:
    example = Path(__file__).parents[2] / "examples" / "scenarios" / "booking.yaml"
    with running_agent(tenant, booking_agent):
        passed = runner.invoke(app, ["sim", "run", str(example)], env=env)
    assert passed.exit_code == 0, passed.output
    assert passed.output.startswith("Scenario 'Books a table")
    assert "FAIL" not in passed.output
    with running_agent(tenant, lambda _: (None, False)):
        failed = runner.invoke(app, ["sim", "run", str(example), "--json"], env=env)
    assert failed.exit_code == 1
    assert json.loads(failed.output)["passed"] is False


def test_sim_run_refuses_a_missing_or_broken_file_in_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = runner.invoke(app, ["sim", "run", str(tmp_path / "nope.yaml")], env=env)
    assert missing.exit_code == 2
    expected = f"openlinq: no scenario file at {tmp_path / 'nope.yaml'}"
    assert missing.output.strip().splitlines() == [expected]
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\npersonas: 3\n")
    result = runner.invoke(app, ["sim", "run", str(broken)], env=env)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_listings_never_cut_an_id_short_in_a_narrow_pipe(
    env: dict[str, str], tenant: Tenant
) -> None:
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=[fresh_line_number()],
        message={"parts": [{"type": "text", "value": "x"}]},
    )
    listed = runner.invoke(app, ["chats", "list"], env={**env, "COLUMNS": "80"})
    assert listed.exit_code == 0, listed.output
    assert created.chat.id in listed.output


def test_webhooks_listen_is_listening_before_it_subscribes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The subscription's first delivery is sent at once: the port must accept it then."""
    import socket

    from openlinq.cli import webhooks
    from openlinq.cli.common import CliError

    port = free_port()
    accepted: list[bool] = []

    def subscribe(api: object, target_url: str, wanted: list[str]) -> tuple[str, str]:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            accepted.append(True)
        raise CliError("stopped by the test after subscribing")

    monkeypatch.setattr(webhooks, "_subscribe", subscribe)
    result = runner.invoke(app, ["webhooks", "listen", "--port", str(port), "--api-key", "k"])
    assert "stopped by the test" in result.output, result.output
    assert accepted == [True]
