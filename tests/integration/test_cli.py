"""The openlinq command: serve, the operator commands, one-line errors, completion, start-up."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from linq import LinqAPIV3
from typer.testing import CliRunner

from openlinq.cli import app
from tests.support.server import START_SECONDS, free_port
from tests.support.tenant import fresh_line_number

runner = CliRunner()


def openlinq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command, as a person runs it (a real process)."""
    return subprocess.run(
        [sys.executable, "-m", "openlinq", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.fixture
def db_args(database_url: str, tmp_path: Path) -> list[str]:
    args = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    invoke("migrate", *args)
    return args


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_accounts_keys_and_lines_are_managed_from_the_cli(db_args: list[str]) -> None:
    created = invoke("accounts", "create", "acme", *db_args)
    account_id = re.search(r"account (\S+) \(acme, standard\)", created)
    first_key = re.search(r"API key \(shown once\): (\S+)", created)
    assert account_id
    assert first_key
    number = fresh_line_number()
    assert number in invoke("lines", "add", account_id.group(1), number, "--type", "RCS", *db_args)
    assert number in invoke("lines", "list", account_id.group(1), *db_args)
    listing = invoke("accounts", "list", *db_args)
    assert "acme" in listing
    assert number in listing
    second_key = re.search(
        r"API key \(shown once\): (\S+)", invoke("keys", "create", account_id.group(1), *db_args)
    )
    assert second_key
    assert second_key.group(1) != first_key.group(1)


def test_every_operator_listing_has_json(db_args: list[str]) -> None:
    created = json.loads(invoke("accounts", "create", "jsonco", "--json", *db_args))
    number = fresh_line_number()
    line = json.loads(invoke("lines", "add", created["id"], number, "--json", *db_args))
    assert line["phone_number"] == number
    assert created["api_key"].startswith("olq_")
    accounts = json.loads(invoke("accounts", "list", "--json", *db_args))
    mine = next(a for a in accounts if a["id"] == created["id"])
    assert [x["phone_number"] for x in mine["lines"]] == [number]
    lines = json.loads(invoke("lines", "list", created["id"], "--json", *db_args))
    assert [x["phone_number"] for x in lines] == [number]
    every_line = json.loads(invoke("lines", "list", "--json", *db_args))
    assert number in {x["phone_number"] for x in every_line}
    keys = json.loads(invoke("keys", "list", created["id"], "--json", *db_args))
    assert [k["prefix"] for k in keys] == [created["api_key"][:8]]


def test_an_unknown_account_is_one_line_and_debug_shows_the_traceback(db_args: list[str]) -> None:
    number = fresh_line_number()
    plain = openlinq("lines", "add", "no-such-account", number, *db_args)
    assert plain.returncode == 1
    assert plain.stderr.count("\n") == 1, plain.stderr
    assert plain.stderr.startswith("openlinq: ")
    assert "Traceback" not in plain.stderr
    listed = openlinq("lines", "list", "no-such-account", *db_args)
    assert (listed.returncode, listed.stderr) == (1, "openlinq: no account no-such-account\n")
    debug = openlinq("--debug", "lines", "add", "no-such-account", number, *db_args)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_operator_commands_refuse_a_missing_database_and_say_where_they_looked(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "typo"
    result = openlinq(
        "accounts", "list", "--data-dir", str(folder), env={"OPENLINQ_DATABASE_URL": ""}
    )
    assert result.returncode == 1
    assert str(folder.resolve() / "openlinq.db") in result.stderr
    assert "--data-dir" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not folder.exists()


def test_api_commands_without_a_server_say_so_in_one_line() -> None:
    base = f"http://127.0.0.1:{free_port()}/api/partner"
    result = openlinq(
        "sim", "clock", env={"LINQ_API_V3_BASE_URL": base, "LINQ_API_V3_API_KEY": "olq_x"}
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"openlinq: cannot reach openlinq at {base}")
    assert result.stderr.count("\n") == 1
    no_key = openlinq("sim", "clock", env={"LINQ_API_V3_API_KEY": ""})
    assert no_key.returncode == 2
    assert "LINQ_API_V3_API_KEY" in no_key.stderr


def test_shell_completion_completes_commands_and_options() -> None:
    env = {"_OPENLINQ_COMPLETE": "complete_bash", "COMP_WORDS": "openlinq si", "COMP_CWORD": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", "from openlinq.cli import app; app(prog_name='openlinq')"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
    )
    assert completed.stdout.split() == ["sim"]


def test_the_cli_imports_no_server_module_at_start() -> None:
    """Start-up time: --help and API commands must not pay for the server's imports."""
    probe = (
        "import sys, openlinq.cli; "
        "print(sorted(m for m in ('httpx', 'fastapi', 'sqlalchemy', 'pydantic', 'uvicorn', "
        "'rich', 'openlinq.wiring') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_serve_says_the_port_is_taken_before_any_banner(tmp_path: Path, database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = openlinq(
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d"),
            "--database-url",
            database_url,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"openlinq: port {port} on 127.0.0.1 is already in use (another openlinq?); "
        "choose another with --port or OPENLINQ_PORT\n"
    )


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {
        **os.environ,
        "OPENLINQ_PORT": str(port),
        "OPENLINQ_DATA_DIR": str(tmp_path / "served"),
        "OPENLINQ_DEV_API_KEY": "olq_cli_test_key",
        "OPENLINQ_DATABASE_URL": database_url,
        "COLUMNS": "200",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "openlinq", "serve", "--log-format", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"openlinq serve did not come up in {START_SECONDS} s"
        time.sleep(0.1)
    try:
        yield base, process
    finally:
        process.terminate()
        process.communicate(timeout=30)  # a test that read no output: the pipe closes too


def test_serve_becomes_the_lean_server_process_keeping_its_pid(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    """The CLI (typer, click, rich) hands over to a fresh interpreter running only the server;
    the PID stays, so signals and supervisors reach the server."""
    _, process = served
    command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    assert command[-3:] == [b"-m", b"openlinq.server_main", b""]


def test_serve_prints_the_base_url_key_and_lines_and_the_sdk_works(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = served
    with LinqAPIV3(
        base_url=f"{base}/api/partner", api_key="olq_cli_test_key", max_retries=0
    ) as client:
        numbers = [n.phone_number for n in client.phone_numbers.list().phone_numbers]
    assert numbers
    process.terminate()
    output = process.communicate(timeout=30)[0]
    assert f"LINQ_API_V3_BASE_URL={base}/api/partner" in output
    assert "LINQ_API_V3_API_KEY=olq_cli_test_key" in output
    assert f"console: {base}/console" in output
    for number in numbers:
        assert number in output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert logged, output
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in logged)


def test_an_operator_enables_and_disables_payment_requests_per_account(
    db_args: list[str],
) -> None:
    created = json.loads(invoke("accounts", "create", "payco", "--json", *db_args))
    shown = json.loads(invoke("accounts", "payments", created["id"], "--json", *db_args))
    # Local mode: payments start enabled, so agents can test them at once.
    assert shown == {"stripe_charges_enabled": True, "natural_onboarded": True}
    off = invoke("accounts", "payments", created["id"], "--no-stripe", *db_args)
    assert off.strip() == (f"account {created['id']}: stripe charges disabled, natural onboarded")
    both = json.loads(
        invoke(
            "accounts", "payments", created["id"], "--stripe", "--no-natural", "--json", *db_args
        )
    )
    assert both == {"stripe_charges_enabled": True, "natural_onboarded": False}
    unknown = openlinq("accounts", "payments", "no-such-account", "--stripe", *db_args)
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1
    assert "account no-such-account does not exist" in unknown.stderr


def test_line_and_key_changes_from_the_cli_are_account_events(
    db_args: list[str], database_url: str
) -> None:
    from openlinq.cli.operator import run
    from openlinq.domain.ids import AccountId
    from openlinq.wiring import Services

    created = json.loads(invoke("accounts", "create", "eventco", "--json", *db_args))
    account = created["id"]
    number = fresh_line_number()
    invoke("lines", "add", account, number, *db_args)
    assert "+14155559999" in invoke(
        "lines", "forwarding", account, number, "+14155559999", *db_args
    )
    assert "zero retention on" in invoke("lines", "zero-retention", account, number, "on", *db_args)
    key = re.search(r"API key \(shown once\): (\S+)", invoke("keys", "create", account, *db_args))
    assert key
    keys = json.loads(invoke("keys", "list", account, "--json", *db_args))
    invoke("keys", "revoke", keys[-1]["id"], *db_args)
    (line,) = json.loads(invoke("lines", "list", account, "--json", *db_args))
    assert (line["forwarding_number"], line["zero_retention"]) == ("+14155559999", True)
    assert f"{number} released" in invoke("lines", "release", account, number, *db_args)
    (released,) = json.loads(invoke("lines", "list", account, "--json", *db_args))
    assert released["released_at"] is not None
    bad = runner.invoke(app, ["lines", "zero-retention", account, number, "maybe", *db_args])
    assert bad.exit_code == 2

    async def recorded(services: Services) -> list[tuple[str, str]]:
        async with services.storage.read() as repos:
            events = await repos.events.recent(AccountId(account))
        return [(e.type, e.data.get("origin", "")) for e in reversed(events)]

    assert run(None, database_url, recorded) == [
        ("phone_number.assigned", ""),
        ("phone_number.forwarding_updated", "linq"),
        ("zero_day_retention.updated", "linq"),
        ("api_token.created", "linq"),
        ("api_token.deleted", "linq"),
        ("phone_number.released", ""),
    ]


def test_a_line_s_carrier_is_set_from_the_cli_with_its_password_masked(
    db_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlinq.delivery.routing import KINDS
    from tests.support.relay_carrier import KIND

    monkeypatch.setitem(KINDS, "relay", KIND)
    created = invoke("accounts", "create", "gateways", *db_args)
    account = re.search(r"account (\S+) \(gateways", created)
    assert account
    number = fresh_line_number()
    invoke("lines", "add", account.group(1), number, *db_args)
    assert f"{number}: simulator" in invoke("lines", "carrier", account.group(1), number, *db_args)
    args = ["lines", "carrier", account.group(1), number, "relay", "--url", "http://127.0.0.1:9"]
    result = runner.invoke(
        app, [*args, "--password", "-", "--set", "services=SMS", *db_args], input="hunter2\n"
    )
    assert result.exit_code == 0, result.output
    assert f"{number}: relay (password=••••, services=['SMS'], url=http://127.0.0.1:9)" in (
        result.output
    )
    assert "inbound URL" in result.output
    assert "/carriers/relay/" in result.output
    assert "warning: that URL is on loopback; set OPENLINQ_PUBLIC_URL" in result.output
    assert "hunter2" not in result.output
    shown = json.loads(invoke("lines", "carrier", account.group(1), number, "--json", *db_args))
    assert shown["carrier"] == "relay"
    assert shown["settings"]["password"] == "••••"
    assert shown["inbound_url"] is None
    refused = runner.invoke(
        app, ["lines", "carrier", account.group(1), number, "relay", "--url", "x", *db_args]
    )
    assert refused.exit_code == 1
    assert "url and password are required" in refused.output
    missing = runner.invoke(app, ["lines", "carrier", account.group(1), number, "pigeon", *db_args])
    assert "unknown carrier 'pigeon'" in missing.output


def test_a_carriers_file_sets_lines_and_a_bad_entry_changes_none(
    db_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlinq.delivery.routing import KINDS
    from tests.support.relay_carrier import KIND

    monkeypatch.setitem(KINDS, "relay", KIND)
    monkeypatch.setenv("RELAY_PASSWORD", "hunter2")
    created = invoke("accounts", "create", "declared", *db_args)
    account = re.search(r"account (\S+) \(declared", created)
    assert account
    relayed, plain = fresh_line_number(), fresh_line_number()
    for number in (relayed, plain):
        invoke("lines", "add", account.group(1), number, *db_args)
    entries = (
        f'[[line]]\naccount = "{account.group(1)}"\nphone_number = "{relayed}"\n'
        'carrier = "relay"\nsettings = { url = "http://127.0.0.1:9", '
        'password = { env = "RELAY_PASSWORD" } }\n'
        f'[[line]]\naccount = "{account.group(1)}"\nphone_number = "{plain}"\n'
        'carrier = "simulator"\n'
    )
    declared = tmp_path / "carriers.toml"
    declared.write_text(entries)
    applied = invoke("lines", "apply", str(declared), *db_args)
    assert f"{relayed}: relay (set)" in applied
    assert f"{plain}: simulator (unchanged)" in applied
    assert "/carriers/relay/" in applied
    assert "hunter2" not in applied
    again = json.loads(invoke("lines", "apply", str(declared), "--json", *db_args))
    assert [(view["carrier"], view["changed"]) for view in again] == [
        ("relay", False),
        ("simulator", False),
    ]
    assert again[0]["settings"]["password"] == "••••"
    # The second entry is bad: the first (a change to the simulator) must not be applied either.
    declared.write_text(
        f'[[line]]\naccount = "{account.group(1)}"\nphone_number = "{relayed}"\n'
        'carrier = "simulator"\n'
        f'[[line]]\naccount = "{account.group(1)}"\nphone_number = "+14155550999"\n'
        'carrier = "simulator"\n'
    )
    refused = runner.invoke(app, ["lines", "apply", str(declared), *db_args])
    assert refused.exit_code == 1
    assert len(refused.output.strip().splitlines()) == 1, refused.output
    assert "+14155550999" in refused.output
    shown = invoke("lines", "carrier", account.group(1), relayed, *db_args)
    assert f"{relayed}: relay" in shown
    declared.write_text("[[line]]\nphone_number = 1\n")
    malformed = runner.invoke(app, ["lines", "apply", str(declared), *db_args])
    assert malformed.exit_code == 1
    assert "entry 1: account must be a non-empty string" in malformed.output
    missing = runner.invoke(app, ["lines", "apply", str(tmp_path / "nope.toml"), *db_args])
    assert "cannot read" in missing.output


def test_carrier_mistakes_are_one_plain_line_that_never_echoes_a_secret(
    db_args: list[str], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlinq.delivery.routing import KINDS
    from tests.support.relay_carrier import KIND

    monkeypatch.setitem(KINDS, "relay", KIND)
    created = invoke("accounts", "create", "mistakes", *db_args)
    account = re.search(r"account (\S+) \(mistakes", created)
    assert account
    number = fresh_line_number()
    invoke("lines", "add", account.group(1), number, *db_args)
    base = ["lines", "carrier", account.group(1), number]

    def one_line(args: list[str], env: dict[str, str] | None = None) -> str:
        result = runner.invoke(app, args, env={"COLUMNS": "200", **(env or {})})
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert "Error:" not in result.output  # no exception class name
        assert "--debug" not in result.output
        return result.output

    typo = one_line([*base, "relay", "--url", "http://127.0.0.1:9", "--set", "password:hunter22"])
    assert "hunter22" not in typo
    assert "KEY=VALUE" in typo
    assert "does not exist" in one_line(["lines", "carrier", "nope", number, *db_args])
    set_it = [*base, "relay", "--url", "http://127.0.0.1:9", "--password", "pw", *db_args]
    loopback = invoke_env(set_it, {"OPENLINQ_PUBLIC_URL": "http://localhost:8080"})
    assert "OPENLINQ_PUBLIC_URL (http://localhost:8080) is a loopback address" in loopback
    shown = json.loads(invoke(*base, "--json", *db_args))
    assert shown["changed"] is False
    listed = json.loads(invoke("lines", "list", account.group(1), "--json", *db_args))
    assert [(line["phone_number"], line["carrier"]) for line in listed] == [(number, "relay")]
    assert "carrier" in invoke("lines", "list", account.group(1), *db_args).splitlines()[1]
    # Another directory, without the key: said so, and no key (nor directory) is made there.
    elsewhere = tmp_path / "elsewhere"
    other = [*base, "--data-dir", str(elsewhere), "--database-url", database_url]
    assert "no carrier key: set OPENLINQ_CARRIER_KEY" in one_line(other)
    assert not elsewhere.exists()
    bad_key = one_line([*base, *db_args], {"OPENLINQ_CARRIER_KEY": "notakey"})
    assert "OPENLINQ_CARRIER_KEY is not a Fernet key" in bad_key
    declared = tmp_path / "carriers.toml"
    declared.write_text(
        f'[[line]]\naccount = "{account.group(1)}"\nphone_number = "{number}"\n'
        'carrier = "relay"\nsettings = { url = "http://127.0.0.1:9", pasword = "x" }\n'
    )
    applied = one_line(["lines", "apply", str(declared), *db_args])
    assert f"entry 1 ({number}): relay: unknown settings: pasword" in applied


def invoke_env(args: list[str], env: dict[str, str]) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": "200", **env})
    assert result.exit_code == 0, result.output
    return result.output
