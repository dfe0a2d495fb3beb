"""Per-line carriers: settings sealed outside the database, routing by line, inbound by token."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from openlinq.config import Settings
from openlinq.delivery.carrier import ChatAction
from openlinq.delivery.routing import KINDS, MASK
from openlinq.delivery.sealing import KEY_FILE, SealError
from openlinq.domain.errors import LinqError
from openlinq.domain.models import Account, DeliveryStatus, Line, Service
from openlinq.domain.parts import build_content
from openlinq.store.tables import line_carriers
from openlinq.wiring import Services, build_services, start, stop
from tests.support.relay_carrier import KIND, RelayCarrier
from tests.support.server import server_with
from tests.support.tenant import fresh_line_number

RELAY = {"url": "http://127.0.0.1:9/relay", "password": "hunter2-secret"}


@pytest.fixture(autouse=True)
def relay_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "relay", KIND)
    RelayCarrier.log.clear()


async def _account(services: Services, lines: int = 2) -> tuple[Account, list[Line]]:
    account, _ = await services.accounts.create_account("routing")
    made = [await services.accounts.add_line(account.id, fresh_line_number()) for _ in range(lines)]
    return account, made


async def _sealed_rows(services: Services) -> list[str]:
    async with services.storage.read() as repos:
        return [r.sealed for r in await repos.conn.execute(select(line_carriers))]


@pytest.mark.anyio
async def test_settings_are_sealed_in_the_database_and_masked_when_shown(
    services: Services, tmp_path: Path
) -> None:
    account, (line, _) = await _account(services)
    changed = await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    assert changed.settings == {"url": RELAY["url"], "password": MASK, "services": ["SMS"]}
    assert changed.inbound_url
    assert changed.inbound_url.startswith(f"{services.settings.base_url}/carriers/relay/")
    (sealed,) = await _sealed_rows(services)
    assert "hunter2" not in sealed
    assert "127.0.0.1" not in sealed
    shown = await services.carriers.describe(account.id, line.phone_number)
    assert (shown.carrier, shown.settings["password"], shown.inbound_url) == ("relay", MASK, None)
    key = tmp_path / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # Another key (a copied database without its key) opens nothing.
    elsewhere = services.settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    other = build_services(elsewhere)
    with pytest.raises(SealError):
        await other.carriers.describe(account.id, line.phone_number)
    await other.db.dispose()


@pytest.mark.anyio
async def test_the_key_can_come_from_the_environment(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    built = build_services(
        Settings(database_url=fresh_database_url, data_dir=tmp_path, carrier_key=key)
    )
    await start(built)
    try:
        account, (line, _) = await _account(built)
        await built.carriers.configure(account.id, line.phone_number, "relay", RELAY)
        assert not (tmp_path / KEY_FILE).exists()
        (sealed,) = await _sealed_rows(built)
        assert "hunter2" in Fernet(key).decrypt(sealed.encode()).decode()
    finally:
        await stop(built)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "settings", "code", "words"),
    [
        ("relay", {"url": "http://x"}, 1005, "url and password are required"),
        ("relay", {**RELAY, "colour": "red"}, 1005, "unknown settings: colour"),
        ("pigeon", {}, 1005, "unknown carrier 'pigeon'"),
        ("simulator", {"url": "http://x"}, 1005, "the simulator takes no settings"),
    ],
)
async def test_bad_settings_are_refused_before_anything_is_stored(
    services: Services, name: str, settings: dict[str, str], code: int, words: str
) -> None:
    account, (line, _) = await _account(services)
    with pytest.raises(LinqError) as refused:
        await services.carriers.configure(account.id, line.phone_number, name, settings)
    assert refused.value.code.code == code
    assert words in refused.value.message
    assert await _sealed_rows(services) == []


@pytest.mark.anyio
async def test_a_carrier_missing_from_this_build_is_refused(services: Services) -> None:
    account, (line, _) = await _account(services)
    missing = KINDS["smpp"].__class__("nowhere", settings="openlinq.delivery.nowhere:S", carrier="")
    services.carriers.kinds["nowhere"] = missing
    with pytest.raises(LinqError) as refused:
        await services.carriers.configure(account.id, line.phone_number, "nowhere", {"a": 1})
    assert refused.value.code.code == 2011


@pytest.mark.anyio
async def test_a_line_of_another_account_cannot_be_configured(services: Services) -> None:
    _, (line, _) = await _account(services)
    stranger, _ = await _account(services, lines=0)
    with pytest.raises(LinqError) as refused:
        await services.carriers.configure(stranger.id, line.phone_number, "relay", RELAY)
    assert refused.value.code.code == 2006


@pytest.mark.anyio
async def test_sends_and_actions_go_through_their_lines_carrier(services: Services) -> None:
    account, (relayed, simulated) = await _account(services)
    await services.carriers.configure(account.id, relayed.phone_number, "relay", RELAY)
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    via_relay = await services.messaging.create_chat(
        account, relayed.phone_number, ["+14155550100"], content, "a"
    )
    via_sim = await services.messaging.create_chat(
        account, simulated.phone_number, ["+14155550101"], content, "b"
    )
    await services.simulator.run_due()
    assert [d for n, w, d in RelayCarrier.log if w == "send"] == [via_relay.message.id]
    sent, *_ = await services.messages.get(account, via_relay.message.id)
    assert sent.delivery_status is DeliveryStatus.SENT
    # The other line still sends through the simulator (absent from the relay's log above).
    simulated_send, *_ = await services.messages.get(account, via_sim.message.id)
    assert simulated_send.delivery_status is DeliveryStatus.SENT
    action = ChatAction(
        "typing_started", account.id, via_relay.chat.id, relayed.phone_number, (), Service.SMS, {}
    )
    await services.carrier.perform(action)
    assert RelayCarrier.log[-1] == (relayed.phone_number, "perform", "typing_started")


@pytest.mark.anyio
async def test_capabilities_are_the_union_of_the_accounts_carriers(services: Services) -> None:
    account, (first, second) = await _account(services)
    handle = "+14155550102"
    simulated = await services.carrier.capabilities(account.id, handle)
    assert simulated == await services.carriers.simulator.capabilities(account.id, handle)
    await services.carriers.configure(
        account.id, first.phone_number, "relay", RELAY | {"services": "RCS"}
    )
    # One simulated line left: the simulator's answer and the relay's.
    assert await services.carrier.capabilities(account.id, handle) == simulated | {Service.RCS}
    await services.carriers.configure(
        account.id, second.phone_number, "relay", RELAY | {"services": "RCS"}
    )
    # Every line on a real carrier: the simulator has no say any more.
    assert await services.carrier.capabilities(account.id, handle) == {Service.RCS}
    # Back to the simulator.
    await services.carriers.configure(account.id, first.phone_number, "simulator", {})
    await services.carriers.configure(account.id, second.phone_number, "simulator", {})
    assert await services.carrier.capabilities(account.id, handle) == simulated


@pytest.mark.anyio
async def test_a_changed_line_gets_a_new_carrier_and_the_old_one_is_closed(
    services: Services,
) -> None:
    account, (line, _) = await _account(services)
    first = await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    carrier = await services.carriers.for_number(line.phone_number)
    assert isinstance(carrier, RelayCarrier)
    # start() ran at server start, so a carrier built later is started at once.
    assert RelayCarrier.log[:1] == [(line.phone_number, "start", None)]
    again = await services.carriers.configure(
        account.id, line.phone_number, "relay", RELAY | {"url": "http://127.0.0.1:9/v2"}
    )
    assert (line.phone_number, "close", None) in RelayCarrier.log
    replaced = await services.carriers.for_number(line.phone_number)
    assert isinstance(replaced, RelayCarrier)
    assert replaced is not carrier
    assert replaced.settings.url.endswith("/v2")
    # The same carrier keeps its inbound URL: the gateway need not be reconfigured.
    assert again.inbound_url == first.inbound_url == replaced.inbound_url


@pytest.mark.anyio
async def test_setting_the_same_carrier_again_changes_nothing(services: Services) -> None:
    account, (line, other) = await _account(services)
    first = await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    carrier = await services.carriers.for_number(line.phone_number)
    sealed = await _sealed_rows(services)
    again = await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    assert (first.changed, again.changed, again.inbound_url) == (True, False, None)
    # Not rewritten, not rebuilt: a bind or a registered webhook is not dropped for nothing.
    assert await _sealed_rows(services) == sealed
    assert await services.carriers.for_number(line.phone_number) is carrier
    assert (line.phone_number, "close", None) not in RelayCarrier.log
    plain = await services.carriers.configure(account.id, other.phone_number, "simulator", {})
    assert plain.changed is False


def test_inbound_requests_reach_the_lines_carrier_by_token_only(tmp_path: Path) -> None:
    with server_with(tmp_path) as server:
        services = server.services

        async def setup() -> tuple[Account, Line, str]:
            account, (line, _) = await _account(services)
            view = await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
            assert view.inbound_url
            return account, line, view.inbound_url

        account, _line, url = server.call(setup)
        path = url.removeprefix(services.settings.base_url)
        with httpx.Client(base_url=server.base_url) as http:
            ok = http.post(f"{path}/inbound", json={"from": "+14155550103", "text": "hi"})
            assert ok.status_code == 200, ok.text
            for wrong in (
                f"/carriers/relay/{'x' * 43}/inbound",  # unknown token
                path.replace("/relay/", "/bluebubbles/") + "/inbound",  # another carrier's route
            ):
                refused = http.post(wrong, json={"from": "+14155550103", "text": "no"})
                assert refused.status_code in (401, 404), refused.text
                assert refused.json()["success"] is False

        async def inbound_texts() -> list[str]:
            events = await services.simulator.recent_events(account, 20)
            return [e.data["parts"][0]["value"] for e in events if e.type == "message.received"]

        assert server.call(inbound_texts) == ["hi"]


def test_secrets_never_reach_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with server_with(tmp_path) as server:

        async def configure() -> str | None:
            account, (line, _) = await _account(server.services)
            view = await server.services.carriers.configure(
                account.id, line.phone_number, "relay", RELAY
            )
            return view.inbound_url

        with caplog.at_level("DEBUG"):
            url = server.call(configure)
    assert url
    token = url.rsplit("/", 1)[1]
    assert "relay" in caplog.text  # the change is logged ...
    assert "hunter2" not in caplog.text
    assert token not in caplog.text


@pytest.mark.anyio
async def test_an_inbound_token_opens_only_its_own_carrier(services: Services) -> None:
    account, (line, _) = await _account(services)
    view = await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    assert view.inbound_url
    token = view.inbound_url.rsplit("/", 1)[1]
    assert isinstance(await services.carriers.inbound("relay", token), RelayCarrier)
    for name, wrong in (("bluebubbles", token), ("relay", token[:-1] + "x"), ("relay", "")):
        with pytest.raises(LinqError) as refused:
            await services.carriers.inbound(name, wrong)
        assert refused.value.code.code == 2004
    # Back on the simulator, the line's old URL opens nothing.
    await services.carriers.configure(account.id, line.phone_number, "simulator", {})
    with pytest.raises(LinqError):
        await services.carriers.inbound("relay", token)


def _access_lines(caplog: pytest.LogCaptureFixture, containing: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "openlinq.access" and containing in r.getMessage()
    ]


def test_the_access_log_never_shows_an_inbound_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with server_with(tmp_path, access_log=True) as server:

        async def setup() -> str | None:
            account, (line, _) = await _account(server.services)
            view = await server.services.carriers.configure(
                account.id, line.phone_number, "relay", RELAY
            )
            return view.inbound_url

        url = server.call(setup)
        assert url
        token = url.rsplit("/", 1)[1]
        path = url.removeprefix(server.services.settings.base_url)
        with caplog.at_level("INFO"), httpx.Client(base_url=server.base_url) as http:
            answered = http.post(f"{path}/inbound", json={"from": "+14155550104", "text": "x"})
            assert answered.status_code == 200
            assert http.post(f"/carriers/relay/{'y' * 43}/inbound", json={}).status_code == 401
            # A request's access line is written once its answer is sent: the client can have
            # the answer a moment before the line exists.
            deadline = time.monotonic() + 10
            while len(_access_lines(caplog, "/carriers/")) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
    lines = _access_lines(caplog, "")
    assert any("/carriers/relay/…/inbound 200" in line for line in lines), lines
    assert any("/carriers/relay/…/inbound 401" in line for line in lines), lines
    assert not any(token in line or "y" * 43 in line for line in lines)


@pytest.mark.anyio
async def test_a_chat_opened_from_a_line_uses_what_that_line_s_carrier_reaches(
    services: Services,
) -> None:
    # The account's other line is simulated (iMessage for this handle); the relay line
    # reaches SMS only, so a chat it opens is SMS (x15-smpp's finding: it was iMessage).
    account, (relayed, simulated) = await _account(services)
    await services.carriers.configure(account.id, relayed.phone_number, "relay", RELAY)
    handle = "+14155550105"
    assert Service.IMESSAGE in await services.carrier.capabilities(account.id, handle)
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    opened = await services.messaging.create_chat(
        account, relayed.phone_number, [handle], content, "c"
    )
    assert opened.chat.service is Service.SMS
    checked = await services.capability.check_imessage(account, handle, relayed.phone_number)
    assert checked.available is False
    from_sim = await services.capability.check_imessage(account, handle, simulated.phone_number)
    assert from_sim.available is True


SMPP = {"host": "127.0.0.1", "port": 9, "system_id": "acme", "password": "smscpw"}


@pytest.mark.anyio
async def test_what_an_smpp_line_cannot_carry_is_refused_4005_before_anything_commits(
    services: Services,
) -> None:
    from openlinq.domain.reactions import ReactionRequest

    account, (line, _) = await _account(services)
    content = build_content({"parts": [{"type": "text", "value": "hello"}]})
    # An iMessage chat from when the line was simulated, then the line moves to an SMSC.
    opened = await services.messaging.create_chat(
        account, line.phone_number, ["+14155550103"], content, "c"
    )
    assert opened.chat.service is Service.IMESSAGE
    view = await services.carriers.configure(account.id, line.phone_number, "smpp", SMPP)
    love = ReactionRequest(operation="add", type="love")
    with pytest.raises(LinqError) as refused:
        await services.reactions.react(account, opened.message.id, love)
    assert (refused.value.code.code, refused.value.code.http_status) == (4005, 400)
    types = [e.type for e in await services.simulator.recent_events(account, 50)]
    assert "reaction.added" not in types
    # Marking a chat read is openlinq's own state: SMS has nothing to refuse.
    assert await services.chats.mark_read(account, opened.chat.id) == 0
    # No inbound router: an SMPP line has no inbound URL to give anyone.
    assert view.inbound_url is None


@pytest.mark.anyio
async def test_a_malformed_setting_is_refused_without_echoing_it() -> None:
    from openlinq.delivery.routing import parse_setting

    with pytest.raises(LinqError) as refused:
        parse_setting("password:hunter22")
    assert refused.value.code.code == 1005
    assert "hunter22" not in refused.value.message
    assert parse_setting("port=2775") == ("port", 2775)


@pytest.mark.anyio
async def test_opening_sealed_settings_without_a_key_says_so_and_makes_none(
    services: Services, tmp_path: Path
) -> None:
    account, (line, _) = await _account(services)
    await services.carriers.configure(account.id, line.phone_number, "relay", RELAY)
    elsewhere = tmp_path / "elsewhere"
    other = build_services(services.settings.model_copy(update={"data_dir": elsewhere}))
    try:
        with pytest.raises(SealError) as refused:
            await other.carriers.describe(account.id, line.phone_number)
        assert str(refused.value).startswith("no carrier key: set OPENLINQ_CARRIER_KEY")
        assert not (elsewhere / KEY_FILE).exists()
        assert not elsewhere.exists()
    finally:
        await other.db.dispose()
    bad = build_services(services.settings.model_copy(update={"carrier_key": "notakey"}))
    try:
        with pytest.raises(SealError) as refused:
            await bad.carriers.describe(account.id, line.phone_number)
        assert str(refused.value).startswith("OPENLINQ_CARRIER_KEY is not a Fernet key")
        assert "notakey" not in str(refused.value)
    finally:
        await bad.db.dispose()
