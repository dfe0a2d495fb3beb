"""``openlinq webhooks``: a local receiver (optionally forwarding) and the delivery log."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openlinq.cli.common import (
    DEFAULT_BASE_URL,
    Api,
    ApiKey,
    ApiUrl,
    JsonFlag,
    emit_json,
    fail,
    say,
    seconds,
    table,
)

if TYPE_CHECKING:
    from openlinq.webhooks.listen import Received

webhooks_app = typer.Typer(
    help="Webhooks: a local receiver, subscriptions and the delivery log.", no_args_is_help=True
)

# Headers that describe one HTTP hop, not the delivery: never forwarded.
_HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding"}
)


def _wanted_events(events: str | None) -> list[str]:
    from openlinq.webhooks.catalogue import EVENT_TYPE_SET, EVENT_TYPES

    if not events:
        return list(EVENT_TYPES)
    wanted = [name.strip() for name in events.split(",") if name.strip()]
    unknown = sorted(set(wanted) - EVENT_TYPE_SET)
    if unknown:
        fail(f"unknown event type(s): {', '.join(unknown)} (see GET /v3/webhook-events)", 2)
    return wanted


def _subscribe(api: Api, target_url: str, wanted: list[str]) -> tuple[str, str]:
    """Subscribe ``target_url``, replacing a subscription a previous listen left behind
    (its signing secret is not shown again, so it cannot be reused)."""
    for stale in api.partner("GET", "/webhook-subscriptions")["subscriptions"]:
        if stale["target_url"] == target_url:
            api.partner("DELETE", f"/webhook-subscriptions/{stale['id']}")
            say(f"replaced stale subscription {stale['id']} for {target_url}")
    created = api.partner(
        "POST",
        "/webhook-subscriptions",
        json={"target_url": target_url, "subscribed_events": wanted},
    )
    return created["id"], created["signing_secret"]


def _compact(received: Received, status: int | None, forward_to: str | None) -> str:
    event = received.event or {}
    data = event.get("data") or {}
    marks = {True: "signed", False: "BAD SIGNATURE", None: "unverified"}
    parts = [
        datetime.now().strftime("%H:%M:%S"),
        str(event.get("event_type", "?")),
        str(event.get("event_id", "")),
        marks[received.standard_ok],
    ]
    chat = data.get("chat_id") or (data.get("chat") or {}).get("id")
    if chat:
        parts.append(f"chat {chat}")
    if forward_to:
        parts.append(f"-> {status}" if status else "-> not forwarded")
    if received.error:
        parts.append(received.error)
    return "  ".join(parts)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


@webhooks_app.command("listen")
def listen(
    port: Annotated[int, typer.Option(help="Port to receive on.")] = 9099,
    host: Annotated[str, typer.Option(help="Address to receive on.")] = "127.0.0.1",
    forward_to: Annotated[
        str | None,
        typer.Option(help="Forward each verified delivery, headers and all, to this URL."),
    ] = None,
    events: Annotated[
        str | None, typer.Option(help="Comma-separated event types (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each full payload.")] = False,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="LINQ_WEBHOOK_SECRET",
            help="Only receive, verifying with this secret (no subscription is made).",
        ),
    ] = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """Subscribe a local receiver, verify every delivery and print one line per event.

    The subscription is removed when you stop it (Ctrl-C or SIGTERM). With --forward-to,
    openlinq's answer is your endpoint's status, so failures show in the delivery log.
    """
    import httpx
    import uvicorn

    from openlinq.cli.server import bind
    from openlinq.webhooks.listen import receiver_app

    wanted = _wanted_events(events)
    sock = bind(host, port)
    # Listening before subscribing: the subscription's first delivery (sent at once) waits
    # in the backlog until the receiver runs, instead of being refused and retried.
    sock.listen(128)
    target_url = f"http://{host}:{port}/webhooks"
    api = None
    known: dict[str, str | None] = {"secret": secret, "subscription": None}
    if secret is None:
        api = Api(api_url, api_key)
        try:
            known["subscription"], known["secret"] = _subscribe(api, target_url, wanted)
        except BaseException:
            sock.close()
            api.close()
            raise
        say(f"subscribed {known['subscription']} to {len(wanted)} event types")
        # Forwarded deliveries keep openlinq's signatures: the target verifies with this.
        say(f"signing secret: {known['secret']}")
    forwarder = httpx.AsyncClient(timeout=10, trust_env=False) if forward_to else None

    async def forward(received: Received) -> int:
        assert forwarder is not None
        assert forward_to is not None
        headers = {k: v for k, v in received.headers.items() if k not in _HOP_HEADERS}
        try:
            response = await forwarder.post(forward_to, content=received.body, headers=headers)
        except httpx.TransportError as error:
            say(f"  forward to {forward_to} failed: {type(error).__name__} {error}")
            return 502
        return response.status_code

    def show(received: Received, status: int | None) -> None:
        event = received.event or {}
        if events and event.get("event_type") not in wanted:
            return
        if as_json:
            emit_json(event)
        else:
            say(_compact(received, status, forward_to))

    say(
        f"listening on {target_url}"
        + (f", forwarding to {forward_to}" if forward_to else "")
        + " (Ctrl-C to stop)"
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    config = uvicorn.Config(
        receiver_app(lambda: known["secret"], show, forward if forward_to else None),
        log_level="warning",
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        if api is not None:
            api.partner("DELETE", f"/webhook-subscriptions/{known['subscription']}")
            say(f"unsubscribed {known['subscription']}")
            api.close()


@webhooks_app.command("list")
def list_subscriptions(
    api_url: ApiUrl = DEFAULT_BASE_URL, api_key: ApiKey = None, as_json: JsonFlag = False
) -> None:
    """Your webhook subscriptions."""
    with Api(api_url, api_key) as api:
        subscriptions = api.partner("GET", "/webhook-subscriptions")["subscriptions"]
    if as_json:
        emit_json(subscriptions)
        return
    table(
        ["id", "target", "events", "active"],
        [
            (
                s["id"],
                s["target_url"],
                len(s["subscribed_events"]),
                "yes" if s["is_active"] else f"no ({s.get('disabled_reason') or 'paused'})",
            )
            for s in subscriptions
        ],
    )


@webhooks_app.command("deliveries")
def deliveries(
    subscription_id: str,
    status: Annotated[
        str | None, typer.Option(help="pending, retrying, succeeded or failed.")
    ] = None,
    event_type: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """A subscription's delivery log: every event, its status and its attempts."""
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if event_type:
        params["event_type"] = event_type
    with Api(api_url, api_key) as api:
        page = api.partner(
            "GET", f"/webhook-subscriptions/{subscription_id}/deliveries", params=params
        )
    if as_json:
        emit_json(page["deliveries"])
        return
    rows: list[tuple[Any, ...]] = []
    for delivery in page["deliveries"]:
        last = delivery["attempt_log"][-1] if delivery["attempt_log"] else {}
        rows.append(
            (
                delivery["id"],
                delivery["created_at"],
                delivery["event_type"],
                delivery["status"],
                delivery["attempts"],
                last.get("status_code") or "-",
                f"{last['latency_ms']} ms" if last else "-",
                (delivery.get("last_error") or "")[:60],
            )
        )
    table(["delivery", "created", "event", "status", "attempts", "last", "latency", "error"], rows)


@webhooks_app.command("retry")
def retry(
    subscription_id: str,
    delivery_id: str,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """Deliver one event again now."""
    with Api(api_url, api_key) as api:
        delivery = api.partner(
            "POST", f"/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/retry"
        )
    say(f"{delivery['event_type']} {delivery['event_id']} queued again ({delivery['status']})")


@webhooks_app.command("recover")
def recover(
    subscription_id: str,
    since: Annotated[
        str, typer.Option(help="A duration back from now (1h, 30m) or an ISO 8601 time.")
    ] = "24h",
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """Deliver again every event that failed since a time."""
    try:
        moment = datetime.fromisoformat(since)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    except ValueError:
        moment = datetime.now(UTC) - timedelta(seconds=seconds(since))
    with Api(api_url, api_key) as api:
        result = api.partner(
            "POST",
            f"/webhook-subscriptions/{subscription_id}/recover",
            json={"since": moment.isoformat()},
        )
    say(f"requeued {result['requeued']} failed deliveries since {moment.isoformat()}")
