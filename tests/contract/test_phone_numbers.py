"""Phone numbers (list, forwarding, the deprecated list) and GET /v3/available_number."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import linq
import pytest

from openlinq.domain.models import LineType
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant

TEXT: Any = {"parts": [{"type": "text", "value": "hello"}]}
RECIPIENT = "+14155552671"


@pytest.fixture
def trio(server: RunningServer) -> Iterator[Tenant]:
    """A tenant with three iMessage lines, so exclusions can leave exactly one."""
    created = create_tenant(server, line_types=(LineType.IMESSAGE,) * 3)
    yield created
    created.client.close()
    created.http.close()


@pytest.fixture
def rcs_tenant(server: RunningServer) -> Iterator[Tenant]:
    created = create_tenant(server, line_types=(LineType.IMESSAGE, LineType.RCS))
    yield created
    created.client.close()
    created.http.close()


def _numbers(tenant: Tenant) -> list[str]:
    return [line.phone_number for line in tenant.lines]


def _available(tenant: Tenant, **params: Any) -> str:
    return tenant.client.available_number.retrieve(**params).phone_number


def _available_raw(tenant: Tenant, params: list[tuple[str, str]]) -> httpx.Response:
    return tenant.http.get("/v3/available_number", params=tuple(params))


def _chat(tenant: Tenant, line: str, to: str = RECIPIENT) -> str:
    return tenant.client.chats.create(from_=line, to=[to], message=TEXT).chat.id


def _tels(vcard: str) -> list[str]:
    return [row.rsplit(":", 1)[1] for row in vcard.splitlines() if row.startswith("TEL")]


# -- GET /v3/phone_numbers --------------------------------------------------------------------


def test_list_shows_exactly_the_tenants_lines(tenant: Tenant, rcs_tenant: Tenant) -> None:
    listed = tenant.client.phone_numbers.list().phone_numbers
    assert sorted((n.id, n.phone_number) for n in listed) == sorted(
        (line.id, line.phone_number) for line in tenant.lines
    )
    for number in listed:
        assert number.reputation.status == "HEALTHY"
        assert number.reputation.doc_url.startswith("https://")
        assert number.forwarding_number is None
        assert number.line_type == "iMessage"
    other = rcs_tenant.client.phone_numbers.list().phone_numbers
    assert {n.phone_number: n.line_type for n in other} == {
        rcs_tenant.lines[0].phone_number: "iMessage",
        rcs_tenant.lines[1].phone_number: "RCS",
    }


def test_deprecated_phonenumbers_list_has_all_capabilities(tenant: Tenant) -> None:
    with pytest.warns(DeprecationWarning, match="deprecated"):
        listed = tenant.client.phonenumbers.list().phone_numbers
    assert sorted(n.phone_number for n in listed) == sorted(_numbers(tenant))
    for number in listed:
        assert number.capabilities is not None
        assert (number.capabilities.mms, number.capabilities.sms, number.capabilities.voice) == (
            True,
            True,
            True,
        )


# -- PUT /v3/phone_numbers/{id} ---------------------------------------------------------------


def test_forwarding_number_is_set_and_listed(tenant: Tenant) -> None:
    line = tenant.lines[1]
    updated = tenant.client.phone_numbers.update(line.id, forwarding_number="+14155550000")
    assert (updated.id, updated.phone_number, updated.forwarding_number) == (
        line.id,
        line.phone_number,
        "+14155550000",
    )
    listed = {n.id: n.forwarding_number for n in tenant.client.phone_numbers.list().phone_numbers}
    assert listed == {tenant.lines[0].id: None, line.id: "+14155550000"}


@pytest.mark.parametrize("cleared", [None, ""])
def test_null_or_empty_forwarding_number_clears_it(tenant: Tenant, cleared: str | None) -> None:
    line = tenant.lines[0]
    tenant.client.phone_numbers.update(line.id, forwarding_number="+14155550000")
    updated = tenant.client.phone_numbers.update(line.id, forwarding_number=cleared)
    assert updated.forwarding_number is None
    listed = {n.id: n.forwarding_number for n in tenant.client.phone_numbers.list().phone_numbers}
    assert listed[line.id] is None


def test_forwarding_number_must_be_e164(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as e:
        tenant.client.phone_numbers.update(tenant.lines[0].id, forwarding_number="5551234")
    assert (e.value.status_code, e.value.code) == (400, 1002)


@pytest.mark.parametrize("whose", ["other tenant", "nobody"])
def test_forwarding_on_a_line_not_yours_is_404(
    tenant: Tenant, rcs_tenant: Tenant, whose: str
) -> None:
    line_id = rcs_tenant.lines[0].id if whose == "other tenant" else str(uuid.uuid4())
    with pytest.raises(linq.NotFoundError) as e:
        tenant.client.phone_numbers.update(line_id, forwarding_number="+14155550000")
    assert e.value.status_code == 404
    # The owner's line is untouched.
    owner = {
        n.id: n.forwarding_number for n in rcs_tenant.client.phone_numbers.list().phone_numbers
    }
    assert owner[rcs_tenant.lines[0].id] is None


# -- GET /v3/available_number: rotation and stickiness ----------------------------------------


@pytest.mark.parametrize("tick", [1.0, 0.0], ids=["clock moves", "clock stands still"])
def test_successive_suggestions_rotate_least_recently_used(tenant: Tenant, tick: float) -> None:
    picks = []
    for _ in range(6):
        picks.append(_available(tenant))
        tenant.sim.advance(tick)
    assert set(picks[:2]) == set(_numbers(tenant))
    assert picks == picks[:2] * 3


def test_sending_from_a_line_counts_as_use(tenant: Tenant) -> None:
    first = _available(tenant)
    (other,) = set(_numbers(tenant)) - {first}
    tenant.sim.advance(1)
    _chat(tenant, other)
    tenant.sim.advance(1)
    # Without the send, ``other`` (never suggested) would be least recently used.
    assert _available(tenant) == first


def test_to_an_existing_chat_sticks_to_its_line(tenant: Tenant) -> None:
    chat_line = tenant.lines[1].phone_number
    _chat(tenant, chat_line)
    for _ in range(3):
        tenant.sim.advance(1)
        assert _available(tenant, to=[RECIPIENT]) == chat_line


def test_sticky_line_yields_to_exclude_from(tenant: Tenant) -> None:
    _chat(tenant, tenant.lines[1].phone_number)
    picked = _available(tenant, to=[RECIPIENT], exclude_from=[tenant.lines[1].phone_number])
    assert picked == tenant.lines[0].phone_number


# -- exclude_from -----------------------------------------------------------------------------


def test_exclude_from_comma_joined_by_the_sdk(trio: Tenant) -> None:
    a, b, c = _numbers(trio)
    for _ in range(3):
        assert _available(trio, exclude_from=[a, b]) == c
        trio.sim.advance(1)


def test_exclude_from_as_repeated_params(trio: Tenant) -> None:
    a, b, c = _numbers(trio)
    for _ in range(3):
        response = _available_raw(trio, [("exclude_from", a), ("exclude_from", c)])
        assert response.status_code == 200, response.text
        assert response.json()["phone_number"] == b
        trio.sim.advance(1)


@pytest.mark.parametrize("bad", ["4155551234", "+1 415 555 1234", "not-a-number"])
def test_exclude_from_must_be_e164(tenant: Tenant, bad: str) -> None:
    with pytest.raises(linq.BadRequestError) as e:
        _available(tenant, exclude_from=[bad])
    assert (e.value.status_code, e.value.code) == (400, 1002)


def test_excluding_every_line_is_400(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as e:
        _available(tenant, exclude_from=_numbers(tenant))
    assert (e.value.status_code, e.value.code) == (400, 1005)
    repeated = _available_raw(tenant, [("exclude_from", n) for n in _numbers(tenant)])
    assert repeated.status_code == 400
    assert repeated.json()["error"]["code"] == 1005


# -- type -------------------------------------------------------------------------------------


def test_rcs_without_an_rcs_line_is_503(tenant: Tenant) -> None:
    with pytest.raises(linq.InternalServerError) as e:
        _available(tenant, type="RCS")
    assert (e.value.status_code, e.value.code) == (503, 4004)


@pytest.mark.parametrize("spelling", ["RCS", "rcs", "Rcs"])
def test_type_rcs_picks_the_rcs_line_case_insensitively(rcs_tenant: Tenant, spelling: str) -> None:
    rcs_line = rcs_tenant.lines[1].phone_number
    for _ in range(2):
        response = _available_raw(rcs_tenant, [("type", spelling)])
        assert response.status_code == 200, response.text
        assert response.json()["phone_number"] == rcs_line
        rcs_tenant.sim.advance(1)


def test_type_filters_through_the_sdk(rcs_tenant: Tenant) -> None:
    imessage_line, rcs_line = _numbers(rcs_tenant)
    assert _available(rcs_tenant, type="RCS") == rcs_line
    assert _available(rcs_tenant, type="iMessage") == imessage_line
    assert _available(rcs_tenant, type="RCS") == rcs_line


@pytest.mark.parametrize("bad", ["SMS", "imessages", ""])
def test_unknown_type_is_400(tenant: Tenant, bad: str) -> None:
    response = _available_raw(tenant, [("type", bad)])
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == 1005


# -- vcf_url ----------------------------------------------------------------------------------


def test_vcard_is_public_and_lists_the_chosen_number_first(trio: Tenant) -> None:
    a, b, c = _numbers(trio)
    suggestion = trio.client.available_number.retrieve(exclude_from=[b])
    response = httpx.get(suggestion.vcf_url)  # no Authorization: the link is the credential
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/vcard")
    assert "BEGIN:VCARD" in response.text
    tels = _tels(response.text)
    assert tels[0] == suggestion.phone_number
    # The other available line is a backup; the excluded one is left out.
    assert sorted(tels) == sorted([a, c])


def test_tampered_vcard_signature_is_403(tenant: Tenant) -> None:
    url = urlsplit(tenant.client.available_number.retrieve().vcf_url)
    query = dict(parse_qsl(url.query))
    query["sig"] = ("0" if query["sig"][0] != "0" else "1") + query["sig"][1:]
    response = httpx.get(urlunsplit(url._replace(query=urlencode(query))))
    assert response.status_code == 403
    assert response.json()["success"] is False
