"""Playing a scenario against an agent through an openlinq server.

The runner is one more client of the server: it sets the personas' devices with
``PUT /sim/v1/devices``, has them write at their times, and moves time on. On a
manual clock it advances the clock in ``step``s (every job due runs: webhook
deliveries to the agent, the agent's sends, the devices' scripted answers); on a
real clock it waits. Then it reads each persona's screen and judges the
expectations on what happened after the start.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from openlinq.scenarios.report import Line, ScenarioReport, judge
from openlinq.scenarios.spec import Say, Scenario, ScenarioError, load_scenario

# How often a step may be re-run after a pause before the runner moves on: an agent that
# keeps talking to itself cannot hold the scenario.
MAX_DRAINS = 20
REAL_POLL_SECONDS = 0.2


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    base_url: str,
    api_key: str,
    timeout: float = 60.0,
) -> ScenarioReport:
    """Play ``scenario`` (a ``Scenario``, a path, or YAML text) on the server at ``base_url``
    (``.../api/partner`` is accepted too) as the account of ``api_key``.

    Raises ``ScenarioError`` when it cannot be played (bad file, refused device settings,
    unreachable server); a played scenario's failures are in the report."""
    if isinstance(scenario, str | Path):
        scenario = load_scenario(Path(scenario) if isinstance(scenario, Path) else scenario)
    root = base_url.rstrip("/").removesuffix("/api/partner")
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=root, headers=headers, timeout=timeout) as http:
        return _Play(scenario, _Server(http)).run()


class _Server:
    """The few server calls a scenario needs, with errors as ``ScenarioError``."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ScenarioError(f"cannot reach {self.http.base_url}: {exc}") from exc
        if response.status_code >= 300:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise ScenarioError(f"{method} {path}: {response.status_code} {message}")
        return response.json() if response.content else None

    def advance(self, seconds: float) -> int:
        return int(
            self.call("POST", "/sim/v1/clock/advance", json={"seconds": seconds})["jobs_run"]
        )


class _Play:
    def __init__(self, scenario: Scenario, server: _Server) -> None:
        self.scenario = scenario
        self.server = server
        self.pending: list[tuple[float, str, Say]] = sorted(
            ((say.at, name, say) for name, p in scenario.personas.items() for say in p.messages()),
            key=lambda item: item[0],
        )

    def run(self) -> ScenarioReport:
        clock = self.server.call("GET", "/sim/v1/clock")
        line = self.scenario.line or self._first_line()
        for persona in self.scenario.personas.values():
            self.server.call("PUT", f"/sim/v1/devices/{persona.handle}", json=persona.device)
        started = _parse_time(clock["now"])
        if clock["mode"] == "manual":
            self._play_manual(line)
        else:
            self._play_real(line)
        transcripts = {
            name: self._transcript(name, persona.handle, started)
            for name, persona in self.scenario.personas.items()
        }
        return ScenarioReport(
            self.scenario.name,
            clock["mode"],
            self.scenario.duration,
            judge(self.scenario, transcripts),
            transcripts,
        )

    def _first_line(self) -> str:
        lines = self.server.call("GET", "/v3/phone_numbers")["phone_numbers"]
        if not lines:
            raise ScenarioError("the account has no line: give the scenario a line")
        return str(lines[0]["phone_number"])

    def _say_due(self, line: str, elapsed: float) -> None:
        while self.pending and self.pending[0][0] <= elapsed:
            _, name, say = self.pending.pop(0)
            handle = self.scenario.personas[name].handle
            self.server.call(
                "POST", f"/sim/v1/devices/{handle}/messages", json={"to": line, "text": say.text}
            )

    def _play_manual(self, line: str) -> None:
        elapsed = 0.0
        ran = 0
        while True:
            self._say_due(line, elapsed)
            ran += self.server.advance(0)
            for _ in range(MAX_DRAINS):
                if not (ran and self.scenario.pause):
                    break
                time.sleep(self.scenario.pause)  # the agent may answer from a background task
                ran = self.server.advance(0)
            if elapsed >= self.scenario.duration:
                return
            step = min(self.scenario.step, self.scenario.duration - elapsed)
            ran = self.server.advance(step)
            elapsed += step

    def _play_real(self, line: str) -> None:
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < self.scenario.duration:
            self._say_due(line, elapsed)
            time.sleep(min(REAL_POLL_SECONDS, self.scenario.duration - elapsed))
        self._say_due(line, self.scenario.duration)

    def _transcript(self, name: str, handle: str, started: datetime) -> list[Line]:
        screen = self.server.call("GET", f"/sim/v1/devices/{handle}/screen")
        lines = []
        for message in screen["messages"]:
            at = (_parse_time(message["at"]) - started).total_seconds()
            if at < 0:
                continue  # an earlier run's conversation
            lines.append(
                Line(
                    round(at, 3),
                    name if message["direction"] == "sent" else "agent",
                    _text(message["parts"]),
                    [
                        f"{r['type']} by {name if r['is_me'] else 'agent'}"
                        for r in message["reactions"]
                    ],
                )
            )
        return lines


def _text(parts: list[dict[str, Any]]) -> str:
    texts = [str(p.get("value", "")) for p in parts if p.get("type") in ("text", "link")]
    return " ".join(texts) if texts else "(attachment)"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
