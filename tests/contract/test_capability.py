"""POST /v3/capability/check_imessage and /check_rcs: answers about the recipient, and the
sender-side faults that are never answers."""

from __future__ import annotations

import functools

import linq
import pytest

from openlinq.domain.ids import AccountId
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, fresh_line_number, magic

IPHONE = "+14155552671"
EMAIL = "someone@example.com"


def _check(tenant: Tenant, check: str, address: str, from_: str | None = None) -> object:
    capability = tenant.client.capability
    method = capability.check_i_message if check == "imessage" else capability.check_RCS
    return method(address=address, from_=from_) if from_ else method(address=address)


@pytest.mark.parametrize("address", [IPHONE, EMAIL])
def test_imessage_reachable_handles(tenant: Tenant, address: str) -> None:
    answer = tenant.client.capability.check_i_message(address=address)
    assert (answer.address, answer.available, answer.selected_service) == (
        address,
        True,
        "iMessage",
    )


def test_imessage_check_of_sms_only_phone_falls_back_to_sms(tenant: Tenant) -> None:
    answer = tenant.client.capability.check_i_message(address=magic("01"), from_=tenant.line)
    assert (answer.address, answer.available, answer.selected_service) == (
        magic("01"),
        False,
        "SMS",
    )


def test_rcs_check_of_android_phone_is_positive(tenant: Tenant) -> None:
    answer = tenant.client.capability.check_RCS(address=magic("02"))
    assert (answer.address, answer.available, answer.reason) == (magic("02"), True, None)
    assert answer.selected_service == "RCS"


def test_rcs_check_of_iphone_is_not_supported_and_would_go_sms(tenant: Tenant) -> None:
    answer = tenant.client.capability.check_RCS(address=IPHONE, from_=tenant.lines[1].phone_number)
    assert (answer.available, answer.reason, answer.selected_service) == (
        False,
        "not_supported",
        "SMS",
    )


def test_rcs_check_refuses_an_email(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as e:
        tenant.client.capability.check_RCS(address=EMAIL)
    assert (e.value.status_code, e.value.code) == (400, 1002)


@pytest.mark.parametrize("check", ["imessage", "rcs"])
@pytest.mark.parametrize("address", ["4155552671", "+1 (415) 555-2671", "+"])
def test_address_must_be_e164(tenant: Tenant, check: str, address: str) -> None:
    with pytest.raises(linq.BadRequestError) as e:
        _check(tenant, check, address)
    assert (e.value.status_code, e.value.code) == (400, 1002)


@pytest.mark.parametrize("check", ["imessage", "rcs"])
def test_from_must_be_one_of_your_lines(tenant: Tenant, check: str) -> None:
    stranger = fresh_line_number()
    with pytest.raises(linq.PermissionDeniedError) as e:
        _check(tenant, check, IPHONE, stranger)
    assert (e.value.status_code, e.value.code) == (403, 2006)


def test_rcs_check_from_a_line_without_rcs_is_a_sender_fault(
    server: RunningServer, tenant: Tenant
) -> None:
    add_line = functools.partial(server.services.accounts.add_line, rcs_enabled=False)
    line = server.call(add_line, AccountId(tenant.account_id), fresh_line_number())
    with pytest.raises(linq.InternalServerError) as e:
        tenant.client.capability.check_RCS(address=magic("02"), from_=line.phone_number)
    assert (e.value.status_code, e.value.code) == (503, 4004)
    # A sender fault, not an answer: the same recipient checks fine from an RCS line.
    assert tenant.client.capability.check_RCS(address=magic("02"), from_=tenant.line).available


def test_without_from_the_check_answers_for_the_line_a_send_would_use(
    server: RunningServer, tenant: Tenant
) -> None:
    add_line = functools.partial(server.services.accounts.add_line, rcs_enabled=False)
    server.call(add_line, AccountId(tenant.account_id), fresh_line_number())
    for line in tenant.lines:  # the line without RCS is now the least recently used
        tenant.client.chats.create(
            from_=line.phone_number,
            to=[IPHONE],
            message={"parts": [{"type": "text", "value": "hi"}]},
        )
        tenant.sim.advance(1)
    # The line without RCS reaches this Android phone on SMS only; a send opens the chat on
    # a line with RCS, and the check says so.
    answer = tenant.client.capability.check_i_message(address=magic("02"))
    assert (answer.available, answer.selected_service) == (False, "RCS")
    sent = tenant.client.messages.create(
        to=[magic("02")], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    assert sent.message.service == "RCS"
