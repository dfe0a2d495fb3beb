"""The delivery retry policy: which outcomes retry, and when.

10 attempts over about 25 minutes (the platform's documented policy): the
n-th retry waits 3 s * 2^(n-1), +/-15 % jitter — 3 s, 6 s, 12 s ... 768 s, about
1,530 s in all and never past 30 minutes. 5xx, 429, timeouts and connection errors retry; a 429's
``Retry-After`` replaces the computed wait (up to an hour); any other status is
final, redirects included (they are never followed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_ATTEMPTS = 10
BASE_DELAY_SECONDS = 3.0
JITTER = 0.15
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result: a status code, or an error when there was no response."""

    status_code: int | None
    error: str | None = None
    retry_after: float | None = None
    refused: bool = False  # we would not send it (e.g. a private address in hosted mode)
    timed_out: bool = False  # no answer within the attempt's deadline

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.refused:
            return False
        if self.status_code is None:
            return True  # timeout, refused connection, DNS or TLS failure
        return self.status_code == 429 or self.status_code >= 500


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    base: float = BASE_DELAY_SECONDS * 2.0 ** (attempt - 1)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def next_delay(attempt: int, outcome: Outcome, rng: random.Random) -> float | None:
    """When to try again after ``attempt``, or None when the delivery has failed for good."""
    if outcome.succeeded or not outcome.retryable or attempt >= MAX_ATTEMPTS:
        return None
    if outcome.retry_after is not None:
        return min(max(outcome.retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    return backoff(attempt, rng)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; dates are ignored)."""
    if not value:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return None
