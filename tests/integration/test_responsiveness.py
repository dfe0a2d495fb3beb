"""One request cannot stall the server: while a pathological request is in flight, a
concurrent ``GET /health`` from another client still answers within a small bound.

The server runs as its own process (a server in the test's process would share its
interpreter lock, and a stalled server would freeze the stopwatch too) and is timed from
outside over real HTTP. Handlers share one event loop, so a request doing super-linear
work on it would hold every other request, of every account, for as long as that takes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import OpenlinqProcess

KEY = "olq_responsiveness_test_key_0123456789abcdef"
LINE = "+12025550180"  # the sandbox account's first line
# Generous for a shared 2-core machine; the stalls this guards against took 5-20 s.
HEALTH_BOUND_SECONDS = 1.5


def _new_chat(to: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "from": LINE,
        "to": [to],
        "message": {"parts": [{"type": "text", "value": value, **extra}]},
    }


# (what, body of POST /v3/chats, the status it must get): each once did quadratic work.
PATHOLOGICAL: list[tuple[str, dict[str, Any], int]] = [
    # 5,000 disjoint animations: 25 million pairwise overlap checks (20,000 took 20.8 s).
    (
        "too many decorations",
        _new_chat(
            "+14155552671",
            "x" * 10_000,
            text_decorations=[{"range": [i, i + 1], "animation": "shake"} for i in range(5_000)],
        ),
        400,
    ),
    # The most a part may carry, every one an animation: checked, accepted and sent.
    (
        "decorations at the cap",
        _new_chat(
            "+14155552672",
            "y" * 2_000,
            text_decorations=[
                {"range": [i, i + 1], "animation": "shake"} for i in range(0, 2_000, 2)
            ],
        ),
        201,
    ),
    # The first message's link search backtracked over "a.a.a.…": about 5 s per text part.
    ("link search", _new_chat("+14155552673", "a." * 5_000), 201),
]


@pytest.fixture
def server_process(fresh_database_url: str, tmp_path: Path) -> Iterator[OpenlinqProcess]:
    process = OpenlinqProcess(
        "serve",
        tmp_path / "data",
        database_url=fresh_database_url,
        dev_api_key=KEY,
        run_worker="false",
    ).start()
    try:
        yield process
    finally:
        process.stop()


def _health_latency_during(base_url: str, body: dict[str, Any]) -> tuple[int, list[float]]:
    """POST ``body`` from one client; poll /health from another until it is answered."""
    answered: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            answered.append(
                client.post("/v3/chats", json=body, headers={"Authorization": f"Bearer {KEY}"})
            )

    latencies: list[float] = []
    with httpx.Client(base_url=base_url, timeout=120) as probe:
        probe.get("/health")  # connected and warm before the measured window
        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 120
        while sender.is_alive() and time.monotonic() < deadline:
            started = time.monotonic()
            assert probe.get("/health").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.01)
        sender.join(timeout=120)
    assert answered, "the pathological request was not answered"
    return answered[0].status_code, latencies


def test_a_pathological_request_does_not_delay_health(server_process: OpenlinqProcess) -> None:
    for what, body, status in PATHOLOGICAL:
        answered, latencies = _health_latency_during(server_process.base_url, body)
        assert max(latencies, default=0.0) < HEALTH_BOUND_SECONDS, (what, latencies)
        assert answered == status, what
