"""The webhook retry schedule, signatures, payload versions and target policy."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.outbound import OutboundPolicy, ResolvedTarget, parse_url, pinned_request
from openlinq.webhooks.catalogue import V2025, V2026, payload_version, version_for
from openlinq.webhooks.retry import MAX_ATTEMPTS, Outcome, backoff, next_delay, parse_retry_after
from openlinq.webhooks.signing import new_secret, signed_headers

async_test = pytest.mark.anyio


def test_ten_attempts_span_about_twenty_five_minutes() -> None:
    rng = random.Random(7)
    total = sum(backoff(attempt, rng) for attempt in range(1, MAX_ATTEMPTS))
    assert 0.85 * 1533 <= total <= 1.15 * 1533
    assert 20 * 60 <= total <= 30 * 60  # the platform's 30-minute window


@pytest.mark.parametrize("attempt", range(1, MAX_ATTEMPTS))
def test_backoff_doubles_with_bounded_jitter(attempt: int) -> None:
    base = 3.0 * 2 ** (attempt - 1)
    delays = [backoff(attempt, random.Random(seed)) for seed in range(50)]
    assert all(0.85 * base <= d <= 1.15 * base for d in delays)
    assert len(set(delays)) > 1  # jitter spreads retries out


@pytest.mark.parametrize(
    ("outcome", "retried"),
    [
        (Outcome(500), True),
        (Outcome(503), True),
        (Outcome(429), True),
        (Outcome(None, "timed out"), True),
        (Outcome(400), False),
        (Outcome(404), False),
        (Outcome(301), False),
        (Outcome(200), False),
        (Outcome(None, "refused: private address", refused=True), False),
    ],
)
def test_what_is_retried(outcome: Outcome, retried: bool) -> None:
    assert (next_delay(1, outcome, random.Random(1)) is not None) is retried


def test_retry_after_replaces_backoff_and_the_last_attempt_is_final() -> None:
    assert next_delay(3, Outcome(429, retry_after=7.0), random.Random(1)) == 7.0
    assert next_delay(1, Outcome(429, retry_after=10_000.0), random.Random(1)) == 3600.0
    assert next_delay(MAX_ATTEMPTS, Outcome(500), random.Random(1)) is None


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), (None, None)]
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_both_signatures_verify() -> None:
    secret = new_secret()
    body = b'{"event_type":"message.sent","data":{}}'
    sent_at = datetime.now(UTC)
    headers = signed_headers(
        secret,
        event_id="e1",
        event_type="message.sent",
        subscription_id="s1",
        body=body,
        sent_at=sent_at,
    )
    Webhook(secret).verify(body.decode(), headers)  # raises when wrong
    timestamp = headers["x-webhook-timestamp"]
    legacy = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["x-webhook-signature"] == legacy.hexdigest()
    assert headers["webhook-id"] == "e1"
    assert headers["x-webhook-subscription-id"] == "s1"


def test_secrets_are_standard_webhooks_keys() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) == 32
    assert new_secret() != secret


@pytest.mark.parametrize(
    ("requested", "version"),
    [
        (None, V2026),
        ("2026-02-03", V2026),
        ("2030-01-01", V2026),
        ("2025-06-01", V2025),
        ("2025-01-01", V2025),
        ("2024-12-31", None),
        ("yesterday", None),
    ],
)
def test_payload_version_is_the_newest_on_or_before_the_date(
    requested: str | None, version: str | None
) -> None:
    assert version_for(requested) == version


def test_version_comes_from_the_target_url() -> None:
    assert payload_version("https://x.test/hook?version=2025-01-01") == V2025
    assert payload_version("https://x.test/hook") == V2026
    with pytest.raises(LinqError) as caught:
        payload_version("https://x.test/hook?version=1999-01-01")
    assert caught.value.code is ErrorCode.INVALID_PARAMETER


@pytest.mark.parametrize(
    "url", ["ftp://x.test/h", "https://user:pw@x.test/h", "https://x.test/h#frag", "/relative"]
)
def test_bad_target_urls_are_refused(url: str) -> None:
    with pytest.raises(LinqError):
        OutboundPolicy(hosted=False).check_url(url, "target_url")


def test_local_development_allows_plain_http_to_localhost() -> None:
    assert OutboundPolicy(hosted=False).check_url("http://localhost:9000/hook", "target_url")


def test_hosted_mode_requires_https() -> None:
    with pytest.raises(LinqError):
        OutboundPolicy(hosted=True).check_url("http://example.com/hook", "target_url")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/h",
        "https://10.1.2.3/h",
        "https://192.168.0.10/h",
        "https://169.254.169.254/h",
        "https://[::1]/h",
        "https://localhost/h",
    ],
)
@async_test
async def test_hosted_mode_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(PermissionError):
        await OutboundPolicy(hosted=True).resolve(url)


@async_test
async def test_hosted_mode_pins_the_checked_public_address() -> None:
    target = await OutboundPolicy(hosted=True).resolve("https://1.1.1.1:8443/hook?a=1")
    assert target.address == "1.1.1.1"
    url, headers, extensions = pinned_request(
        ResolvedTarget("https://hooks.example:8443/p?a=1", "hooks.example", "1.1.1.1")
    )
    assert url == "https://1.1.1.1:8443/p?a=1"
    assert headers == {"host": "hooks.example:8443"}
    assert extensions == {"sni_hostname": "hooks.example"}
    v6 = ResolvedTarget("https://hooks.example/p", "hooks.example", "2606:4700::1111")
    assert pinned_request(v6)[0] == "https://[2606:4700::1111]/p"


@async_test
async def test_local_mode_does_not_resolve() -> None:
    target = await OutboundPolicy(hosted=False).resolve("http://127.0.0.1:9/h")
    assert target.address is None


# -- strict URL parsing (one parser for webhook targets and media URLs) -------------------


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://hooks.example.com/linq?x=1", "hooks.example.com", 443),
        ("http://127.0.0.1:9000/h", "127.0.0.1", 9000),
        ("http://[::1]:8080/h", "::1", 8080),
        ("https://bücher.example/h", "xn--bcher-kva.example", 443),
        ("http://receiver_1:8000/h", "receiver_1", 8000),
        ("https://HOOKS.Example.com./h", "hooks.example.com", 443),
    ],
)
def test_valid_urls_parse_to_an_ascii_host_and_port(url: str, host: str, port: int) -> None:
    parsed = parse_url(url, "target_url")
    assert (parsed.url, parsed.host, parsed.port) == (url, host, port)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/x",
        "http://127.0.0.1:99999/x.png",
        "http://127.0.0.1:0/x",
        "http://host:port/x",
        "https://hooks.example.com/a\x00b",
        "https://hooks.example.com/a\r\nX-Injected: 1",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/a\u2028b",
        "https://hooks.example.com/a\u200bb",
        "https://xn--zz.example/h",
        "https://-bad.example/h",
        "https://a..b/h",
        "https://☃.net/h",
        "https://999.0.0.1/h",
        "http://[fe80::1%25eth0]/h",
        "https:///h",
        "https://:443/h",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "https://user:pw@hooks.example.com/h",
        "https://" + "a" * 2040 + ".com/",
        "",
    ],
)
def test_unparseable_or_hostile_urls_are_refused_with_the_given_code(url: str) -> None:
    with pytest.raises(LinqError) as caught:
        parse_url(url, "parts[0].url", ErrorCode.INVALID_MESSAGE_CONTENT)
    assert caught.value.code is ErrorCode.INVALID_MESSAGE_CONTENT
    assert caught.value.message.startswith("parts[0].url ")


@async_test
async def test_delivery_refuses_a_stored_url_that_no_longer_parses() -> None:
    """Rows stored before parsing was strict fail as refused, not as a crashing job."""
    with pytest.raises(PermissionError):
        await OutboundPolicy(hosted=False).resolve("http://127.0.0.1:99999/h")


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/h", "https://[::1]/h", "https://localhost/h", "https://10.0.0.1/h"]
)
@async_test
async def test_hosted_mode_refuses_private_targets_when_they_are_set(url: str) -> None:
    with pytest.raises(LinqError) as caught:
        await OutboundPolicy(hosted=True).check_target(url, "target_url")
    assert caught.value.code is ErrorCode.INVALID_PARAMETER
    assert await OutboundPolicy(hosted=False).check_target(url, "target_url") == url


@async_test
async def test_hosted_mode_accepts_public_targets_and_unresolvable_names() -> None:
    policy = OutboundPolicy(hosted=True)
    assert await policy.check_target("https://1.1.1.1/h", "target_url") == "https://1.1.1.1/h"
    # DNS may be down for a moment: delivery checks again, so this is not refused now.
    assert await policy.check_target("https://hooks.invalid/h", "target_url")
