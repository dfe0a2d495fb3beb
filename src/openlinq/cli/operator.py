"""``openlinq accounts``, ``keys``, ``lines``: the operator's commands, straight on the database.

They never create a database: pointed at a folder without one they say where they looked.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar
from urllib.parse import urlsplit

import typer

from openlinq.cli.common import JsonFlag, emit_json, fail, say, table, user_error
from openlinq.cli.server import DatabaseUrl, DataDir, load_settings
from openlinq.domain.ids import AccountId, LineId
from openlinq.domain.models import AccountTier, LineStatus, LineType

if TYPE_CHECKING:
    from openlinq.config import Settings
    from openlinq.delivery.routing import LineCarrierView
    from openlinq.domain.models import Account, Line
    from openlinq.wiring import Services

T = TypeVar("T")

accounts_app = typer.Typer(help="Partner accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
lines_app = typer.Typer(help="Lines (phone numbers).", no_args_is_help=True)


def _on_off(value: str) -> bool:
    words = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
    if value.lower() not in words:
        raise typer.BadParameter("say on or off")
    return words[value.lower()]


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def require_database(settings: Settings, data_dir: Path | None, database_url: str | None) -> None:
    url = settings.resolved_database_url
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    if database_url or settings.database_url:
        source = "--database-url" if database_url else "OPENLINQ_DATABASE_URL"
    else:
        source = "--data-dir" if data_dir else "OPENLINQ_DATA_DIR (default ./.openlinq)"
    fail(
        f"no openlinq database at {path} (from {source}); run `openlinq serve` or "
        "`openlinq migrate` there first, or point --data-dir / --database-url at the right one"
    )


def run(
    data_dir: Path | None,
    database_url: str | None,
    action: Callable[[Services], Awaitable[T]],
) -> T:
    import asyncio

    from openlinq.store.migrate import upgrade_to_head
    from openlinq.wiring import build_services

    settings = load_settings(data_dir, database_url)
    require_database(settings, data_dir, database_url)

    async def go() -> T:
        services = build_services(settings)
        try:
            await upgrade_to_head(services.db)
            return await action(services)
        finally:
            await services.db.dispose()

    return asyncio.run(go())


def _line_json(line: Line) -> dict[str, object]:
    return {
        "id": line.id,
        "account_id": line.account_id,
        "phone_number": line.phone_number,
        "type": line.line_type.value,
        "status": line.status.value,
        "rcs_enabled": line.rcs_enabled,
        "retention_hours": line.retention_hours,
        "zero_retention": line.zero_retention,
        "forwarding_number": line.forwarding_number,
        "released_at": line.released_at.isoformat() if line.released_at else None,
    }


def _account_json(account: Account, lines: list[Line]) -> dict[str, object]:
    return {
        "id": account.id,
        "name": account.name,
        "tier": account.tier.value,
        "pair_limit_per_minute": account.pair_limit_per_minute,
        "daily_message_limit": account.daily_message_limit,
        "retention_hours": account.retention_hours,
        "lines": [_line_json(line) for line in lines],
    }


@accounts_app.command("create")
def accounts_create(
    name: str,
    tier: Annotated[AccountTier, typer.Option(help="Account tier.")] = AccountTier.STANDARD,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an account and print its first API key (shown once)."""
    account, key = run(data_dir, database_url, lambda s: s.accounts.create_account(name, tier))
    if as_json:
        emit_json({**_account_json(account, []), "api_key": key})
        return
    say(f"account {account.id} ({account.name}, {account.tier.value})")
    say(f"API key (shown once): {key}")


@accounts_app.command("list")
def accounts_list(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """List accounts and their lines."""
    rows = run(data_dir, database_url, lambda s: s.accounts.list_accounts())
    if as_json:
        emit_json([_account_json(account, lines) for account, lines in rows])
        return
    table(
        ["account", "name", "tier", "lines"],
        [
            (a.id, a.name, a.tier.value, ", ".join(line.phone_number for line in lines))
            for a, lines in rows
        ],
    )


@accounts_app.command("payments")
def accounts_payments(
    account_id: str,
    stripe: Annotated[
        bool | None,
        typer.Option(
            "--stripe/--no-stripe", help="The simulated Stripe account takes charges (or not)."
        ),
    ] = None,
    natural: Annotated[
        bool | None,
        typer.Option("--natural/--no-natural", help="Natural merchant onboarding done (or not)."),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or set whether an account may create payment requests (403 / 2011 until then)."""

    async def change(services: Services) -> dict[str, bool]:
        await services.accounts.get(AccountId(account_id))
        onboarding = await services.payment_requests.set_onboarding(
            AccountId(account_id), stripe=stripe, natural=natural
        )
        return {
            "stripe_charges_enabled": onboarding.stripe_charges_enabled,
            "natural_onboarded": onboarding.natural_onboarded,
        }

    settings = run(data_dir, database_url, change)
    if as_json:
        emit_json(settings)
        return
    say(
        f"account {account_id}: stripe charges "
        f"{'enabled' if settings['stripe_charges_enabled'] else 'disabled'}, natural "
        f"{'onboarded' if settings['natural_onboarded'] else 'not onboarded'}"
    )


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
    as_json: JsonFlag = False,
) -> None:
    """Set an account's rate limits and retention (unset options go back to the defaults)."""
    account = run(
        data_dir,
        database_url,
        lambda s: s.accounts.set_policy(
            AccountId(account_id),
            pair_limit_per_minute=pair_limit,
            daily_message_limit=daily_limit,
            retention_hours=retention_hours,
        ),
    )
    if as_json:
        emit_json(_account_json(account, []) | {"lines": None})
        return
    say(
        f"account {account.id}: pair limit {account.pair_limit_per_minute}, daily limit "
        f"{account.daily_message_limit}, retention {account.retention_hours} h (None = default)"
    )


@keys_app.command("create")
def keys_create(
    account_id: str,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create another API key for an account (shown once)."""
    key = run(
        data_dir,
        database_url,
        lambda s: s.accounts.add_key(AccountId(account_id), name, origin="linq"),
    )
    say(f"API key (shown once): {key}")


@keys_app.command("list")
def keys_list(
    account_id: str,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """An account's keys (prefixes only: keys are stored hashed)."""

    async def keys(services: Services) -> list[dict[str, object]]:
        account = await services.accounts.get(AccountId(account_id))
        return await services.accounts.keys(account.id)

    rows = run(data_dir, database_url, keys)
    if as_json:
        emit_json(rows)
        return
    table(
        ["key id", "prefix", "name", "created", "revoked"],
        [
            (
                key["id"],
                f"{key['prefix']}…" if key["prefix"] else "(chosen key)",
                key["name"] or "",
                key["created_at"],
                key["revoked_at"] or "",
            )
            for key in rows
        ],
    )


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Revoke one key; requests with it answer 401 from now on."""
    if not run(data_dir, database_url, lambda s: s.accounts.revoke_key(key_id, origin="linq")):
        fail(f"no active key {key_id}")
    say(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(
    account_id: str,
    name: Annotated[str | None, typer.Option(help="A label for the new key.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a new key and revoke every other key of the account."""
    key = run(
        data_dir,
        database_url,
        lambda s: s.accounts.rotate_keys(AccountId(account_id), name, origin="linq"),
    )
    say(f"new API key (shown once; the old ones are revoked): {key}")


@lines_app.command("add")
def lines_add(
    account_id: str,
    phone_number: str,
    line_type: Annotated[LineType, typer.Option("--type", help="Line type.")] = LineType.IMESSAGE,
    rcs: Annotated[bool, typer.Option(help="Whether the line can send RCS.")] = True,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Give an account a line (a number it released comes back to it)."""
    line = run(
        data_dir,
        database_url,
        lambda s: s.accounts.add_line(
            AccountId(account_id),
            phone_number,
            line_type,
            rcs_enabled=rcs,
            origin="linq",
        ),
    )
    if as_json:
        emit_json(_line_json(line))
        return
    say(f"line {line.id}: {line.phone_number} ({line.line_type.value})")


@lines_app.command("list")
def lines_list(
    account_id: Annotated[
        str | None, typer.Argument(help="Only this account's lines (default: every account's).")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List lines: one account's, or every account's."""

    async def listed(
        services: Services,
    ) -> tuple[list[tuple[Account, list[Line]]], dict[LineId, str]]:
        return await services.accounts.list_accounts(), await services.carriers.names()

    rows, carriers = run(data_dir, database_url, listed)
    if account_id is not None:
        rows = [(account, lines) for account, lines in rows if account.id == account_id]
        if not rows:
            fail(f"no account {account_id}")
    lines = [line for _, account_lines in rows for line in account_lines]
    if as_json:
        emit_json(
            [{**_line_json(line), "carrier": carriers.get(line.id, SIMULATOR)} for line in lines]
        )
        return
    table(
        ["line id", "account", "phone number", "type", "status", "rcs", "retention h", "carrier"],
        [
            (
                line.id,
                line.account_id,
                line.phone_number,
                line.line_type.value,
                line.status.value,
                "yes" if line.rcs_enabled else "no",
                line.retention_hours or "",
                carriers.get(line.id, SIMULATOR),
            )
            for line in lines
        ],
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

    line = run(data_dir, database_url, change)
    say(f"{line.phone_number} is {line.status.value}")


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

    line = run(data_dir, database_url, change)
    say(f"{line.phone_number}: retention {line.retention_hours or 'standard'}")


@lines_app.command("release")
def lines_release(
    account_id: str, phone_number: str, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Take a line from an account: it stops sending and receiving; its chats stay readable."""

    async def release(services: Services) -> Line:
        return await services.accounts.release_line(AccountId(account_id), phone_number)

    line = run(data_dir, database_url, release)
    say(f"{line.phone_number} released")


@lines_app.command("forwarding")
def lines_forwarding(
    account_id: str,
    phone_number: str,
    forward_to: Annotated[
        str | None, typer.Argument(help="Forward calls to this number; omit to stop forwarding.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set or clear where a line's calls are forwarded."""

    async def change(services: Services) -> Line:
        account = await services.accounts.get(AccountId(account_id))
        line = await services.lines.line(account, phone_number)
        return await services.lines.set_forwarding(account, line.id, forward_to, "linq")

    line = run(data_dir, database_url, change)
    say(f"{line.phone_number}: calls forwarded to {line.forwarding_number or 'nowhere'}")


@lines_app.command("zero-retention")
def lines_zero_retention(
    account_id: str,
    phone_number: str,
    enabled: Annotated[bool, typer.Argument(help="on/true or off/false.", parser=_on_off)],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Zero data retention for a line: its message events carry no content."""

    async def change(services: Services) -> Line:
        account = await services.accounts.get(AccountId(account_id))
        return await services.lines.set_zero_retention(account, phone_number, enabled, "linq")

    line = run(data_dir, database_url, change)
    say(f"{line.phone_number}: zero retention {'on' if line.zero_retention else 'off'}")


SIMULATOR = "simulator"  # a line without a carrier (delivery/routing.py: not imported at start)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@lines_app.command("carrier")
def lines_carrier(
    account_id: str,
    phone_number: str,
    carrier: Annotated[
        str | None,
        typer.Argument(help="simulator, bluebubbles or smpp; omit to show the current one."),
    ] = None,
    url: Annotated[str | None, typer.Option(help="bluebubbles: the server's URL.")] = None,
    password: Annotated[
        str | None, typer.Option(help="The gateway's password ('-': read it from stdin).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="smpp: the SMSC's host.")] = None,
    port: Annotated[int | None, typer.Option(help="smpp: the SMSC's port.")] = None,
    system_id: Annotated[str | None, typer.Option(help="smpp: the account (system_id).")] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any other setting, KEY=VALUE (repeatable)."),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or set the carrier a line sends through, with its settings (secrets are sealed)."""
    import sys

    if password == "-":
        password = sys.stdin.readline().rstrip("\n")
    given = {
        "url": url,
        "password": password,
        "host": host,
        "port": port,
        "system_id": system_id,
    }
    values: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    from openlinq.delivery.routing import parse_setting

    values.update(parse_setting(text) for text in settings or [])

    async def change(services: Services) -> LineCarrierView:
        account = await services.accounts.get(AccountId(account_id))
        if carrier is None:
            if values:
                fail("name the carrier these settings are for")
            return await services.carriers.describe(account.id, phone_number)
        return await services.carriers.configure(account.id, phone_number, carrier, values)

    view = run(data_dir, database_url, change)
    if as_json:
        emit_json(asdict(view))
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(view.settings.items()))
    say(f"{view.phone_number}: {view.carrier}" + (f" ({shown})" if shown else ""))
    if view.inbound_url:
        say(f"inbound URL (keep it secret; the gateway calls it): {view.inbound_url}")
        if urlsplit(view.inbound_url).hostname in LOOPBACK_HOSTS:
            # Built from this shell's settings: without OPENLINQ_PUBLIC_URL that is a loopback
            # address (and this shell's port), which a Mac or an SMSC elsewhere cannot reach.
            say(_loopback_warning(os.environ.get("OPENLINQ_PUBLIC_URL")))


def _loopback_warning(public_url: str | None) -> str:
    fix = "to the address the gateway reaches, then set the carrier again"
    if public_url:
        return (
            f"warning: that URL is on loopback: OPENLINQ_PUBLIC_URL ({public_url}) is a loopback "
            f"address; set it (for this command and the server) {fix}"
        )
    return (
        "warning: that URL is on loopback; set OPENLINQ_PUBLIC_URL (for this command and the "
        f"server) {fix}"
    )


@lines_app.command("apply")
def lines_apply(
    path: Annotated[Path, typer.Argument(help="A carriers file (TOML, see docs/gateways.md).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the carriers a file declares; lines it does not name are left as they are."""
    from openlinq.cli.carriers_file import CarriersFileError, parse_carriers_file

    try:
        declared = parse_carriers_file(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")
    except CarriersFileError as error:
        fail(f"{path}: {error}")

    async def change(services: Services) -> list[LineCarrierView]:
        # Everything is checked before anything changes: a bad entry leaves every line as it was.
        for number, entry in enumerate(declared, 1):
            try:
                account = await services.accounts.get(AccountId(entry.account))
                await services.carriers.describe(account.id, entry.phone_number)
                services.carriers.validated(entry.carrier, entry.settings)
            except Exception as error:
                known = user_error(error)
                if known is None:
                    raise
                fail(f"{path}: entry {number} ({entry.phone_number}): {known}")
        return [
            await services.carriers.configure(
                AccountId(entry.account), entry.phone_number, entry.carrier, entry.settings
            )
            for entry in declared
        ]

    views = run(data_dir, database_url, change)
    if as_json:
        emit_json([asdict(view) for view in views])
        return
    for view in views:
        say(f"{view.phone_number}: {view.carrier} ({'set' if view.changed else 'unchanged'})")
        if view.inbound_url:
            say(f"  inbound URL (keep it secret; the gateway calls it): {view.inbound_url}")
