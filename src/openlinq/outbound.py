"""Where the server may send requests of its own: webhooks, and media fetched by URL.

Every such URL is parsed strictly here, once, before it is stored or fetched
(``parse_url``): a URL this module accepts is one the HTTP client can request.
By default any http(s) URL is accepted, localhost and private networks
included: agents are built on laptops. Hosted deployments turn on
``OPENLINQ_HOSTED_MODE``: HTTPS only, a webhook target that resolves to a
private, loopback, link-local or other non-public address is refused when it is
set, and every request resolves the host again, refuses non-public addresses and
connects to the address it checked (so DNS cannot be re-pointed in between).
Every fetch also runs under a total deadline (``Deadline``), not only per read,
so a peer that drips bytes cannot hold a request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna

from openlinq.domain.errors import ErrorCode, LinqError

MAX_URL_LENGTH = 2048
# How long a create or update may wait for DNS when it checks a hosted-mode target.
RESOLVE_TIMEOUT_SECONDS = 5.0
# A DNS label as hosts really use them: underscores too (container and service names).
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# Control, format, separator and surrogate characters are never part of a URL we send to.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    url: str  # as given: this is what is stored and echoed
    scheme: str
    host: str  # ASCII: IDNA-encoded name, or the IP address without brackets
    port: int


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    url: str
    host: str
    address: str | None  # the checked IP to connect to, when pinning


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def _ascii_host(host: str) -> str | None:
    """The host as it goes on the wire, or None when it is no valid host name or address."""
    if ":" in host:  # urlsplit only gives a colon for a bracketed IPv6 literal
        if "%" in host:  # a zone id names an interface of this machine: never a target
            return None
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        try:  # all-numeric: only a dotted IPv4 address, not "127.1" or "999.0.0.1"
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            return None
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
        labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                return None
    return name


def parse_url(raw: str, field: str, code: ErrorCode = ErrorCode.INVALID_PARAMETER) -> ParsedUrl:
    """Parse an absolute http(s) URL strictly, or refuse it with ``code`` (nothing is stored)."""

    def refuse(reason: str) -> LinqError:
        return LinqError(code, f"{field} {reason}")

    if not isinstance(raw, str) or not raw:
        raise refuse("must be an absolute http(s) URL")
    if len(raw) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    if any(
        ch <= " " or ch == "\x7f" or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in raw
    ):
        raise refuse("cannot contain spaces, line breaks or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:  # a broken IPv6 literal, a port out of range or not a number
        raise refuse(f"is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise refuse("must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise refuse("cannot carry credentials")
    host = _ascii_host(parts.hostname or "")
    if host is None:
        raise refuse("does not name a valid host")
    if port == 0:
        raise refuse("has an invalid port")
    import httpx  # loaded by the first URL to check, not by a server at rest

    try:
        httpx.URL(raw)  # the client that fetches it must agree
    except (httpx.InvalidURL, ValueError) as exc:
        raise refuse(f"is not a valid URL ({exc})") from exc
    return ParsedUrl(raw, scheme, host, port or (443 if scheme == "https" else 80))


class OutboundPolicy:
    def __init__(self, *, hosted: bool) -> None:
        self.hosted = hosted

    def check_url(
        self, url: str, field: str, code: ErrorCode = ErrorCode.INVALID_PARAMETER
    ) -> ParsedUrl:
        """Parse checks made before the server stores or fetches a URL (https only when hosted)."""
        parsed = parse_url(url, field, code)
        if self.hosted and parsed.scheme != "https":
            raise LinqError(code, f"{field} must be an absolute https URL")
        if urlsplit(url).fragment:
            raise LinqError(code, f"{field} cannot carry a fragment")
        return parsed

    async def check_target(
        self, url: str, field: str, code: ErrorCode = ErrorCode.INVALID_PARAMETER
    ) -> str:
        """``check_url``, and in hosted mode refuse a host that resolves to a non-public address.

        Delivery checks again (DNS can change); a name that does not resolve now is
        accepted, since that may be temporary and delivery refuses it anyway.
        """
        self.check_url(url, field, code)
        if self.hosted:
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                    await self.resolve(url)
            except PermissionError as exc:
                raise LinqError(code, f"{field} must point at a public address") from exc
            except (ConnectionError, TimeoutError):
                pass
        return url

    async def resolve(self, url: str) -> ResolvedTarget:
        """The address to connect to; in hosted mode, refuse anything not public.

        A URL that no longer parses (stored before the rules were strict) is refused too.
        """
        try:
            parsed = self.check_url(url, "url")
        except LinqError as exc:
            raise PermissionError(exc.message) from exc
        if not self.hosted:
            return ResolvedTarget(url, parsed.host, None)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parsed.host, parsed.port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise ConnectionError(f"cannot resolve {parsed.host}: {exc}") from exc
        addresses = sorted({str(info[4][0]) for info in infos})
        if not addresses or not all(_is_public(a) for a in addresses):
            raise PermissionError(f"{parsed.host} resolves to a non-public address")
        return ResolvedTarget(url, parsed.host, addresses[0])


class Deadline:
    """A total deadline for one outbound exchange: connect, headers and the whole body.

    httpx's timeouts apply to each read, so a peer that sends a byte at a time could
    otherwise hold a request for as long as it likes. Both raise ``TimeoutError``.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = asyncio.get_running_loop().time() + seconds

    def __call__(self) -> asyncio.Timeout:
        return asyncio.timeout_at(self.at)

    async def chunks(self, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``source``, each chunk awaited only until the deadline."""
        iterator = aiter(source)
        while True:
            async with self():
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    return
            yield chunk


def pinned_request(target: ResolvedTarget) -> tuple[str, dict[str, str], dict[str, str]]:
    """URL, extra headers and httpx extensions that connect to the checked address."""
    if target.address is None:
        return target.url, {}, {}
    parts = urlsplit(target.url)
    port = f":{parts.port}" if parts.port else ""
    address = f"[{target.address}]" if ":" in target.address else target.address
    url = urlunsplit((parts.scheme, address + port, parts.path, parts.query, ""))
    # The Host header names the host in ASCII (IDNA), as the request would have.
    host = f"[{target.host}]" if ":" in target.host else target.host
    return url, {"host": host + port}, {"sni_hostname": target.host}
