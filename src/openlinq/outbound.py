"""Where the server may send requests of its own: webhooks, and media fetched by URL.

By default any http(s) URL is accepted, localhost and private networks
included: agents are built on laptops. Hosted deployments turn on
``OPENLINQ_HOSTED_MODE``: HTTPS only, and every request resolves the host,
refuses private, loopback, link-local and other non-public addresses, and
connects to the address it checked (so DNS cannot be re-pointed in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from openlinq.domain.errors import ErrorCode, LinqError

MAX_URL_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    url: str
    host: str
    address: str | None  # the checked IP to connect to, when pinning


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


class OutboundPolicy:
    def __init__(self, *, hosted: bool) -> None:
        self.hosted = hosted

    def check_url(self, url: str, field: str, code: ErrorCode = ErrorCode.INVALID_PARAMETER) -> str:
        """Shape checks made before the server stores or fetches a URL."""
        if len(url) > MAX_URL_LENGTH:
            raise LinqError(code, f"{field} is longer than {MAX_URL_LENGTH} characters")
        parts = urlsplit(url)
        schemes = ("https",) if self.hosted else ("http", "https")
        if parts.scheme not in schemes or not parts.hostname:
            wanted = "an absolute https URL" if self.hosted else "an absolute http(s) URL"
            raise LinqError(code, f"{field} must be {wanted}")
        if parts.username or parts.password or parts.fragment:
            raise LinqError(code, f"{field} cannot carry credentials or a fragment")
        return url

    async def resolve(self, url: str) -> ResolvedTarget:
        """The address to connect to; in hosted mode, refuse anything not public."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not self.hosted:
            return ResolvedTarget(url, host, None)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
        addresses = sorted({str(info[4][0]) for info in infos})
        if not addresses or not all(_is_public(a) for a in addresses):
            raise PermissionError(f"{host} resolves to a non-public address")
        return ResolvedTarget(url, host, addresses[0])


def pinned_request(target: ResolvedTarget) -> tuple[str, dict[str, str], dict[str, str]]:
    """URL, extra headers and httpx extensions that connect to the checked address."""
    if target.address is None:
        return target.url, {}, {}
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    netloc = f"{host}:{parts.port}" if parts.port else host
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return url, {"host": parts.netloc}, {"sni_hostname": target.host}
