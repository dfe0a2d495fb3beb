"""Write transactions on a real database: what happens after the commit (issue #10, item 1)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from openlinq.store.tables import server_settings
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio


async def test_a_failing_after_commit_callback_leaves_the_commit_and_the_caller_alone(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """The commit stands, so the caller must get its committed result, not an error it
    would retry (and so apply twice); later callbacks still run."""
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("a cache blew up after the commit")

    with caplog.at_level(logging.ERROR):
        async with storage.write() as repos:
            await repos.conn.execute(server_settings.insert().values(key="k", value="v"))
            repos.after_commit(broken)
            repos.after_commit(lambda: ran.append("later"))
    assert ran == ["later"]
    assert "after-commit callback failed" in caplog.text
    async with storage.read() as repos:
        rows = list(
            await repos.conn.execute(
                select(server_settings.c.value).where(server_settings.c.key == "k")
            )
        )
    assert [r.value for r in rows] == ["v"]
