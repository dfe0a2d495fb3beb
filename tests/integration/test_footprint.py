"""What a process loads is what it costs: memory for a server, start-up time for the CLI.

Each check runs a fresh interpreter and looks at the modules it imported; a heavy
library that only a rare feature needs must wait for that feature.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from openlinq.store.migrate import alembic_config, head_revision

# Only the features that use them load these (S3 storage, migrations to run, a console
# page, an upload to sniff, a voice memo).
RARELY_NEEDED = {
    "alembic",
    "mako",
    "boto3",
    "botocore",
    "s3transfer",
    "jinja2",
    "puremagic",
    "mcp",
}
# Never in a server at rest: the CLI's own libraries (``serve`` hands over to a fresh
# interpreter), httpx (the first outbound request loads it) and, on SQLite, PostgreSQL's dialect.
NOT_AT_REST = {"typer", "httpx", "sqlalchemy.dialects.postgresql"}
# Built on the first request that needs them (api/lazy.py): rarely used features' routes,
# the simulator's, the console's pages, carriers' inbound endpoints; and pydantic.v1,
# which FastAPI imports only to refuse v1 models (app.py).
BUILT_ON_FIRST_USE = {
    "openlinq.api.routes.agentpay",
    "openlinq.api.routes.payment_requests",
    "openlinq.api.routes.polls",
    "openlinq.api.routes.reputation",
    "openlinq.api.routes.simulator",
    "openlinq.api.routes.webhooks",
    "openlinq.console.pages.inbox",
    "openlinq.delivery.bluebubbles.inbound",
    "pydantic.v1",
}
# The CLI's own start-up: none of the server.
SERVER = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "boto3",
    "httpx",
    "rich",
    "mcp",
}

SERVER_AT_REST = """
import asyncio, json, sys
from pathlib import Path

import openlinq.banner, openlinq.serving
from openlinq.app import create_app
from openlinq.config import Settings
from openlinq.wiring import start, stop


async def main() -> None:
    app = create_app(Settings(data_dir=Path(sys.argv[1]), dev_api_key=sys.argv[2]))
    services = app.state.services
    await start(services)
    await stop(services)


asyncio.run(main())
print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))
"""


def _packages(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def _server_modules(data_dir: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SERVER_AT_REST, str(data_dir), "olq_footprint_key_0123456789abcdef"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def _cli_modules(*args: str) -> set[str]:
    """The modules ``openlinq ARGS`` imports (``python -X importtime`` lists each once)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "openlinq", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert lines, done.stderr
    return _packages([line.rsplit("|", 1)[1].strip() for line in lines[1:]])


def test_the_newest_migration_names_the_head_revision() -> None:
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_server_on_a_database_at_head_loads_no_rarely_needed_library(tmp_path: Path) -> None:
    _server_modules(tmp_path)  # the first start creates the database (Alembic runs)
    modules = _server_modules(tmp_path)
    assert _packages(modules) & RARELY_NEEDED == set()
    assert {*modules, *_packages(modules)} & NOT_AT_REST == set()
    assert set(modules) & BUILT_ON_FIRST_USE == set()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["chats", "--help"],
        ["webhooks", "list", "--help"],
        ["mcp", "--help"],
        # An API command: it fails (nothing listens there), but it has started and tried.
        ["chats", "list", "--api-key", "k", "--api-url", "http://127.0.0.1:9/api/partner"],
    ],
    ids=" ".join,
)
def test_the_cli_starts_without_the_server(args: list[str]) -> None:
    assert _cli_modules(*args) & SERVER == set()


def test_help_does_not_even_load_pydantic() -> None:
    assert "pydantic" not in _cli_modules("--help")
