"""Where webhooks may go.

By default any http(s) URL is accepted, localhost and private networks
included: agents are built on laptops. Hosted deployments turn on
``OPENLINQ_WEBHOOK_HOSTED_MODE``: HTTPS only, and every delivery resolves the
host, refuses private, loopback, link-local and other non-public addresses, and
connects to the address it checked (so DNS cannot be re-pointed in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.webhooks.catalogue import version_for

MAX_TARGET_URL = 2048


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    url: str
    host: str
    address: str | None  # the checked IP to connect to, when pinning


def payload_version(target_url: str) -> str:
    values = parse_qs(urlsplit(target_url).query).get("version")
    version = version_for(values[0] if values else None)
    if version is None:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            "target_url ?version= must be a date (YYYY-MM-DD) on or after 2025-01-01",
        )
    return version


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


class TargetPolicy:
    def __init__(self, *, hosted: bool) -> None:
        self.hosted = hosted

    def check_url(self, target_url: str) -> str:
        """Shape checks made when a subscription is created or changed."""
        if len(target_url) > MAX_TARGET_URL:
            raise LinqError(ErrorCode.INVALID_PARAMETER, "target_url is too long")
        parts = urlsplit(target_url)
        schemes = ("https",) if self.hosted else ("http", "https")
        if parts.scheme not in schemes or not parts.hostname:
            wanted = "an https URL" if self.hosted else "an http(s) URL"
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"target_url must be {wanted}")
        if parts.username or parts.password or parts.fragment:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, "target_url cannot carry credentials or a fragment"
            )
        payload_version(target_url)
        return target_url

    async def resolve(self, target_url: str) -> ResolvedTarget:
        """The address to connect to; in hosted mode, refuse anything not public."""
        parts = urlsplit(target_url)
        host = parts.hostname or ""
        if not self.hosted:
            return ResolvedTarget(target_url, host, None)
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
        return ResolvedTarget(target_url, host, addresses[0])
