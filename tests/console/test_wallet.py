"""A phone's agent-payments wallet on /console/phones/{handle}: the same steps as
/sim/v1/devices/{handle}/wallet (the code, a card on file, approving or declining)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from linq.types import Payment

from tests.support.console import ConsoleClient
from tests.support.tenant import Tenant

CUSTOMER = "+14155557101"
PATH = f"/console/phones/{quote(CUSTOMER, safe='')}"


def _ready_and_connected(tenant: Tenant) -> None:
    assert tenant.http.put(
        "/sim/v1/payments/providers/agentcard", json={"status": "ready"}
    ).is_success
    pending = tenant.client.payment_handles.connect(CUSTOMER)
    code = tenant.http.get(f"/sim/v1/devices/{CUSTOMER}/wallet").json()["messages"][-1]["code"]
    tenant.client.payment_handles.verify(CUSTOMER, code=code, connect_id=pending.connect_id or "")


def test_the_phone_page_shows_the_code_the_provider_texted(
    tenant: Tenant, console: ConsoleClient
) -> None:
    assert "Nothing waiting for this phone" in console.page(PATH)
    tenant.http.put("/sim/v1/payments/providers/agentcard", json={"status": "ready"})
    tenant.client.payment_handles.connect(CUSTOMER)
    code = tenant.http.get(f"/sim/v1/devices/{CUSTOMER}/wallet").json()["messages"][-1]["code"]
    fragment = console.page(f"{PATH}/wallet")
    assert f"agentcard: {code} is your code" in fragment
    assert "<strong>pending</strong>" in fragment
    assert code in console.page(PATH)
    assert f"Text the code to {tenant.line}" in fragment
    sent = console.ok("POST", f"{PATH}/wallet/reply-code", json={"to": tenant.line})
    assert tenant.client.messages.retrieve(sent["message_id"]).parts[0].value == code  # type: ignore[index,union-attr]


def test_adding_a_card_and_approving_from_the_console(
    tenant: Tenant, console: ConsoleClient
) -> None:
    _ready_and_connected(tenant)
    key = {"Idempotency-Key": str(uuid.uuid4())}

    def pay() -> Payment:
        return tenant.client.payments.create(
            handle=CUSTOMER,
            amount_cents=1250,
            currency="usd",
            merchant={"name": "Books & Co"},
            extra_headers=key,
        )

    assert pay().attach_url
    page = console.page(f"{PATH}/wallet")
    assert "Add a card for" in page
    assert "12.50 USD" in page
    assert "Books &amp; Co" in page
    (action_id,) = [
        a["action_id"]
        for a in tenant.http.get(f"/sim/v1/devices/{CUSTOMER}/wallet").json()["actions"]
    ]
    answer = console.ok("POST", f"{PATH}/wallet/actions/{action_id}", json={"decision": "accept"})
    assert answer["stage"] == "attach"
    assert pay().approval_url
    (approval,) = tenant.http.get(f"/sim/v1/devices/{CUSTOMER}/wallet").json()["actions"]
    assert "Approve" in console.page(f"{PATH}/wallet")
    console.ok(
        "POST", f"{PATH}/wallet/actions/{approval['action_id']}", json={"decision": "accept"}
    )
    assert pay().status == "ready"


def test_wallet_settings_and_their_checks(tenant: Tenant, console: ConsoleClient) -> None:
    answer = console.ok(
        "PUT", f"{PATH}/wallet", json={"card_on_file": True, "approval_required": False}
    )
    assert answer["message"] == f"{CUSTOMER}: a card on file, no passkey step"
    wallet = tenant.http.get(f"/sim/v1/devices/{CUSTOMER}/wallet").json()
    assert (wallet["card_on_file"], wallet["approval_required"]) == (True, False)
    bad = console.act("POST", f"{PATH}/wallet/actions/act_nope", json={"decision": "accept"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (404, 1005)
    assert console.http.put(f"{PATH}/wallet", json={"card_on_file": False}).status_code == 403
