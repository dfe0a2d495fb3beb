"""The ``openlinq`` command: run the server and manage accounts, keys and lines."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from openlinq.app import create_app
from openlinq.config import Settings, settings_error
from openlinq.domain.accounts import Sandbox
from openlinq.domain.ids import AccountId
from openlinq.domain.models import AccountTier, Line, LineStatus, LineType
from openlinq.filemodes import make_private_dir, open_private
from openlinq.serving import uvicorn_config
from openlinq.store.migrate import upgrade_to_head
from openlinq.webhooks.catalogue import EVENT_TYPES
from openlinq.webhooks.listen import Received, receiver_app
from openlinq.wiring import Services, background_worker, build_services, start, stop

app = typer.Typer(help="openlinq: a self-hosted Linq Partner API v3 server.", no_args_is_help=True)
accounts_app = typer.Typer(help="Partner accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
lines_app = typer.Typer(help="Lines (phone numbers).", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(lines_app, name="lines")
webhooks_app = typer.Typer(
    help="Webhooks: a local receiver and the delivery log.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")
console = Console()
T = TypeVar("T")

SANDBOX_KEY_FILE = "sandbox-api-key"

DataDir = Annotated[
    Path | None, typer.Option(help="Data directory (OPENLINQ_DATA_DIR).", show_default=False)
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="sqlite:/// or postgresql:// URL (OPENLINQ_DATABASE_URL).")
]


def _settings(data_dir: Path | None, database_url: str | None, **extra: object) -> Settings:
    overrides = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        typer.echo(f"openlinq: invalid configuration: {settings_error(error)}", err=True)
        raise typer.Exit(2) from None


def _remember_sandbox_key(settings: Settings, sandbox: Sandbox) -> str | None:
    """Keep the generated sandbox key in the data dir so every start can show it."""
    path = settings.data_dir / SANDBOX_KEY_FILE
    if sandbox.api_key:
        if sandbox.created and not settings.dev_api_key:
            make_private_dir(settings.data_dir)
            with open_private(path) as handle:
                handle.write(sandbox.api_key.encode() + b"\n")
        return sandbox.api_key
    return path.read_text().strip() if path.exists() else None


def _banner(settings: Settings) -> Callable[[Sandbox | None], None]:
    def show(sandbox: Sandbox | None) -> None:
        base = f"{settings.base_url}/api/partner"
        console.print(
            f"[bold green]openlinq[/] is serving the Linq Partner API v3 at [bold]{base}[/]"
        )
        console.print(f"  LINQ_API_V3_BASE_URL={base}")
        if sandbox is None:
            console.print(
                "  hosted mode: no sandbox account; add accounts with `openlinq accounts create`"
            )
            console.print(f"  database: {settings.resolved_database_url.split('@')[-1]}")
            return
        key = _remember_sandbox_key(settings, sandbox)
        console.print(f"  LINQ_API_V3_API_KEY={key or '(set OPENLINQ_DEV_API_KEY to choose one)'}")
        table = Table("line", "type", "status", title=f"sandbox account {sandbox.account.id}")
        for line in sandbox.lines:
            table.add_row(line.phone_number, line.line_type.value, line.status.value)
        console.print(table)
        console.print(f"  database: {settings.resolved_database_url.split('@')[-1]}")
        docs = f"{settings.base_url}/docs" if settings.api_docs else "off"
        console.print(f"  clock: {settings.clock}   docs: {docs}")

    return show


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (OPENLINQ_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OPENLINQ_PORT).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    dev_api_key: Annotated[
        str | None, typer.Option(help="Fix the sandbox API key (OPENLINQ_DEV_API_KEY).")
    ] = None,
    clock: Annotated[str | None, typer.Option(help="real or manual (OPENLINQ_CLOCK).")] = None,
) -> None:
    """Start the server (migrating the database and creating the sandbox on first start)."""
    settings = _settings(
        data_dir, database_url, host=host, port=port, dev_api_key=dev_api_key, clock=clock
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    application = create_app(settings, on_started=_banner(settings))
    uvicorn.Server(uvicorn_config(application, settings)).run()


@app.command()
def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run only the background job runner (deliveries, simulator, webhooks): no HTTP.

    On PostgreSQL, run as many as you like beside API-only servers
    (OPENLINQ_RUN_WORKER=false); they share the work without doing any twice.
    """
    settings = _settings(data_dir, database_url)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )

    async def run() -> None:
        services = build_services(settings)
        await start(services)
        console.print(f"openlinq worker {services.runner.worker_id} running")
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        try:
            async with background_worker(services):
                await stopped.wait()
        finally:
            await stop(services)

    asyncio.run(run())


def _run(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    async def run() -> T:
        services = build_services(settings)
        try:
            await upgrade_to_head(services.db)
            return await action(services)
        finally:
            await services.db.dispose()

    return asyncio.run(run())


@accounts_app.command("create")
def accounts_create(
    name: str,
    tier: Annotated[AccountTier, typer.Option(help="Account tier.")] = AccountTier.STANDARD,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account and print its first API key (shown once)."""
    account, key = _run(
        _settings(data_dir, database_url), lambda s: s.accounts.create_account(name, tier)
    )
    console.print(f"account {account.id} ({account.name}, {account.tier.value})")
    console.print(f"API key (shown once): [bold]{key}[/]")


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List accounts and their lines."""
    rows = _run(_settings(data_dir, database_url), lambda s: s.accounts.list_accounts())
    table = Table("account", "name", "tier", "lines")
    for account, lines in rows:
        table.add_row(
            account.id,
            account.name,
            account.tier.value,
            ", ".join(line.phone_number for line in lines),
        )
    console.print(table)


@keys_app.command("create")
def keys_create(
    account_id: str,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create another API key for an account (shown once)."""
    key = _run(
        _settings(data_dir, database_url),
        lambda s: s.accounts.add_key(AccountId(account_id), name),
    )
    console.print(f"API key (shown once): [bold]{key}[/]")


@lines_app.command("add")
def lines_add(
    account_id: str,
    phone_number: str,
    line_type: Annotated[LineType, typer.Option("--type", help="Line type.")] = LineType.IMESSAGE,
    rcs: Annotated[bool, typer.Option(help="Whether the line can send RCS.")] = True,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give an account a line."""
    line = _run(
        _settings(data_dir, database_url),
        lambda s: s.accounts.add_line(
            AccountId(account_id), phone_number, line_type, rcs_enabled=rcs
        ),
    )
    console.print(f"line {line.id}: {line.phone_number} ({line.line_type.value})")


@keys_app.command("list")
def keys_list(account_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """An account's keys (prefixes only: keys are stored hashed)."""
    rows = _run(_settings(data_dir, database_url), lambda s: s.accounts.keys(AccountId(account_id)))
    table = Table("key id", "prefix", "name", "created", "revoked")
    for key in rows:
        table.add_row(
            key["id"],
            f"{key['prefix']}…" if key["prefix"] else "(chosen key)",
            key["name"] or "",
            str(key["created_at"]),
            str(key["revoked_at"] or ""),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Revoke one key; requests with it answer 401 from now on."""
    if not _run(_settings(data_dir, database_url), lambda s: s.accounts.revoke_key(key_id)):
        console.print(f"[red]no active key {key_id}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(
    account_id: str,
    name: Annotated[str | None, typer.Option(help="A label for the new key.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a new key and revoke every other key of the account."""
    key = _run(
        _settings(data_dir, database_url),
        lambda s: s.accounts.rotate_keys(AccountId(account_id), name),
    )
    console.print(f"new API key (shown once; the old ones are revoked): [bold]{key}[/]")


@accounts_app.command("policy")
def accounts_policy(
    account_id: str,
    pair_limit: Annotated[
        int | None, typer.Option(help="Messages a minute per recipient (0: no limit).")
    ] = None,
    daily_limit: Annotated[int | None, typer.Option(help="Messages a day (0: no limit).")] = None,
    retention_hours: Annotated[
        float | None, typer.Option(help="Ephemeral tier: purge messages after this many hours.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set an account's rate limits and retention (unset options go back to the defaults)."""
    account = _run(
        _settings(data_dir, database_url),
        lambda s: s.accounts.set_policy(
            AccountId(account_id),
            pair_limit_per_minute=pair_limit,
            daily_message_limit=daily_limit,
            retention_hours=retention_hours,
        ),
    )
    console.print(
        f"account {account.id}: pair limit {account.pair_limit_per_minute}, daily limit "
        f"{account.daily_message_limit}, retention {account.retention_hours} h (None = default)"
    )


@lines_app.command("status")
def lines_status(
    account_id: str,
    phone_number: str,
    status: Annotated[LineStatus, typer.Argument(help="ACTIVE or FLAGGED.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Flag a line (it stops sending, as when Apple flags it) or restore it."""

    async def change(services: Services) -> Line:
        account = await services.accounts.get(AccountId(account_id))
        return await services.lines.set_status(account, phone_number, status)

    line = _run(_settings(data_dir, database_url), change)
    console.print(f"{line.phone_number} is {line.status.value}")


@lines_app.command("retention")
def lines_retention(
    account_id: str,
    phone_number: str,
    hours: Annotated[
        float | None, typer.Argument(help="Purge messages this long after creation; omit to keep.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Put a line on the ephemeral tier, or take it off."""

    async def change(services: Services) -> Line:
        account = await services.accounts.get(AccountId(account_id))
        return await services.lines.set_retention(account, phone_number, hours)

    line = _run(_settings(data_dir, database_url), change)
    console.print(f"{line.phone_number}: retention {line.retention_hours or 'standard'}")


@lines_app.command("list")
def lines_list(account_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List an account's lines."""
    rows = _run(_settings(data_dir, database_url), lambda s: s.accounts.list_accounts())
    table = Table("line id", "phone number", "type", "status", "rcs")
    for account, lines in rows:
        if account.id == account_id:
            for line in lines:
                table.add_row(
                    line.id,
                    line.phone_number,
                    line.line_type.value,
                    line.status.value,
                    "yes" if line.rcs_enabled else "no",
                )
    console.print(table)


ApiUrl = Annotated[
    str, typer.Option(envvar="OPENLINQ_API_URL", help="The openlinq server to talk to.")
]
ApiKey = Annotated[
    str | None,
    typer.Option(envvar=["LINQ_API_V3_API_KEY", "OPENLINQ_DEV_API_KEY"], help="API key."),
]


def _api(api_url: str, api_key: str | None) -> httpx.Client:
    if not api_key:
        raise typer.BadParameter("give --api-key (or set LINQ_API_V3_API_KEY)")
    return httpx.Client(
        base_url=api_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )


def _show_event(received: Received) -> None:
    event = received.event or {}
    marks = {
        True: "[green]✔ signed[/]",
        False: "[red]✘ bad signature[/]",
        None: "[yellow]unverified[/]",
    }
    console.print(
        f"[bold]{event.get('event_type', '?')}[/] {event.get('event_id', '')} "
        f"{marks[received.standard_ok]} {received.error or ''}"
    )
    console.print_json(data=event.get("data", {}))


@webhooks_app.command("listen")
def webhooks_listen(
    port: Annotated[int, typer.Option(help="Port to receive on.")] = 9099,
    host: Annotated[str, typer.Option(help="Address to receive on.")] = "127.0.0.1",
    secret: Annotated[
        str | None, typer.Option(envvar="LINQ_WEBHOOK_SECRET", help="Verify with this secret.")
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    api_key: ApiKey = None,
    events: Annotated[
        str | None, typer.Option(help="Comma-separated event types (default: all).")
    ] = None,
) -> None:
    """Receive webhooks locally, verify their signatures and print them as they arrive.

    With an API key (and no --secret) it subscribes itself to the server first and
    removes the subscription when you stop it.
    """
    known = {"secret": secret}
    subscription_id = None
    client = None
    if secret is None and api_key:
        client = _api(api_url, api_key)
        wanted = events.split(",") if events else list(EVENT_TYPES)
        response = client.post(
            "/v3/webhook-subscriptions",
            json={"target_url": f"http://{host}:{port}/webhooks", "subscribed_events": wanted},
        )
        if response.status_code != 201:
            console.print(f"[red]could not subscribe:[/] {response.status_code} {response.text}")
            raise typer.Exit(1)
        created = response.json()
        subscription_id, known["secret"] = created["id"], created["signing_secret"]
        console.print(f"subscribed [bold]{subscription_id}[/] to {len(wanted)} event types")
    console.print(f"listening on http://{host}:{port}/webhooks (Ctrl-C to stop)")
    try:
        uvicorn.run(
            receiver_app(lambda: known["secret"], _show_event),
            host=host,
            port=port,
            log_level="warning",
        )
    finally:
        if client is not None and subscription_id is not None:
            client.delete(f"/v3/webhook-subscriptions/{subscription_id}")
            console.print(f"unsubscribed {subscription_id}")
            client.close()


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    subscription_id: str,
    status: Annotated[
        str | None, typer.Option(help="pending, retrying, succeeded or failed.")
    ] = None,
    event_type: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    api_url: ApiUrl = "http://127.0.0.1:8080",
    api_key: ApiKey = None,
) -> None:
    """Show a subscription's delivery log: every event, its status and its attempts."""
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if event_type:
        params["event_type"] = event_type
    with _api(api_url, api_key) as client:
        response = client.get(
            f"/v3/webhook-subscriptions/{subscription_id}/deliveries", params=params
        )
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}[/] {response.text}")
        raise typer.Exit(1)
    colours = {"succeeded": "green", "failed": "red", "retrying": "yellow", "pending": "cyan"}
    table = Table("created", "event", "status", "attempts", "last", "latency", "error")
    for delivery in response.json()["deliveries"]:
        last = delivery["attempt_log"][-1] if delivery["attempt_log"] else {}
        colour = colours.get(delivery["status"], "white")
        table.add_row(
            delivery["created_at"],
            f"{delivery['event_type']}\n[dim]{delivery['event_id']}[/]",
            f"[{colour}]{delivery['status']}[/]",
            str(delivery["attempts"]),
            str(last.get("status_code") or "-"),
            f"{last['latency_ms']} ms" if last else "-",
            (delivery.get("last_error") or "")[:60],
        )
    console.print(table)
