"""/console/lines: the account's lines (flag, restore, add), the server's accounts and
their policies, the chosen account's API keys, and its lines' contact cards.

Every action goes through the service the CLI and the API use (``AccountService``,
``LineService``, ``ContactCardService``), so a flag fires ``phone_number.status_updated``
and a contact card keeps the API's rules and write budget. In hosted mode the console
is the operator's (access.py), so these are operator actions.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from openlinq.api.schemas.common import RequestModel
from openlinq.api.schemas.features import ContactCardIn, ContactCardPatchIn
from openlinq.api.schemas.lines import PhoneNumberOut
from openlinq.api.views import contact_card_out, phone_number_out
from openlinq.console.access import Console, ConsoleDep
from openlinq.console.render import render
from openlinq.delivery.routing import KINDS, SIMULATOR, LineCarrierView, parse_setting
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.limits import daily_limit, pair_limit
from openlinq.domain.models import Account, AccountTier, Line, LineStatus, LineType

router = APIRouter()


class LineStatusChangeIn(RequestModel):
    phone_number: str = Field(max_length=32)
    status: Literal["ACTIVE", "FLAGGED"]


class LineIn(RequestModel):
    phone_number: str = Field(max_length=32)


class ZeroRetentionIn(LineIn):
    enabled: bool


class LineAddIn(RequestModel):
    phone_number: str = Field(max_length=32)
    line_type: LineType = LineType.IMESSAGE
    rcs_enabled: bool = True


class AccountIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    tier: AccountTier = AccountTier.STANDARD


class PolicyIn(RequestModel):
    # None puts the platform default back; the ranges are the domain's (set_policy).
    pair_limit_per_minute: int | None = None
    daily_message_limit: int | None = None
    retention_hours: float | None = None


class KeyIn(RequestModel):
    name: str | None = Field(default=None, max_length=200)


class KeyRevokeIn(RequestModel):
    key_id: str = Field(max_length=64)


class LineCarrierIn(LineIn):
    carrier: str = Field(max_length=32)
    # KEY=VALUE, one a line (as `openlinq lines carrier --set`); none for the simulator.
    settings: str = Field(default="", max_length=4000)


class CardPatchIn(ContactCardPatchIn):
    phone_number: str = Field(max_length=32)


def _policy(account: Account) -> dict[str, str]:
    """The limits in force, in words: the domain's own rules decide the defaults."""
    pair, daily = pair_limit(account), daily_limit(account)
    hours = account.retention_hours
    return {
        "pair": f"{pair.count} a minute" if pair else "no limit",
        "daily": f"{daily.count} a day" if daily else "no limit",
        "retention": f"{hours:g} h" if hours else "kept",
    }


async def _keys(console: Console) -> list[dict[str, Any]]:
    return await console.services.accounts.keys(console.account_id)


async def _cards(console: Console) -> dict[str, Any]:
    cards = await console.services.contact_cards.of_account(console.account, None)
    return {card.phone_number: contact_card_out(card) for card in cards}


async def _numbers(console: Console) -> list[tuple[Line, PhoneNumberOut, LineCarrierView]]:
    carriers = await console.services.carriers.views(console.account_id)
    simulated = LineCarrierView("", SIMULATOR, {})
    return [
        (line, phone_number_out(line), carriers.get(line.phone_number, simulated))
        for line in console.lines
    ]


@router.get("/lines", response_class=HTMLResponse)
async def lines_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    return render(
        request,
        console,
        "lines.html",
        numbers=await _numbers(console),
        keys=await _keys(console),
        cards=await _cards(console),
        policies={a.id: _policy(a) for a, _ in console.accounts},
        line_types=list(LineType),
        tiers=list(AccountTier),
        carriers=[SIMULATOR, *KINDS],
    )


@router.get("/lines/numbers", response_class=HTMLResponse)
async def numbers_fragment(request: Request, console: ConsoleDep) -> HTMLResponse:
    return render(request, console, "_lines.html", numbers=await _numbers(console))


@router.get("/lines/keys", response_class=HTMLResponse)
async def keys_fragment(request: Request, console: ConsoleDep) -> HTMLResponse:
    return render(request, console, "_keys.html", keys=await _keys(console))


@router.get("/lines/accounts", response_class=HTMLResponse)
async def accounts_fragment(request: Request, console: ConsoleDep) -> HTMLResponse:
    policies = {a.id: _policy(a) for a, _ in console.accounts}
    return render(request, console, "_accounts.html", policies=policies, tiers=list(AccountTier))


@router.get("/lines/cards", response_class=HTMLResponse)
async def cards_fragment(request: Request, console: ConsoleDep) -> HTMLResponse:
    return render(request, console, "_cards.html", cards=await _cards(console))


@router.post("/lines/status")
async def set_status(body: LineStatusChangeIn, console: ConsoleDep) -> dict[str, Any]:
    line = await console.services.lines.set_status(
        console.account, body.phone_number, LineStatus(body.status)
    )
    verb = "flagged" if line.status is LineStatus.FLAGGED else "restored"
    return {"message": f"{line.phone_number} {verb}", "status": line.status.value}


@router.post("/lines/add")
async def add_line(body: LineAddIn, console: ConsoleDep) -> dict[str, Any]:
    line = await console.services.accounts.add_line(
        console.account_id,
        body.phone_number,
        body.line_type,
        rcs_enabled=body.rcs_enabled,
        origin="dashboard",
    )
    return {"message": f"Added {line.phone_number} ({line.line_type.value})", "id": line.id}


@router.post("/lines/release")
async def release_line(body: LineIn, console: ConsoleDep) -> dict[str, Any]:
    line = await console.services.accounts.release_line(console.account_id, body.phone_number)
    return {"message": f"Released {line.phone_number}"}


@router.post("/lines/zero-retention")
async def set_zero_retention(body: ZeroRetentionIn, console: ConsoleDep) -> dict[str, Any]:
    line = await console.services.lines.set_zero_retention(
        console.account, body.phone_number, body.enabled, "dashboard"
    )
    state = "on" if line.zero_retention else "off"
    return {"message": f"{line.phone_number}: zero data retention {state}"}


@router.post("/lines/carrier")
async def set_carrier(body: LineCarrierIn, console: ConsoleDep) -> dict[str, Any]:
    values = dict(parse_setting(text) for text in body.settings.splitlines() if text.strip())
    view = await console.services.carriers.configure(
        console.account_id, body.phone_number, body.carrier, values
    )
    answer: dict[str, Any] = {
        "message": f"{view.phone_number} now sends through {view.carrier}",
        "carrier": view.carrier,
        "settings": view.settings,
    }
    if view.inbound_url:
        # Its token is the endpoint's credential: the shown-once dialog, as API keys are.
        label = f"Inbound URL of {view.phone_number} (give it to the gateway; keep it secret)"
        answer["shown_once"] = {"label": label, "value": view.inbound_url}
    return answer


@router.post("/lines/accounts")
async def create_account(body: AccountIn, console: ConsoleDep) -> dict[str, Any]:
    account, key = await console.services.accounts.create_account(body.name, body.tier)
    return {
        "message": f"Created account {account.name}",
        "account": {"id": account.id, "name": account.name},
        "shown_once": {"label": f"API key of {account.name}", "value": key},
    }


@router.post("/lines/policy")
async def set_policy(body: PolicyIn, console: ConsoleDep) -> dict[str, Any]:
    account = await console.services.accounts.set_policy(
        console.account_id,
        pair_limit_per_minute=body.pair_limit_per_minute,
        daily_message_limit=body.daily_message_limit,
        retention_hours=body.retention_hours,
    )
    policy = _policy(account)
    return {
        "message": f"{account.name}: pair limit {policy['pair']}, daily limit {policy['daily']}, "
        f"messages {policy['retention']}"
    }


@router.post("/lines/keys")
async def create_key(body: KeyIn, console: ConsoleDep) -> dict[str, Any]:
    name = body.name or None
    key = await console.services.accounts.add_key(console.account_id, name, origin="dashboard")
    return {
        "message": "Key created",
        "shown_once": {"label": f"New API key of {console.account.name}", "value": key},
    }


@router.post("/lines/keys/revoke")
async def revoke_key(body: KeyRevokeIn, console: ConsoleDep) -> dict[str, Any]:
    accounts = console.services.accounts
    if not await accounts.revoke_key(
        body.key_id, account_id=console.account_id, origin="dashboard"
    ):
        raise LinqError(ErrorCode.STATE_CONFLICT, "no active key with that id in this account")
    return {"message": "Key revoked: requests with it answer 401 from now on"}


@router.post("/lines/keys/rotate")
async def rotate_keys(body: KeyIn, console: ConsoleDep) -> dict[str, Any]:
    key = await console.services.accounts.rotate_keys(
        console.account_id, body.name or None, origin="dashboard"
    )
    return {
        "message": "New key issued; every other key of the account is revoked",
        "shown_once": {"label": f"New API key of {console.account.name}", "value": key},
    }


@router.post("/lines/cards")
async def create_card(body: ContactCardIn, console: ConsoleDep) -> dict[str, Any]:
    card = await console.services.contact_cards.create(
        console.account, body.phone_number, body.first_name, body.last_name, body.image_url
    )
    return {"message": f"Contact card of {card.phone_number} created"}


@router.patch("/lines/cards")
async def update_card(body: CardPatchIn, console: ConsoleDep) -> dict[str, Any]:
    # Only the fields the form sent change, as PATCH /v3/contact_card does.
    given = body.model_dump(include=body.model_fields_set - {"phone_number"})
    card = await console.services.contact_cards.update(console.account, body.phone_number, **given)
    return {"message": f"Contact card of {card.phone_number} updated"}


@router.delete("/lines/cards")
async def delete_card(body: LineIn, console: ConsoleDep) -> dict[str, Any]:
    card = await console.services.contact_cards.delete(
        console.account, body.phone_number, "dashboard"
    )
    return {"message": f"Contact card of {card.phone_number} deleted"}
