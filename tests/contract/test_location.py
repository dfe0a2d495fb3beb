"""Location sharing: requests, GeoJSON reads, stopping, and the simulated devices' shares."""

from __future__ import annotations

import linq
import pytest

from tests.support.tenant import Tenant, magic

FRIEND = "+14155556001"


def _chat(tenant: Tenant, *to: str) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=list(to), message={"parts": [{"type": "text", "value": "hi"}]}
    )
    return created.chat.id


def test_a_device_with_a_location_answers_a_request(tenant: Tenant) -> None:
    tenant.sim.configure(FRIEND, location=[-122.4194, 37.7749])
    chat_id = _chat(tenant, FRIEND)
    reply = tenant.client.chats.location.request(chat_id)
    assert (reply.success, reply.message) == (True, "Location request sent")
    tenant.sim.advance(0)
    assert tenant.client.chats.location.retrieve(chat_id).data.features == []
    tenant.sim.advance(2)
    feature = tenant.client.chats.location.retrieve(chat_id).data.features[0]
    assert feature.geometry.coordinates == [-122.4194, 37.7749]
    assert feature.properties.handle == FRIEND
    started = tenant.sim.events("location.sharing.started")[-1]["data"]
    assert (started["shared_by"], started["shared_with"], started["chat_id"]) == (
        FRIEND,
        tenant.line,
        chat_id,
    )
    with pytest.raises(linq.ConflictError):
        tenant.client.chats.location.request(chat_id)  # already sharing


def test_positions_with_altitude_and_stopping(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND)
    tenant.http.post(
        f"/sim/v1/devices/{FRIEND}/location",
        json={
            "chat_id": chat_id,
            "longitude": 2.35,
            "latitude": 48.85,
            "altitude": 35.0,
            "locality": "Paris",
        },
    ).raise_for_status()
    feature = tenant.client.chats.location.retrieve(chat_id).data.features[0]
    assert feature.geometry.coordinates == [2.35, 48.85, 35.0]
    assert feature.properties.locality == "Paris"
    stopped = tenant.client.chats.location.stop(chat_id, handle=FRIEND)
    assert stopped.success is True
    assert tenant.client.chats.location.retrieve(chat_id).data.features == []
    assert tenant.sim.events("location.sharing.stopped")[-1]["data"]["shared_by"] == FRIEND
    with pytest.raises(linq.NotFoundError):
        tenant.client.chats.location.stop(chat_id, handle=FRIEND)


def test_a_share_runs_out(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND)
    tenant.http.post(
        f"/sim/v1/devices/{FRIEND}/location",
        json={"to": tenant.line, "longitude": 1.0, "latitude": 2.0, "duration_seconds": 60},
    ).raise_for_status()
    assert tenant.client.chats.location.retrieve(chat_id).data.features
    tenant.sim.advance(61)
    assert tenant.client.chats.location.retrieve(chat_id).data.features == []


@pytest.mark.parametrize(("to", "code"), [((FRIEND, "+14155556002"), 2016), ((magic("01"),), 2017)])
def test_requests_are_for_one_to_one_imessage_chats(
    tenant: Tenant, to: tuple[str, ...], code: int
) -> None:
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.chats.location.request(_chat(tenant, *to))
    assert refused.value.code == code


def test_requests_are_limited_per_chat(tenant: Tenant) -> None:
    chat_id = _chat(tenant, FRIEND)
    tenant.client.chats.location.request(chat_id)
    with pytest.raises(linq.RateLimitError) as limited:
        tenant.client.chats.location.request(chat_id)
    assert limited.value.retry_after == 60
