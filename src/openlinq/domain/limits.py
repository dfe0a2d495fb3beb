"""Sliding-window rate limits, counted in the database so every process shares them.

A limit is a count per window for a key (a line, a chat, a sender-recipient
pair). ``take`` takes one unit inside the caller's transaction or raises 429
with the seconds until the oldest counted hit leaves the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import Account, AccountTier
from openlinq.store.repos import Repos


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    count: int
    window: timedelta
    message: str

    async def take(self, repos: Repos, subject: str, now: datetime) -> None:
        key = f"{self.name}:{subject}"
        await repos.locks.hold(f"limit:{key}")
        since = now - self.window
        used, oldest = await repos.rates.hits_since(key, since)
        if used >= self.count:
            wait = (oldest + self.window - now).total_seconds() if oldest else 1.0
            raise LinqError(
                ErrorCode.RATE_LIMITED, self.message, retry_after=max(1, math.ceil(wait))
            )
        await repos.rates.hit(key, now)


CONTACT_CARD_WRITES = Limit(
    "contact_card_writes",
    3,
    timedelta(minutes=10),
    "contact card changes are limited to 3 per 10 minutes per phone number",
)
CONTACT_CARD_SHARES = Limit(
    "contact_card_shares",
    1,
    timedelta(minutes=5),
    "a contact card can be shared once per chat every 5 minutes",
)
LOCATION_REQUESTS = Limit(
    "location_requests",
    1,
    timedelta(minutes=1),
    "location can be requested once per chat per minute",
)

DEFAULT_PAIR_LIMIT = 30
SANDBOX_DAILY_LIMIT = 100


def pair_limit(account: Account) -> Limit | None:
    """30 messages a minute per sender-recipient pair: stops bot loops. 0 lifts it."""
    count = account.pair_limit_per_minute
    count = DEFAULT_PAIR_LIMIT if count is None else count
    if count == 0:
        return None
    return Limit(
        "pair",
        count,
        timedelta(seconds=60),
        f"at most {count} messages a minute to one recipient from one line",
    )


def daily_limit(account: Account) -> Limit | None:
    """Sandbox accounts send 100 messages a day; others are not capped unless configured."""
    count = account.daily_message_limit
    if count is None and account.tier is AccountTier.SANDBOX:
        count = SANDBOX_DAILY_LIMIT
    if not count:
        return None
    return Limit("daily", count, timedelta(days=1), f"at most {count} messages a day")


async def take_send_limits(
    repos: Repos, account: Account, line_number: str, recipients: list[str], now: datetime
) -> None:
    """Count one outbound message against every limit it falls under, or refuse it."""
    pair = pair_limit(account)
    if pair is not None:
        for recipient in recipients:
            await pair.take(repos, f"{line_number}>{recipient}", now)
    daily = daily_limit(account)
    if daily is not None:
        await daily.take(repos, account.id, now)
