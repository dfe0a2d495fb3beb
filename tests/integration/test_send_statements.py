"""The order of a send's statements: its line's row is locked last, for the commit alone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.support.server import RunningServer
from tests.support.tenant import Tenant


def test_a_send_updates_its_line_as_its_last_statement(
    backend: str, server: RunningServer, tenant: Tenant
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has one writer: a row lock held longer costs nothing there")
    engine = server.services.db.engine
    assert engine is not None
    statements: list[tuple[int, str]] = []

    def seen(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append((id(conn), " ".join(statement.split()[:3])))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        tenant.client.chats.create(
            from_=tenant.lines[0].phone_number,
            to=["+16285550142"],
            message={"parts": [{"type": "text", "value": "hello"}]},
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    [send] = {conn for conn, text in statements if text.startswith("INSERT INTO messages")}
    ours = [text for conn, text in statements if conn == send]
    after_insert = ours[ours.index(next(t for t in ours if t.startswith("INSERT INTO messages"))) :]
    assert after_insert[-1].startswith("UPDATE lines"), after_insert
