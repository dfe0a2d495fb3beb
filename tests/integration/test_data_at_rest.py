"""Data at rest: private file modes whatever the umask, and no API key kept in clear."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from typer.testing import CliRunner

from openlinq.banner import _remember_sandbox_key
from openlinq.cli import app
from openlinq.config import Settings
from openlinq.domain.accounts import Sandbox
from openlinq.domain.clock import ManualClock
from openlinq.domain.ids import AccountId
from openlinq.domain.models import Account, AccountTier
from openlinq.store.engine import Database
from openlinq.store.migrate import alembic_config
from openlinq.wiring import build_services
from tests.support.files import PNG
from tests.support.server import run_server
from tests.support.tenant import create_tenant


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask: files 0644 and folders 0755 unless the server says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_database_and_attachments_are_private_under_umask_022(
    umask_022: None, backend: str, fresh_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(
        # SQLite in the data dir by default; PostgreSQL keeps only attachments there.
        database_url=None if backend == "sqlite" else fresh_database_url,
        data_dir=data_dir,
        clock="manual",
    )
    with run_server(settings, ManualClock()) as server:
        tenant = create_tenant(server)
        upload = tenant.client.attachments.create(
            filename="photo.png", content_type="image/png", size_bytes=len(PNG)
        )
        httpx.put(
            upload.upload_url, content=PNG, headers=upload.required_headers
        ).raise_for_status()
        tenant.client.chats.create(
            from_=tenant.line,
            to=["+14155556001"],
            message={"parts": [{"type": "media", "attachment_id": upload.attachment_id}]},
        )
        tenant.client.close()
        tenant.http.close()
        files = [p for p in data_dir.rglob("*") if p.is_file()]
        folders = [data_dir, *(p for p in data_dir.rglob("*") if p.is_dir())]
        assert any(p.parent.parent.name == "attachments" for p in files)
        if backend == "sqlite":
            names = {p.name for p in files}
            assert {"openlinq.db", "openlinq.db-wal", "openlinq.db-shm"} <= names
        assert {str(p): _mode(p) for p in files} == {str(p): 0o600 for p in files}
        assert {str(p): _mode(p) for p in folders} == {str(p): 0o700 for p in folders}


def test_the_remembered_sandbox_key_is_private(umask_022: None, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    account = Account(AccountId("a"), "sandbox", AccountTier.LOCAL, datetime.now(UTC))
    _remember_sandbox_key(settings, Sandbox(account, [], "olq_" + "k" * 43, created=True))
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(tmp_path / "data" / "sandbox-api-key") == 0o600


def _prefixes(url: str) -> dict[str, str | None]:
    async def read() -> dict[str, str | None]:
        db = Database(url)
        try:
            async with db.read() as conn:
                rows = await conn.execute(text("SELECT name, prefix FROM api_keys"))
                return {r.name: r.prefix for r in rows}
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_only_generated_keys_keep_a_prefix_and_keys_list_still_works(
    fresh_database_url: str, tmp_path: Path
) -> None:
    args = ["--data-dir", str(tmp_path / "data"), "--database-url", fresh_database_url]
    runner = CliRunner()
    assert runner.invoke(app, ["migrate", *args]).exit_code == 0
    created = runner.invoke(app, ["accounts", "create", "acme", *args])
    assert created.exit_code == 0, created.output
    account_id = created.output.split()[1]
    key = created.output.split("API key (shown once): ")[1].split()[0]

    async def add_chosen_key() -> None:
        services = build_services(Settings(database_url=fresh_database_url))
        try:
            await services.accounts.add_key(AccountId(account_id), "dev", "short-dev-key")
        finally:
            await services.db.dispose()

    asyncio.run(add_chosen_key())
    assert _prefixes(fresh_database_url) == {"default": key[:8], "dev": None}
    assert len(key) >= 32
    assert key.startswith("olq_")
    listed = runner.invoke(app, ["keys", "list", account_id, *args], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert f"{key[:8]}…" in listed.output
    assert "(chosen key)" in listed.output
    assert "short-dev" not in listed.output


def test_the_migration_scrubs_every_stored_prefix(fresh_database_url: str) -> None:
    async def scenario() -> None:
        db = Database(fresh_database_url)
        try:
            async with db.transaction() as conn:
                await conn.run_sync(
                    lambda c: command.upgrade(alembic_config(c), "0007")  # before the fix
                )
                await conn.execute(
                    text(
                        "INSERT INTO accounts (id, name, tier, created_at) "
                        "VALUES ('a1', 'old', 'standard', :now)"
                    ),
                    {"now": datetime.now(UTC)},
                )
                await conn.execute(
                    text(
                        "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, created_at) "
                        "VALUES ('k1', 'a1', 'dev', 'devkey12', 'h1', :now)"
                    ),
                    {"now": datetime.now(UTC)},
                )
            async with db.transaction() as conn:
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
        finally:
            await db.dispose()

    asyncio.run(scenario())
    assert _prefixes(fresh_database_url) == {"dev": None}
