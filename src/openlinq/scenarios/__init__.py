"""Scenario files: simulated people talk to your agent, and expectations are checked.

A scenario (YAML, see ``docs/scenarios.md``) names personas — a handle, its device
settings (scripted replies, rules, opt-out, a device webhook...) and what it says
when — and expectations about the agent's side of the conversation. ``run_scenario``
plays it against an openlinq server (the agent under test has its webhook
subscription there), driving the phones through ``/sim/v1`` on the server's clock,
and returns a ``ScenarioReport`` (``passed``, ``to_text()``, ``to_json()``).
"""

from openlinq.scenarios.report import ExpectationResult, ScenarioReport
from openlinq.scenarios.runner import run_scenario
from openlinq.scenarios.spec import Scenario, ScenarioError, load_scenario

__all__ = [
    "ExpectationResult",
    "Scenario",
    "ScenarioError",
    "ScenarioReport",
    "load_scenario",
    "run_scenario",
]
