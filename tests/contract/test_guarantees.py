"""The platform's guarantees: rate limits, opt-out, chat health, retention, isolation, keys."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import linq
import pytest
from linq import LinqAPIV3

from openlinq.domain.ids import AccountId
from openlinq.domain.models import AccountTier
from tests.support.files import PNG
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant, magic

TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}


def _say(tenant: Tenant, to: str, line: str | None = None, **extra: Any) -> Any:
    return tenant.client.chats.create(from_=line or tenant.line, to=[to], message=TEXT, **extra)


def _policy(server: RunningServer, tenant: Tenant, **values: Any) -> None:
    settings = {"pair_limit_per_minute": None, "daily_message_limit": None, "retention_hours": None}
    server.call(
        functools.partial(
            server.services.accounts.set_policy,
            AccountId(tenant.account_id),
            **{**settings, **values},
        )
    )


# -- rate limits ----------------------------------------------------------------------------


def test_thirty_messages_a_minute_per_pair(tenant: Tenant) -> None:
    chat_id = _say(tenant, "+14155558001").chat.id
    for _ in range(29):
        tenant.client.chats.messages.send(chat_id, message=TEXT)
    with pytest.raises(linq.RateLimitError) as limited:
        tenant.client.chats.messages.send(chat_id, message=TEXT)
    assert limited.value.code == 1007
    assert limited.value.retry_after == 60
    assert limited.value.response.headers["retry-after"] == "60"
    # Other pairs are not affected: another recipient, or the same one from another line.
    _say(tenant, "+14155558002")
    _say(tenant, "+14155558001", line=tenant.lines[1].phone_number)
    tenant.sim.advance(30)
    with pytest.raises(linq.RateLimitError) as still:
        tenant.client.chats.messages.send(chat_id, message=TEXT)
    assert still.value.retry_after == 30  # the window slides
    tenant.sim.advance(30)
    tenant.client.chats.messages.send(chat_id, message=TEXT)


def test_an_account_can_lift_the_pair_limit(server: RunningServer, tenant: Tenant) -> None:
    _policy(server, tenant, pair_limit_per_minute=0)
    chat_id = _say(tenant, "+14155558003").chat.id
    for _ in range(35):
        tenant.client.chats.messages.send(chat_id, message=TEXT)


def test_sandbox_accounts_send_a_hundred_a_day(server: RunningServer) -> None:
    sandbox = create_tenant(server, tier=AccountTier.SANDBOX)
    try:
        for n in range(100):
            _say(sandbox, f"+1415559{n:04d}")
        with pytest.raises(linq.RateLimitError) as limited:
            _say(sandbox, "+14155588888")
        assert limited.value.retry_after == 86_400
    finally:
        sandbox.client.close()
        sandbox.http.close()


def test_the_local_tier_is_not_capped_daily(server: RunningServer) -> None:
    local = create_tenant(server, tier=AccountTier.LOCAL)
    try:
        for n in range(101):
            _say(local, f"+1415557{n:04d}")
    finally:
        local.client.close()
        local.http.close()


# -- opt-out ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keyword",
    [
        "STOP",
        "UNSUBSCRIBE",
        "OPTOUT",
        "CANCEL",
        "END",
        "QUIT",
        " STOP ",
        "opt out",
        "Opt-Out",
        "OPT OUT",
        "optout",
    ],
)
def test_opt_out_keywords_block_every_direct_send(tenant: Tenant, keyword: str) -> None:
    recipient = "+14155558101"
    chat_id = _say(tenant, recipient).chat.id
    tenant.sim.send(recipient, to=tenant.line, text=keyword)
    assert tenant.client.chats.retrieve(chat_id).health_status.status == "OPTED_OUT"
    attempts: list[Callable[[], object]] = [
        lambda: tenant.client.chats.messages.send(chat_id, message=TEXT),
        lambda: _say(tenant, recipient, line=tenant.lines[1].phone_number),
        lambda: tenant.client.messages.create(to=[recipient], message=TEXT),
    ]
    for attempt in attempts:
        with pytest.raises(linq.PermissionDeniedError) as blocked:
            attempt()
        assert blocked.value.code == 2024


@pytest.mark.parametrize(
    "text", ["stop", "Stop", "STOP please", "STOP!", "end of story", "quit it"]
)
def test_other_texts_are_not_opt_outs(tenant: Tenant, text: str) -> None:
    recipient = "+14155558102"
    chat_id = _say(tenant, recipient).chat.id
    tenant.sim.send(recipient, to=tenant.line, text=text)
    assert tenant.client.chats.retrieve(chat_id).health_status.status == "HEALTHY"
    tenant.client.chats.messages.send(chat_id, message=TEXT)


def test_override_and_opting_back_in(tenant: Tenant) -> None:
    chat_id = _say(tenant, magic("06")).chat.id
    tenant.sim.settle(2)  # the device answers STOP
    assert tenant.client.chats.retrieve(chat_id).health_status.status == "OPTED_OUT"
    tenant.client.chats.messages.send(chat_id, message=TEXT, override_optout=True)
    with pytest.raises(linq.PermissionDeniedError):
        tenant.client.chats.messages.send(chat_id, message=TEXT)  # the override was one request
    tenant.sim.send(magic("06"), to=tenant.line, text="sorry, keep going")
    assert tenant.client.chats.retrieve(chat_id).health_status.status == "HEALTHY"
    tenant.client.chats.messages.send(chat_id, message=TEXT)


def test_groups_are_never_marked_or_blocked(tenant: Tenant) -> None:
    group = tenant.client.chats.create(
        from_=tenant.line, to=["+14155558103", "+14155558104"], message=TEXT
    )
    tenant.sim.send("+14155558103", chat_id=group.chat.id, text="STOP")
    assert tenant.client.chats.retrieve(group.chat.id).health_status.status != "OPTED_OUT"
    tenant.client.chats.messages.send(group.chat.id, message=TEXT)
    _say(tenant, "+14155558103")  # and no block was recorded for the direct chat either


# -- chat health --------------------------------------------------------------------------------


def test_unanswered_streaks_put_a_chat_at_risk_then_critical(tenant: Tenant) -> None:
    chat_id = _say(tenant, "+14155558201").chat.id
    statuses = []
    for _ in range(9):
        tenant.client.chats.messages.send(chat_id, message=TEXT)
        statuses.append(tenant.client.chats.retrieve(chat_id).health_status.status)
    assert statuses[2] == "HEALTHY"  # 4 unanswered
    assert statuses[3] == "AT_RISK"  # 5
    assert statuses[8] == "CRITICAL"  # 10
    tenant.sim.send("+14155558201", to=tenant.line, text="hi!")
    assert tenant.client.chats.retrieve(chat_id).health_status.status == "HEALTHY"


def test_repeated_failures_make_a_chat_critical(tenant: Tenant) -> None:
    chat_id = _say(tenant, magic("03")).chat.id
    tenant.client.chats.messages.send(chat_id, message=TEXT)
    tenant.client.chats.messages.send(chat_id, message=TEXT)
    tenant.sim.advance(0)
    health = tenant.client.chats.retrieve(chat_id).health_status
    assert health.status == "CRITICAL"
    assert health.doc_url.endswith("#critical")


# -- retention ------------------------------------------------------------------------------------


def test_ephemeral_messages_disappear_after_their_window(
    server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    _policy(server, tenant, retention_hours=24)
    tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent", "message.delivered"]
    )
    attachment = tenant.client.attachments.create(
        filename="p.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(attachment.upload_url, content=PNG, headers=attachment.required_headers)
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155558301"],
        message={
            "parts": [{"type": "media", "attachment_id": attachment.attachment_id}],
            "idempotency_key": "ephemeral-1",
        },
    )
    tenant.sim.advance(0)
    hits_before = len(receiver.hits)
    tenant.sim.advance(23 * 3600)
    assert tenant.client.messages.retrieve(created.chat.message.id)
    tenant.sim.advance(3600 + 61)  # past the window, and past the next sweep
    with pytest.raises(linq.NotFoundError):
        tenant.client.messages.retrieve(created.chat.message.id)
    assert tenant.client.chats.messages.list(created.chat.id).messages == []
    with pytest.raises(linq.NotFoundError):
        tenant.client.attachments.retrieve(attachment.attachment_id)
    with pytest.raises(linq.NotFoundError):
        tenant.client.chats.create(
            from_=tenant.line,
            to=["+14155558301"],
            message={
                "parts": [{"type": "media", "attachment_id": attachment.attachment_id}],
                "idempotency_key": "ephemeral-1",
            },
        )
    assert len(receiver.hits) == hits_before  # no webhook for the purge
    assert tenant.client.chats.retrieve(created.chat.id).id == created.chat.id  # metadata stays


def test_non_ephemeral_messages_stay(tenant: Tenant) -> None:
    created = _say(tenant, "+14155558302")
    tenant.sim.advance(48 * 3600)
    assert tenant.client.messages.retrieve(created.chat.message.id)


# -- idempotency under real concurrency ------------------------------------------------------------


def test_concurrent_requests_with_one_key_create_one_message(tenant: Tenant) -> None:
    chat_id = _say(tenant, "+14155558401").chat.id
    body: Any = {"parts": [{"type": "text", "value": "once"}], "idempotency_key": "race-1"}

    def send(_: int) -> str:
        with LinqAPIV3(
            base_url=str(tenant.client.base_url), api_key=tenant.api_key, max_retries=0
        ) as client:
            return client.chats.messages.send(chat_id, message=body).message.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(send, range(16)))
    assert len(set(ids)) == 1
    texts = [m for m in tenant.client.chats.messages.list(chat_id).messages if m.id == ids[0]]
    assert len(texts) == 1
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 2


def test_concurrent_first_messages_open_one_chat(tenant: Tenant) -> None:
    def open_chat(_: int) -> str:
        with LinqAPIV3(
            base_url=str(tenant.client.base_url), api_key=tenant.api_key, max_retries=0
        ) as client:
            return client.chats.create(from_=tenant.line, to=["+14155558402"], message=TEXT).chat.id

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert len(set(pool.map(open_chat, range(12)))) == 1


# -- isolation and keys ----------------------------------------------------------------------------


def test_no_endpoint_crosses_accounts(
    tenant: Tenant, server: RunningServer, receiver: Receiver
) -> None:
    mine = _say(tenant, "+14155558501")
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["message.sent"]
    )
    other = create_tenant(server)
    try:
        other.client.webhook_subscriptions.create(
            target_url=receiver.url("/other"), subscribed_events=["message.sent"]
        )
        probes: list[Callable[[], object]] = [
            lambda: other.client.chats.retrieve(mine.chat.id),
            lambda: other.client.chats.messages.list(mine.chat.id),
            lambda: other.client.chats.messages.send(mine.chat.id, message=TEXT),
            lambda: other.client.messages.retrieve(mine.chat.message.id),
            lambda: other.client.messages.update(mine.chat.message.id, text="x"),
            lambda: other.client.messages.delete(mine.chat.message.id),
            lambda: other.client.webhook_subscriptions.retrieve(subscription.id),
            lambda: other.client.webhook_subscriptions.delete(subscription.id),
            lambda: other.client.phone_numbers.update(tenant.lines[0].id, forwarding_number=None),
        ]
        for probe in probes:
            with pytest.raises(linq.NotFoundError):
                probe()
        with pytest.raises(linq.PermissionDeniedError):
            other.client.chats.create(from_=tenant.line, to=["+14155558502"], message=TEXT)
        sim = other.http.post("/sim/v1/devices/+14155558501/read", json={"chat_id": mine.chat.id})
        assert sim.status_code == 404
        assert other.client.chats.list_chats().chats == []
        tenant.sim.advance(0)
        paths = {hit.path for hit in receiver.hits}
        assert paths == {"/hook"}  # the other account's subscription heard nothing
    finally:
        other.client.close()
        other.http.close()


def test_revoked_and_rotated_keys_stop_working(server: RunningServer, tenant: Tenant) -> None:
    accounts = server.services.accounts
    second = server.call(accounts.add_key, tenant.account_id, "second")
    with LinqAPIV3(base_url=str(tenant.client.base_url), api_key=second, max_retries=0) as client:
        assert client.phone_numbers.list().phone_numbers
        keys = server.call(accounts.keys, tenant.account_id)
        # By name: on the test's manual clock both keys share a created_at.
        (second_id,) = [k["id"] for k in keys if k["name"] == "second"]
        assert server.call(accounts.revoke_key, second_id)
        with pytest.raises(linq.AuthenticationError):
            client.phone_numbers.list()
    fresh = server.call(accounts.rotate_keys, tenant.account_id, "rotated")
    with pytest.raises(linq.AuthenticationError):
        tenant.client.phone_numbers.list()
    with LinqAPIV3(base_url=str(tenant.client.base_url), api_key=fresh, max_retries=0) as client:
        assert client.phone_numbers.list().phone_numbers


def test_oversized_bodies_are_refused(tenant: Tenant) -> None:
    response = tenant.http.post(
        "/v3/messages",
        content=b'{"to": ["+14155558601"], "pad": "' + b"x" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 1003
    assert response.json()["trace_id"] == response.headers["x-trace-id"]
