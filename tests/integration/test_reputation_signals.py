"""The reputation model's signals: the aggregate queries agree with a count done by hand
over a random history, and on SQLite no query scans a table (the work stays bounded by the
window however many messages the database holds)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from openlinq.domain import reputation
from openlinq.domain.ids import AccountId, LineId
from openlinq.domain.models import ChatHealth, Line, LineStatus, LineType, Reputation
from openlinq.store import tables
from openlinq.store.unit import Storage

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
START = NOW - timedelta(days=12)
HEALTHS = (ChatHealth.HEALTHY,) * 5 + (ChatHealth.AT_RISK, ChatHealth.CRITICAL)


def _row(**values: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), **values}


class History:
    """A seeded random history of one account's two lines; ``expected`` counts it by hand."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.account = str(uuid.uuid4())
        self.lines = [_row(phone_number=f"+1628555{seed % 1000:03d}{i}") for i in range(2)]
        self.chats: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.opt_outs: list[dict[str, Any]] = []
        for n in range(60):
            line = self.lines[n % 2]
            created = START + timedelta(seconds=rng.uniform(0, 12 * 86_400))
            chat = _row(line_id=line["id"], created_at=created, health=rng.choice(HEALTHS))
            at = created
            for _ in range(rng.randint(1, 60)):
                direction = rng.choice(("outbound", "outbound", "inbound"))
                status = (
                    rng.choice(("delivered", "failed", "read"))
                    if direction == "outbound"
                    else "received"
                )
                self.messages.append(
                    _row(
                        chat_id=chat["id"],
                        direction=direction,
                        delivery_status=status,
                        created_at=at,
                    )
                )
                at += timedelta(seconds=rng.expovariate(1 / 7_000))
                if at >= NOW:
                    break
            if rng.random() < 0.15:
                chat["health"] = ChatHealth.OPTED_OUT
                self.opt_outs.append(
                    {
                        "handle": f"+1650{n:07d}",
                        "chat_id": chat["id"],
                        "opted_out_at": created + (at - created) / 2,
                    }
                )
            chat["last_activity_at"] = max(
                [m["created_at"] for m in self.messages if m["chat_id"] == chat["id"]]
            )
            self.chats.append(chat)
        # seq follows created_at, as it does when messages are written as they happen.
        self.messages.sort(key=lambda m: m["created_at"])
        for message in self.messages:
            if message["direction"] == "outbound" and rng.random() < 0.2:
                self.reactions.append(
                    _row(
                        message_id=message["id"],
                        created_at=message["created_at"] + timedelta(minutes=1),
                    )
                )

    def line(self, index: int) -> Line:
        row = self.lines[index]
        return Line(
            id=LineId(row["id"]),
            account_id=AccountId(self.account),
            phone_number=row["phone_number"],
            line_type=LineType.IMESSAGE,
            rcs_enabled=False,
            status=LineStatus.ACTIVE,
            reputation=Reputation.HEALTHY,
            forwarding_number=None,
            last_used_at=None,
            created_at=START,
        )

    async def store(self, storage: Storage) -> None:
        async with storage.write() as repos:
            conn = repos.conn
            await conn.execute(
                insert(tables.accounts).values(
                    id=self.account, name="t", tier="standard", created_at=START
                )
            )
            for line in self.lines:
                await conn.execute(
                    insert(tables.lines).values(
                        **line,
                        account_id=self.account,
                        line_type="iMessage",
                        rcs_enabled=False,
                        status="ACTIVE",
                        reputation="HEALTHY",
                        created_at=START,
                    )
                )
            for chat in self.chats:
                await conn.execute(
                    insert(tables.chats).values(
                        id=chat["id"],
                        account_id=self.account,
                        line_id=chat["line_id"],
                        is_group=False,
                        service="iMessage",
                        health=chat["health"].value,
                        health_updated_at=chat["last_activity_at"],
                        recipient_key=chat["id"],
                        created_at=chat["created_at"],
                        updated_at=chat["last_activity_at"],
                        last_activity_at=chat["last_activity_at"],
                    )
                )
            await conn.execute(
                insert(tables.messages),
                [
                    {
                        **m,
                        "account_id": self.account,
                        "sender_handle": "+16505550000",
                        "parts": [{"type": "text", "value": "x"}],
                        "service": "iMessage",
                        "updated_at": m["created_at"],
                        "extra": {},
                    }
                    for m in self.messages
                ],
            )
            await conn.execute(
                insert(tables.reactions),
                [
                    {**r, "part_index": 0, "handle": "+16505550000", "is_me": False, "type": "love"}
                    for r in self.reactions
                ],
            )
            for opt_out in self.opt_outs:
                await conn.execute(
                    insert(tables.opt_outs).values(
                        **opt_out, account_id=self.account, keyword="STOP"
                    )
                )

    def expected(self, index: int) -> dict[str, Any]:
        since, today = NOW - reputation.WINDOW, NOW - reputation.DAY
        line_id = self.lines[index]["id"]
        chats = {c["id"]: c for c in self.chats if c["line_id"] == line_id}
        active = {i for i, c in chats.items() if c["last_activity_at"] >= since}
        ours = [m for m in self.messages if m["chat_id"] in chats and m["created_at"] >= since]
        out = [m for m in ours if m["direction"] == "outbound"]
        inbound = [m for m in ours if m["direction"] == "inbound"]
        reacted = {r["message_id"]: r for r in self.reactions}
        reactions = [reacted[m["id"]] for m in out if m["id"] in reacted]
        first: dict[str, dict[str, Any]] = {}
        replies: Counter[str] = Counter()
        for m in self.messages:
            first.setdefault(m["chat_id"], m)
            if m["direction"] == "inbound":
                replies[m["chat_id"]] += 1
        started = [
            i
            for i in active
            if chats[i]["created_at"] >= since and first[i]["direction"] == "outbound"
        ]
        stops = [o for o in self.opt_outs if o["chat_id"] in chats]
        after = {
            o["chat_id"]: sum(
                1
                for m in self.messages
                if m["chat_id"] == o["chat_id"]
                and m["direction"] == "outbound"
                and m["created_at"] > o["opted_out_at"]
            )
            for o in stops
            if o["opted_out_at"] >= since
            or chats[o["chat_id"]]["last_activity_at"] > o["opted_out_at"]
        }
        return {
            "conversations": len(active),
            "health_counts": dict(Counter(chats[i]["health"] for i in active)),
            "sent": len(out),
            "failed": sum(1 for m in out if m["delivery_status"] == "failed"),
            "responses": len(inbound) + len(reactions),
            "sent_today": sum(1 for m in out if m["created_at"] >= today),
            "received_today": sum(1 for m in inbound if m["created_at"] >= today),
            "responses_today": sum(1 for m in inbound if m["created_at"] >= today)
            + sum(1 for r in reactions if r["created_at"] >= today),
            "new_conversations": len(started),
            "engaged_new_conversations": sum(
                1 for i in started if replies[i] >= reputation.ENGAGED_RESPONSES
            ),
            "new_conversations_today": sum(1 for i in started if chats[i]["created_at"] >= today),
            "opt_outs": sum(1 for o in stops if o["opted_out_at"] >= since),
            "opt_out_chats": sorted(after.items()),
            "unhealthy": {i for i in active if chats[i]["health"] is not ChatHealth.HEALTHY},
        }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_signals_match_a_count_by_hand(storage: Storage, seed: int) -> None:
    history = History(seed)
    await history.store(storage)
    for index in (0, 1):
        async with storage.read() as repos:
            signals = await reputation.collect(repos, history.line(index), NOW)
        expected = history.expected(index)
        unhealthy = expected.pop("unhealthy")
        opt_out_chats = expected.pop("opt_out_chats")
        assert {name: getattr(signals, name) for name in expected} == expected
        assert sorted((c.chat_id, c.messages_after_stop) for c in signals.opt_out_chats) == (
            opt_out_chats[: reputation.EVIDENCE_LIMIT]
            if len(opt_out_chats) <= reputation.EVIDENCE_LIMIT
            else sorted((c.chat_id, c.messages_after_stop) for c in signals.opt_out_chats)
        )
        found = {c.chat_id for c in signals.unhealthy_chats}
        assert found <= unhealthy
        assert len(found) == min(len(unhealthy), reputation.EVIDENCE_LIMIT)


async def test_no_signal_query_scans_a_table(backend: str, storage: Storage) -> None:
    if backend != "sqlite":
        pytest.skip("the plans checked are SQLite's")
    history = History(7)
    await history.store(storage)
    sqlite = storage.db.sqlite
    assert sqlite is not None
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(sqlite.engine, "before_cursor_execute", record)
    try:
        async with storage.read() as repos:
            await reputation.collect(repos, history.line(0), NOW)
            rescored = await repos.reputation.lines_to_rescore(NOW - reputation.DAY)
    finally:
        event.remove(sqlite.engine, "before_cursor_execute", record)
    assert len(seen) >= 8
    active = {c["line_id"] for c in history.chats if c["last_activity_at"] >= NOW - reputation.DAY}
    assert set(rescored) == active
    with sqlite.engine.connect() as conn:
        for statement, parameters in seen:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN ")]
            # A scan of a subquery's few rows is fine, and of the lines (the hourly job looks
            # at each line); of any other table, never.
            tables_scanned = [
                s
                for s in scans
                if "SUBQUERY" not in s and "CORRELATED" not in s and not s.startswith("SCAN lines")
            ]
            assert not tables_scanned, (
                statement,
                plan,
            )
