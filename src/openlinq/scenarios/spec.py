"""The scenario file format, checked strictly: a misspelt key is an error, not a no-op."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

TAPBACKS = ("love", "like", "dislike", "laugh", "emphasize", "question")
KINDS = ("reply_within", "reply_matches", "no_message_after_stop", "reaction", "turns")


class ScenarioError(ValueError):
    """The scenario cannot be read or run (one line, for a person)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Say(_Strict):
    text: str = Field(min_length=1, max_length=10_000)
    at: float = Field(default=0.0, ge=0, description="Seconds after the start.")


class Persona(_Strict):
    handle: str = Field(min_length=3, max_length=320)
    # Sent as PUT /sim/v1/devices/{handle}: the server checks it.
    device: dict[str, Any] = Field(default_factory=dict)
    says: list[Say | str] = Field(default_factory=list)

    def messages(self) -> list[Say]:
        return [Say(text=s) if isinstance(s, str) else s for s in self.says]


class TurnRange(_Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Expectation(_Strict):
    persona: str | None = None
    name: str | None = None
    reply_within: float | None = Field(default=None, gt=0)
    reply_matches: str | None = Field(default=None, min_length=1)
    turn: int | None = Field(default=None, ge=1, description="With reply_matches: that reply.")
    no_message_after_stop: Literal[True] | None = None
    reaction: Literal["any", "love", "like", "dislike", "laugh", "emphasize", "question"] | None = (
        None
    )
    turns: int | TurnRange | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Expectation:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(KINDS)} (got {given or 'none'})")
        if self.turn is not None and self.reply_matches is None:
            raise ValueError("turn goes with reply_matches")
        if self.reply_matches is not None:
            try:
                re.compile(self.reply_matches)
            except re.error as exc:
                raise ValueError(f"reply_matches is not a valid regex: {exc}") from exc
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    def describe(self) -> str:
        """What is expected, in words."""
        if self.name:
            return self.name
        who = self.persona or "?"
        if self.reply_within is not None:
            return f"{who} gets a reply within {self.reply_within:g} s to each message"
        if self.reply_matches is not None:
            which = f"reply {self.turn}" if self.turn else "a reply"
            return f"{which} to {who} matches /{self.reply_matches}/"
        if self.no_message_after_stop:
            return f"no message to {who} after STOP"
        if self.reaction is not None:
            what = "a reaction" if self.reaction == "any" else f"a {self.reaction} reaction"
            return f"the agent sends {who} {what}"
        turns = self.turns
        if isinstance(turns, TurnRange):
            bounds = [f">= {turns.min}" if turns.min is not None else "", ""]
            bounds[1] = f"<= {turns.max}" if turns.max is not None else ""
            return f"{who} gets {' and '.join(b for b in bounds if b)} replies"
        return f"{who} gets exactly {turns} replies"


class Scenario(_Strict):
    name: str = Field(min_length=1)
    line: str | None = Field(default=None, description="The agent's line; default its first.")
    duration: float = Field(default=60.0, gt=0, le=86_400, description="Seconds played out.")
    step: float = Field(default=0.5, gt=0, le=3_600, description="Manual clock step.")
    # Real seconds to wait after a step that ran work, for agents that answer from a
    # background task rather than inside their webhook handler.
    pause: float = Field(default=0.0, ge=0, le=60)
    personas: dict[str, Persona] = Field(min_length=1)
    expect: list[Expectation] = Field(min_length=1)

    @model_validator(mode="after")
    def _personas_exist(self) -> Scenario:
        only = next(iter(self.personas)) if len(self.personas) == 1 else None
        filled = []
        for index, expectation in enumerate(self.expect):
            persona = expectation.persona or only
            if persona is None:
                raise ValueError(f"expect[{index}] must name its persona")
            if persona not in self.personas:
                raise ValueError(f"expect[{index}] names an unknown persona {persona!r}")
            filled.append(expectation.model_copy(update={"persona": persona}))
        self.expect = filled
        return self


def load_scenario(source: str | Path) -> Scenario:
    """A scenario from a YAML file (a ``Path``) or YAML text (a ``str``)."""
    import yaml  # only scenarios need it: keep it off the CLI's start-up path

    where = str(source) if isinstance(source, Path) else "the scenario"
    try:
        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ScenarioError(f"cannot read {where}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{where} must be a YAML mapping (name, personas, expect)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'scenario'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ScenarioError(f"{where}: {problems}") from exc
