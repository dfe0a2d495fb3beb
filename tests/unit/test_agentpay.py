"""The agent-payment rules read against the clock: stages, connection status, next steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from openlinq.domain.agentpay import (
    APPROVAL_TTL,
    ATTACH_TTL,
    CARD_TTL,
    CODE_TTL,
    MAX_CODE_ATTEMPTS,
    _next_step,
    check_url,
    connection_status,
    default_wallet,
    payment_stage,
    wire_status,
)
from openlinq.domain.errors import LinqError
from openlinq.domain.ids import AccountId
from openlinq.store.repos.agentpay import AgentPayment, HandleConnection

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACCOUNT = AccountId("a")
HANDLE = "+14155550100"


def _payment(**changes: object) -> AgentPayment:
    base = AgentPayment(
        id="p",
        account_id=ACCOUNT,
        idempotency_key=None,
        request_hash="h",
        handle=HANDLE,
        amount_cents=100,
        currency="usd",
        description=None,
        merchant=None,
        metadata=None,
        stage="attach",
        action_token=None,
        action_expires_at=None,
        card_ref=None,
        card_expires_at=None,
        user_token_hash=None,
        user_token_expires_at=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _ceremony(**changes: object) -> HandleConnection:
    base = HandleConnection(
        account_id=ACCOUNT,
        handle=HANDLE,
        id="c",
        status="pending",
        connect_id="cxn",
        code="123456",
        code_expires_at=NOW + CODE_TTL,
        code_sent_at=NOW,
        attempts=0,
        connected_at=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_customer_without_a_card_is_asked_to_attach_one() -> None:
    step = _next_step(_payment(), default_wallet(ACCOUNT, HANDLE), NOW)
    assert step.stage == "attach"
    assert step.action_token
    assert step.action_expires_at == NOW + ATTACH_TTL
    # Asking again changes nothing while the card is still missing.
    assert _next_step(step, default_wallet(ACCOUNT, HANDLE), NOW) == step


def test_with_a_card_the_passkey_comes_next_then_the_card() -> None:
    wallet = replace(default_wallet(ACCOUNT, HANDLE), card_on_file=True)
    approval = _next_step(_payment(), wallet, NOW)
    assert (approval.stage, approval.action_expires_at) == ("approval", NOW + APPROVAL_TTL)
    assert _next_step(approval, wallet, NOW) == approval  # not approved yet
    minted = _next_step(replace(approval, stage="approved"), wallet, NOW)
    assert minted.stage == "ready"
    assert minted.card_ref
    assert minted.action_token is None
    assert minted.card_expires_at == NOW + CARD_TTL


def test_no_passkey_mints_at_once() -> None:
    wallet = replace(default_wallet(ACCOUNT, HANDLE), card_on_file=True, approval_required=False)
    assert _next_step(_payment(), wallet, NOW).stage == "ready"


@pytest.mark.parametrize(
    ("stage", "deadline_field"),
    [
        ("attach", "action_expires_at"),
        ("approval", "action_expires_at"),
        ("approved", "action_expires_at"),
        ("ready", "card_expires_at"),
    ],
)
def test_waiting_stages_expire_at_their_deadline(stage: str, deadline_field: str) -> None:
    payment = _payment(stage=stage, **{deadline_field: NOW + timedelta(seconds=1)})
    assert payment_stage(payment, NOW) == stage
    assert payment_stage(payment, NOW + timedelta(seconds=1)) == "expired"


@pytest.mark.parametrize("stage", ["authorized", "succeeded", "declined", "canceled"])
def test_settled_stages_never_expire(stage: str) -> None:
    payment = _payment(stage=stage, card_expires_at=NOW, action_expires_at=NOW)
    assert payment_stage(payment, NOW + timedelta(days=9)) == stage


def test_the_wire_shows_waiting_on_the_customer_as_one_status() -> None:
    assert {wire_status(s) for s in ("attach", "approval", "approved")} == {"awaiting_user_action"}
    assert wire_status("ready") == "ready"


def test_connection_status_reads_the_ceremony_against_the_clock() -> None:
    assert connection_status(None, NOW) == "not_connected"
    assert connection_status(_ceremony(), NOW) == "pending"
    assert connection_status(_ceremony(), NOW + CODE_TTL) == "not_connected"
    assert connection_status(_ceremony(attempts=MAX_CODE_ATTEMPTS), NOW) == "not_connected"
    # A customer connected before, whose new ceremony ran out, is revoked, not new.
    assert connection_status(_ceremony(connected_at=NOW), NOW + CODE_TTL) == "revoked"
    assert connection_status(_ceremony(status="connected"), NOW + CODE_TTL) == "connected"


@pytest.mark.parametrize("url", ["https://a.example/x?y=1", "http://127.0.0.1:8080/back"])
def test_urls_that_pass(url: str) -> None:
    assert check_url(url, "return_url") == url


@pytest.mark.parametrize(
    "url",
    ["", "a.example", "//a.example", "mailto:x@a.example", "https://a.example/\n", "http://[::1"],
)
def test_urls_that_do_not(url: str) -> None:
    with pytest.raises(LinqError):
        check_url(url, "return_url")
