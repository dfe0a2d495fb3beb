"""Judging a played scenario: each expectation against the personas' screens."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from openlinq.scenarios.spec import Expectation, Scenario, TurnRange

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a transcript, ``at`` seconds after the scenario started."""

    at: float
    sender: str  # the persona's name, or "agent"
    text: str
    reactions: list[str] = field(default_factory=list)  # "love by agent", ...

    @property
    def from_agent(self) -> bool:
        return self.sender == "agent"


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    persona: str
    kind: str
    description: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ScenarioReport:
    name: str
    clock: str  # "manual" or "real"
    played_seconds: float
    results: list[ExpectationResult]
    transcripts: dict[str, list[Line]]  # by persona name

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``json.dumps`` it)."""
        return {
            "name": self.name,
            "passed": self.passed,
            "clock": self.clock,
            "played_seconds": self.played_seconds,
            "expectations": [asdict(r) for r in self.results],
            "transcripts": {
                persona: [asdict(line) for line in lines]
                for persona, lines in self.transcripts.items()
            },
        }

    def to_text(self) -> str:
        """One line per expectation; the transcripts when something failed."""
        failed = sum(not r.passed for r in self.results)
        verdict = "PASSED" if not failed else f"FAILED ({failed} of {len(self.results)})"
        lines = [
            f"Scenario {self.name!r}: {verdict} — {self.played_seconds:g} s on the "
            f"{self.clock} clock"
        ]
        for result in self.results:
            mark = "PASS" if result.passed else "FAIL"
            detail = f" — {result.detail}" if result.detail and not result.passed else ""
            lines.append(f"  {mark}  {result.description}{detail}")
        if failed:
            for persona, transcript in self.transcripts.items():
                lines.append(f"Transcript with {persona}:")
                lines.extend(f"  {_line(entry)}" for entry in transcript)
                if not transcript:
                    lines.append("  (no messages)")
        return "\n".join(lines)


def _line(entry: Line) -> str:
    reactions = f"  [{', '.join(entry.reactions)}]" if entry.reactions else ""
    return f"{entry.at:7.1f} s  {entry.sender:>10}: {entry.text}{reactions}"


def judge(scenario: Scenario, transcripts: dict[str, list[Line]]) -> list[ExpectationResult]:
    results = []
    for expectation in scenario.expect:
        persona = str(expectation.persona)
        passed, detail = _CHECKS[expectation.kind](expectation, transcripts[persona], persona)
        results.append(
            ExpectationResult(persona, expectation.kind, expectation.describe(), passed, detail)
        )
    return results


def _quote(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _is_stop(line: Line) -> bool:
    return not line.from_agent and line.text.strip().upper() in STOP_WORDS


def _reply_within(e: Expectation, lines: list[Line], who: str) -> tuple[bool, str]:
    limit = float(e.reply_within or 0)
    asked = 0
    for index, line in enumerate(lines):
        if line.from_agent:
            continue
        if _is_stop(line):
            break  # nothing is owed after an opt-out
        asked += 1
        answer = next((a for a in lines[index + 1 :] if a.from_agent), None)
        if answer is None:
            return False, f"no reply to {_quote(line.text)} (at {line.at:g} s)"
        if answer.at - line.at > limit:
            waited = answer.at - line.at
            return False, f"{_quote(line.text)} was answered after {waited:g} s"
    if not asked:
        return False, f"{who} sent nothing"
    return True, f"{asked} message(s) answered in time"


def _reply_matches(e: Expectation, lines: list[Line], who: str) -> tuple[bool, str]:
    pattern = re.compile(str(e.reply_matches))
    replies = [line for line in lines if line.from_agent]
    if e.turn is not None:
        if len(replies) < e.turn:
            return False, f"only {len(replies)} replies"
        reply = replies[e.turn - 1]
        if pattern.search(reply.text):
            return True, ""
        return False, f"reply {e.turn} was {_quote(reply.text)}"
    if any(pattern.search(r.text) for r in replies):
        return True, ""
    if not replies:
        return False, "no replies"
    return False, f"none of {len(replies)} replies matched (last: {_quote(replies[-1].text)})"


def _no_message_after_stop(e: Expectation, lines: list[Line], who: str) -> tuple[bool, str]:
    stop = next((i for i, line in enumerate(lines) if _is_stop(line)), None)
    if stop is None:
        return False, f"{who} never opted out"
    after = [line for line in lines[stop + 1 :] if line.from_agent]
    if after:
        return False, f"{len(after)} message(s) after STOP, first {_quote(after[0].text)}"
    return True, ""


def _reaction(e: Expectation, lines: list[Line], who: str) -> tuple[bool, str]:
    found = [
        r.split(" ", 1)[0]
        for line in lines
        if not line.from_agent
        for r in line.reactions
        if r.endswith(" by agent")
    ]
    if (e.reaction == "any" and found) or e.reaction in found:
        return True, ""
    return False, f"the agent reacted with {found}" if found else "the agent never reacted"


def _turns(e: Expectation, lines: list[Line], who: str) -> tuple[bool, str]:
    count = sum(line.from_agent for line in lines)
    turns = e.turns
    if isinstance(turns, TurnRange):
        ok = (turns.min is None or count >= turns.min) and (turns.max is None or count <= turns.max)
    else:
        ok = count == turns
    return ok, f"{count} replies"


_CHECKS = {
    "reply_within": _reply_within,
    "reply_matches": _reply_matches,
    "no_message_after_stop": _no_message_after_stop,
    "reaction": _reaction,
    "turns": _turns,
}
