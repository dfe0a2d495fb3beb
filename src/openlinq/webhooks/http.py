"""The HTTP/1.1 client webhook deliveries go out on: one POST, keep-alive pools per endpoint.

httpx (and httpcore under it) costs about a millisecond of CPU per request on a small
machine, as much as everything else one delivery does together; this client does the
one thing deliveries need (POST a body we built, read the status, a few headers and
the first bytes of the answer) for a few tens of microseconds. It speaks plain
HTTP/1.1 over asyncio streams, TLS with the hostname the policy pinned (SNI and
certificate checks against the name, the connection to the checked address), and
reads Content-Length, chunked and close-delimited answers. It never follows
redirects. The caller bounds the whole exchange with a timeout; a connection whose
exchange did not finish cleanly is closed, never reused.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

USER_AGENT = "openlinq-webhooks/1"
# An answer's head must fit in this; a longer one is a protocol error.
MAX_HEAD_BYTES = 64 * 1024
# Read at most this much of an answer's body to keep its connection; a longer body
# is cut at the snippet and its connection closed.
MAX_DRAIN_BYTES = 64 * 1024
IDLE_PER_ENDPOINT = 16


# Failures are named as httpx named them, so delivery logs read as they always did.
class ConnectError(ConnectionError):
    """No connection to the endpoint (refused, unreachable, TLS handshake failed)."""


class ReadError(ConnectionError):
    """The connection broke while the answer was awaited or read."""


class RemoteProtocolError(ConnectionError):
    """The endpoint's answer is not HTTP/1.1 we can read."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    snippet: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class _Target:
    secure: bool
    host: str  # where to connect: a name, or the pinned address without brackets
    port: int
    host_header: str
    request_target: bytes
    authorization: str | None  # Basic, from credentials in the URL (as httpx sends them)


@lru_cache(maxsize=4096)
def _target(url: str) -> _Target:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteProtocolError(f"cannot POST to {url!r}")
    port = parts.port or (443 if secure else 80)
    # The request line carries the path exactly as httpx would put it on the wire.
    parsed = httpx.URL(url)
    authorization = None
    if parsed.userinfo:
        authorization = "Basic " + base64.b64encode(unquote_to_bytes(parsed.userinfo)).decode()
    host = parts.netloc.rpartition("@")[2]
    return _Target(secure, parts.hostname, port, host, parsed.raw_path or b"/", authorization)


_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class WebhookClient:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, int, bool, str | None], list[_Stream]] = defaultdict(list)
        self._ssl: ssl.SSLContext | None = None

    def request_headers(
        self, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[_Target, dict[str, str]]:
        """The headers as they go on the wire (ours first, then the framing)."""
        target = _target(url)
        sent = {"host": target.host_header, "user-agent": USER_AGENT, **headers}
        if target.authorization:
            sent["authorization"] = target.authorization
        sent["content-length"] = str(len(body))
        return target, sent

    async def post(
        self,
        target: _Target,
        headers: dict[str, str],
        body: bytes,
        *,
        sni_hostname: str | None,
        snippet_bytes: int,
    ) -> Answer:
        head = b"POST %s HTTP/1.1\r\n" % target.request_target
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        request = head + b"\r\n" + body
        key = (target.host, target.port, target.secure, sni_hostname)
        reused = self._take(key)
        if reused is not None:
            try:
                return await self._exchange(key, reused, request, snippet_bytes)
            except _NothingReadError:
                pass  # the endpoint closed the idle connection: once more on a new one
        stream = await self._connect(target, sni_hostname)
        try:
            return await self._exchange(key, stream, request, snippet_bytes)
        except _NothingReadError as exc:
            raise RemoteProtocolError(
                "the endpoint closed the connection without answering"
            ) from exc

    async def aclose(self) -> None:
        idle, self._idle = self._idle, defaultdict(list)
        for streams in idle.values():
            for _, writer in streams:
                writer.close()

    def _take(self, key: tuple[str, int, bool, str | None]) -> _Stream | None:
        streams = self._idle.get(key)
        while streams:
            reader, writer = streams.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    def _give_back(self, key: tuple[str, int, bool, str | None], stream: _Stream) -> None:
        streams = self._idle[key]
        if len(streams) < IDLE_PER_ENDPOINT:
            streams.append(stream)
        else:
            stream[1].close()

    async def _connect(self, target: _Target, sni_hostname: str | None) -> _Stream:
        try:
            return await self._open(target, sni_hostname)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from exc

    async def _open(self, target: _Target, sni_hostname: str | None) -> _Stream:
        if not target.secure:
            return await asyncio.open_connection(target.host, target.port, limit=MAX_HEAD_BYTES)
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()  # the CA bundle httpx would use
        return await asyncio.open_connection(
            target.host,
            target.port,
            ssl=self._ssl,
            server_hostname=sni_hostname or target.host,
            limit=MAX_HEAD_BYTES,
        )

    async def _exchange(
        self,
        key: tuple[str, int, bool, str | None],
        stream: _Stream,
        request: bytes,
        snippet_bytes: int,
    ) -> Answer:
        reader, writer = stream
        keep = False
        try:
            try:
                writer.write(request)
                status, version, headers = await _read_head(reader)
                snippet, complete = await _read_body(reader, status, headers, snippet_bytes)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                raise RemoteProtocolError("the answer ended early or is too long") from exc
            except (RemoteProtocolError, _NothingReadError):
                raise
            except OSError as exc:
                raise ReadError(str(exc) or type(exc).__name__) from exc
            keep = complete and _keeps_alive(version, headers)
            return Answer(status, headers, snippet)
        finally:
            if keep:
                self._give_back(key, stream)
            else:
                writer.close()


class _NothingReadError(ConnectionError):
    """The connection ended before a byte of the answer came: safe to send again."""


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, bytes, dict[str, str]]:
    first = True
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if first and not exc.partial:
                raise _NothingReadError from exc
            raise RemoteProtocolError("the answer ended inside its head") from exc
        except asyncio.LimitOverrunError as exc:
            raise RemoteProtocolError("the answer's head is too long") from exc
        first = False
        lines = raw[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise RemoteProtocolError(f"not an HTTP/1.1 answer: {lines[0][:60]!r}")
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer (100 Continue): the real one follows
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise RemoteProtocolError("a header line without a colon")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        return status, version, headers


async def _read_body(
    reader: asyncio.StreamReader, status: int, headers: dict[str, str], snippet_bytes: int
) -> tuple[bytes, bool]:
    """The first ``snippet_bytes`` of the body, and whether all of it was read."""
    if status in (204, 304):
        return b"", True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, snippet_bytes)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise RemoteProtocolError(f"a bad Content-Length: {length[:40]!r}")
        size = int(length)
        if size > MAX_DRAIN_BYTES:
            return await reader.readexactly(min(size, snippet_bytes)), False
        return (await reader.readexactly(size))[:snippet_bytes], True
    # Close-delimited: the end of the connection ends the body.
    return (await reader.read(snippet_bytes)), False


async def _read_chunked(reader: asyncio.StreamReader, snippet_bytes: int) -> tuple[bytes, bool]:
    collected = b""
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise RemoteProtocolError(f"a bad chunk size: {size_text[:20]!r}") from exc
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return collected[:snippet_bytes], True
        total += size
        if total > MAX_DRAIN_BYTES:
            if len(collected) < snippet_bytes:
                collected += await reader.read(snippet_bytes - len(collected))
            return collected[:snippet_bytes], False
        chunk = await reader.readexactly(size + 2)
        if len(collected) < snippet_bytes:
            collected += chunk[:-2]


def _keeps_alive(version: bytes, headers: dict[str, str]) -> bool:
    connection = headers.get("connection", "").lower()
    if version == b"HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection
