"""/sim/v1: drive the simulated phones (openlinq's own API, same Bearer auth)."""

from __future__ import annotations

import hmac
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from openlinq.api.deps import AccountDep, ServicesDep, phone_query
from openlinq.api.schemas.features import DeviceLocationIn
from openlinq.api.schemas.payment_requests import PaymentRequestOut
from openlinq.api.schemas.simulator import (
    ClockAdvanceIn,
    ClockOut,
    CountOut,
    DeviceBackgroundIn,
    DeviceChatIn,
    DeviceMessageIn,
    DeviceMessageOut,
    DeviceOut,
    DevicePaymentIn,
    DevicePollIn,
    DevicePollOptionsIn,
    DevicePollVoteIn,
    DeviceReactionIn,
    DeviceSettingsIn,
    DeviceTypingIn,
    DroppedListOut,
    DroppedOut,
    EventListOut,
    EventOut,
    LineStatusIn,
    LineStatusOut,
    PaymentOnboardingIn,
    PaymentOnboardingOut,
    ScreenOut,
)
from openlinq.api.views import screen_message_out
from openlinq.delivery.simulator.control import SimulatorControl
from openlinq.delivery.simulator.devices import DeviceProfile
from openlinq.domain.clock import ManualClock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.locations import Position
from openlinq.domain.models import Account, LineStatus
from openlinq.domain.parts import build_content
from openlinq.domain.payment_views import payment_request_view

router = APIRouter(prefix="/sim/v1", tags=["simulator"])
# Running every due job is for local development only: hosted mode does not mount it.
jobs_router = APIRouter(prefix="/sim/v1", tags=["simulator"])


async def require_operator(
    services: ServicesDep,
    operator_key: Annotated[str | None, Header(alias="X-Operator-Key")] = None,
) -> None:
    """Hosted mode: the simulator can un-flag lines and forge inbound messages (an opt-in
    "START" lifts an opt-out), so only the operator may drive it."""
    expected = services.settings.operator_api_key or ""
    if not expected or not hmac.compare_digest((operator_key or "").encode(), expected.encode()):
        raise LinqError(
            ErrorCode.ACCESS_DENIED,
            "in hosted mode the simulator control API needs the operator key (X-Operator-Key)",
        )


def _device_out(handle: str, profile: DeviceProfile, configured: bool) -> DeviceOut:
    return DeviceOut(handle=handle, configured=configured, profile=profile.to_json())


@router.get("/devices/{handle}", response_model=DeviceOut)
async def get_device(handle: str, account: AccountDep, services: ServicesDep) -> DeviceOut:
    return _device_out(*await services.simulator.device(account, handle))


@router.put("/devices/{handle}", response_model=DeviceOut)
async def configure_device(
    handle: str, body: DeviceSettingsIn, account: AccountDep, services: ServicesDep
) -> DeviceOut:
    settings = body.model_dump(exclude_none=True)
    return _device_out(*await services.simulator.configure(account, handle, settings))


@router.patch("/devices/{handle}", response_model=DeviceOut)
async def update_device(
    handle: str, body: DeviceSettingsIn, account: AccountDep, services: ServicesDep
) -> DeviceOut:
    """Change only the given settings (null removes one); the script keeps its place."""
    settings = body.model_dump(exclude_unset=True)
    return _device_out(*await services.simulator.configure(account, handle, settings, merge=True))


@router.delete("/devices/{handle}", status_code=204, response_class=Response)
async def reset_device(handle: str, account: AccountDep, services: ServicesDep) -> Response:
    await services.simulator.reset(account, handle)
    return Response(status_code=204)


@router.post("/devices/{handle}/messages", status_code=201, response_model=DeviceMessageOut)
async def device_sends(
    handle: str, body: DeviceMessageIn, account: AccountDep, services: ServicesDep
) -> DeviceMessageOut:
    if (body.text is None) == (body.parts is None):
        raise LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, "give exactly one of text or parts")
    raw_parts = (
        [{"type": "text", "value": body.text}]
        if body.text is not None
        else [p.model_dump(exclude_none=True) for p in body.parts or []]
    )
    message = await services.simulator.send_message(
        account,
        handle,
        to=body.to,
        chat_id=body.chat_id,
        content=build_content({"parts": raw_parts}),
        reply_to=body.reply_to,
    )
    return DeviceMessageOut.of(message)  # dropped when blocked: see GET /sim/v1/dropped


@router.post("/devices/{handle}/reactions", status_code=204, response_class=Response)
async def device_reacts(
    handle: str, body: DeviceReactionIn, account: AccountDep, services: ServicesDep
) -> Response:
    await react_as_device(services.simulator, account, handle, body)
    return Response(status_code=204)


async def react_as_device(
    simulator: SimulatorControl, account: Account, handle: str, body: DeviceReactionIn
) -> None:
    """The phone adds or removes a tapback, or peels a sticker on: this route's and the
    console's one way in."""
    await simulator.react(
        account,
        handle,
        body.message_id,
        body.type,
        body.custom_emoji,
        body.part_index,
        remove=body.operation == "remove",
        emoji=body.emoji,
    )


@router.post("/devices/{handle}/polls", status_code=201, response_model=DeviceMessageOut)
async def device_creates_poll(
    handle: str, body: DevicePollIn, account: AccountDep, services: ServicesDep
) -> DeviceMessageOut:
    """The phone sends a poll into a chat it is in (the agent gets poll.received)."""
    message = await services.simulator.create_poll(account, handle, body.chat_id, body.options)
    return DeviceMessageOut.of(message)  # dropped when blocked: see GET /sim/v1/dropped


@router.post("/devices/{handle}/poll-votes", status_code=204, response_class=Response)
async def device_votes(
    handle: str, body: DevicePollVoteIn, account: AccountDep, services: ServicesDep
) -> Response:
    """The phone votes for a poll option, or takes its vote back (poll.vote.*)."""
    await services.simulator.vote(
        account, handle, body.message_id, body.option_id, remove=body.operation == "remove"
    )
    return Response(status_code=204)


@router.post("/devices/{handle}/poll-options", status_code=204, response_class=Response)
async def device_adds_poll_options(
    handle: str, body: DevicePollOptionsIn, account: AccountDep, services: ServicesDep
) -> Response:
    """The phone adds options to a poll (poll.updated)."""
    await services.simulator.add_poll_options(account, handle, body.message_id, body.options)
    return Response(status_code=204)


@router.post("/devices/{handle}/read", response_model=CountOut)
async def device_reads(
    handle: str, body: DeviceChatIn, account: AccountDep, services: ServicesDep
) -> CountOut:
    return CountOut(count=await services.simulator.read(account, handle, body.chat_id))


@router.post("/devices/{handle}/typing", status_code=204, response_class=Response)
async def device_types(
    handle: str, body: DeviceTypingIn, account: AccountDep, services: ServicesDep
) -> Response:
    await services.simulator.typing(account, handle, body.chat_id, body.state == "started")
    return Response(status_code=204)


@router.post("/devices/{handle}/background", status_code=204, response_class=Response)
async def device_sets_background(
    handle: str, body: DeviceBackgroundIn, account: AccountDep, services: ServicesDep
) -> Response:
    """The device changes (or, with ``type: null``, removes) the chat's background."""
    background = None
    if body.type is not None:
        background = await services.backgrounds.prepare(account, body.request(body.type))
    await services.simulator.set_background(account, handle, body.chat_id, background)
    return Response(status_code=204)


@router.post("/devices/{handle}/leave", status_code=204, response_class=Response)
async def device_leaves(
    handle: str, body: DeviceChatIn, account: AccountDep, services: ServicesDep
) -> Response:
    """The device leaves a group chat (the agent gets participant.removed, status left)."""
    await services.simulator.leave_group(account, handle, body.chat_id)
    return Response(status_code=204)


@router.get("/devices/{handle}/screen", response_model=ScreenOut)
async def device_screen(handle: str, account: AccountDep, services: ServicesDep) -> ScreenOut:
    resolved, items = await services.simulator.screen(account, handle)
    return ScreenOut(
        handle=resolved,
        **await services.simulator.device_state(account, handle),
        messages=[screen_message_out(item) for item in items],
    )


def _clock_out(services: ServicesDep, jobs_run: int = 0) -> ClockOut:
    mode = "manual" if isinstance(services.clock, ManualClock) else "real"
    return ClockOut(now=services.clock.now(), mode=mode, jobs_run=jobs_run)


@router.get("/clock", response_model=ClockOut)
async def get_clock(account: AccountDep, services: ServicesDep) -> ClockOut:
    return _clock_out(services)


@router.post("/clock/advance", response_model=ClockOut)
async def advance_clock(
    body: ClockAdvanceIn, account: AccountDep, services: ServicesDep
) -> ClockOut:
    return _clock_out(services, await services.simulator.advance_clock(body.seconds))


@jobs_router.post("/jobs/run", response_model=ClockOut)
async def run_due_jobs(account: AccountDep, services: ServicesDep) -> ClockOut:
    return _clock_out(services, await services.simulator.run_due())


@router.get("/events", response_model=EventListOut)
async def recent_events(
    account: AccountDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventListOut:
    events = await services.simulator.recent_events(account, limit)
    return EventListOut(
        events=[
            EventOut(
                event_id=e.id,
                event_type=e.type,
                created_at=e.created_at,
                trace_id=e.trace_id,
                phone_number=e.phone_number,
                data=e.data,
            )
            for e in events
        ]
    )


@router.get("/dropped", response_model=DroppedListOut)
async def dropped_inbound(
    account: AccountDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DroppedListOut:
    """What blocked handles sent that was dropped (no message.received), newest first."""
    return DroppedListOut(
        dropped=[
            DroppedOut(
                id=d.id,
                handle=d.handle,
                line=d.line_number,
                chat_id=d.chat_id,
                kind=d.kind,
                summary=d.summary,
                received_at=d.received_at,
            )
            for d in await services.simulator.dropped(account, limit)
        ]
    )


@router.put("/lines/{phone_number}", response_model=LineStatusOut)
async def set_line_status(
    phone_number: str, body: LineStatusIn, account: AccountDep, services: ServicesDep
) -> LineStatusOut:
    """Flag a line (it stops sending, as Apple flagging does) or restore it."""
    line = await services.lines.set_status(account, phone_number, LineStatus(body.status))
    return LineStatusOut(id=line.id, phone_number=line.phone_number, status=line.status.value)


@router.post("/devices/{handle}/location", status_code=204, response_class=Response)
async def device_shares_location(
    handle: str, body: DeviceLocationIn, account: AccountDep, services: ServicesDep
) -> Response:
    """The device starts sharing its location with a line (or moves while sharing)."""
    await services.simulator.share_location(
        account,
        handle,
        Position(body.longitude, body.latitude, body.altitude, body.address, body.locality),
        to=body.to,
        chat_id=body.chat_id,
        duration=timedelta(seconds=body.duration_seconds) if body.duration_seconds else None,
    )
    return Response(status_code=204)


@router.delete("/devices/{handle}/location", status_code=204, response_class=Response)
async def device_stops_location(
    handle: str,
    account: AccountDep,
    services: ServicesDep,
    to: Annotated[str | None, Query(max_length=32)] = None,
    chat_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    await services.simulator.stop_location(account, handle, to=phone_query(to), chat_id=chat_id)
    return Response(status_code=204)


@router.post("/devices/{handle}/payments", response_model=PaymentRequestOut)
async def device_pays(
    handle: str, body: DevicePaymentIn, account: AccountDep, services: ServicesDep
) -> PaymentRequestOut:
    """The phone pays, declines or authorizes a checkout it was sent (link or agentpay card)."""
    if (body.checkout_url is None) == (body.message_id is None):
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, "give exactly one of checkout_url or message_id"
        )
    payments = services.payment_requests
    request = await payments.payer_acts(
        account,
        phone_query(handle) or handle,
        body.outcome,
        checkout_url=body.checkout_url,
        message_id=body.message_id,
    )
    return PaymentRequestOut.model_validate(payment_request_view(request, payments.base_url))


@router.get("/payments/onboarding", response_model=PaymentOnboardingOut)
async def payment_onboarding(account: AccountDep, services: ServicesDep) -> PaymentOnboardingOut:
    """Whether this account's simulated Stripe account takes charges (and Natural is set up)."""
    onboarding = await services.payment_requests.onboarding(account.id)
    return PaymentOnboardingOut(**asdict(onboarding))


@router.put("/payments/onboarding", response_model=PaymentOnboardingOut)
async def set_payment_onboarding(
    body: PaymentOnboardingIn, account: AccountDep, services: ServicesDep
) -> PaymentOnboardingOut:
    onboarding = await services.payment_requests.set_onboarding(
        account.id, stripe=body.stripe_charges_enabled, natural=body.natural_onboarded
    )
    return PaymentOnboardingOut(**asdict(onboarding))
