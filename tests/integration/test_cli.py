"""The openlinq command: serve prints what a developer needs; accounts, keys, lines."""

from __future__ import annotations

import os
import re
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
from tests.support.server import free_port
from tests.support.tenant import fresh_line_number

runner = CliRunner()


@pytest.fixture
def db_args(database_url: str, tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
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


def test_adding_a_line_to_an_unknown_account_fails(db_args: list[str]) -> None:
    result = runner.invoke(app, ["lines", "add", "no-such-account", fresh_line_number(), *db_args])
    assert result.exit_code != 0


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
        [sys.executable, "-m", "openlinq", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "openlinq serve did not come up in 30 s"
        time.sleep(0.1)
    try:
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


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
    for number in numbers:
        assert number in output
