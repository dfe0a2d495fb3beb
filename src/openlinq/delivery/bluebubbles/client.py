"""The BlueBubbles server's REST API (``/api/v1/...``), as far as the carrier uses it.

Every call authenticates with the ``password`` query parameter. Answers are
``{"status", "message", "data"}``; a failure is sorted into "the Mac cannot be reached"
(``BlueBubblesUnreachableError``: worth retrying) and "the Mac refused"
(``BlueBubblesRefusedError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from openlinq.delivery.bluebubbles.settings import BlueBubblesSettings

if TYPE_CHECKING:
    import httpx


class BlueBubblesUnreachableError(Exception):
    """No answer, or a server-side failure: the Mac or its server is down; try again later."""


class BlueBubblesRefusedError(Exception):
    """The server answered with an error about this request (``status``, its ``message``)."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        super().__init__(f"BlueBubbles answered {status}: {message}")
        self.status = status
        self.message = message
        self.data = data

    @property
    def needs_private_api(self) -> bool:
        # The server's PrivateApiMiddleware answers this (as a 500 "iMessage error").
        return "private api" in self.message.lower()


def chat_path(guid: str) -> str:
    """A chat or message GUID in a path (``iMessage;-;+1415...`` has ``;`` and ``+``)."""
    return quote(guid, safe="")


class BlueBubblesClient:
    def __init__(
        self, settings: BlueBubblesSettings, http: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self._http = http
        self._owned = http is None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx  # only a line on BlueBubbles needs it: not a server at rest

            self._http = httpx.AsyncClient(
                timeout=self.settings.timeout,
                follow_redirects=False,
                headers={"user-agent": "openlinq-bluebubbles/1"},
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None and self._owned:
            await self._http.aclose()
            self._http = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        files: dict[str, tuple[str, IO[bytes], str]] | None = None,
        data: dict[str, str] | None = None,
    ) -> Any:
        """The ``data`` of the answer to ``METHOD /api/v1/{path}``."""
        import httpx

        query = {**(params or {}), "password": self.settings.password}
        url = f"{self.settings.base_url}/api/v1/{path}"
        try:
            response = await self.http.request(
                method, url, params=query, json=json, files=files, data=data
            )
        except httpx.HTTPError as exc:
            # The exception text names the URL, and the URL carries the password: never it.
            raise BlueBubblesUnreachableError(type(exc).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = str(body.get("message") or body.get("error") or response.reason_phrase)
        error = body.get("error")
        detail = (
            str(error.get("message") or error.get("error") or "") if isinstance(error, dict) else ""
        )
        if detail and detail not in message:
            # The server often repeats its message as the error's: say it once.
            message = f"{message}: {detail}"
        if response.status_code >= 400:
            refused = BlueBubblesRefusedError(response.status_code, message, body.get("data"))
            # A 5xx with no data is the server failing, not an answer about this request.
            if response.status_code >= 500 and not refused.needs_private_api and not refused.data:
                raise BlueBubblesUnreachableError(f"server error {response.status_code}")
            raise refused
        return body.get("data")

    @asynccontextmanager
    async def download(self, path: str) -> AsyncIterator[tuple[str | None, AsyncIterator[bytes]]]:
        """A file's content type and bytes (``GET /api/v1/{path}``: an attachment's
        ``attachment/:guid/download``, a group's ``chat/:guid/icon``), streamed: a video is
        never whole in memory."""
        import httpx

        url = f"{self.settings.base_url}/api/v1/{path}"
        try:
            async with self.http.stream(
                "GET", url, params={"password": self.settings.password}
            ) as response:
                if response.status_code >= 400:
                    raise BlueBubblesRefusedError(
                        response.status_code, f"{path} could not be downloaded"
                    )
                yield response.headers.get("content-type"), response.aiter_bytes()
        except httpx.HTTPError as exc:
            raise BlueBubblesUnreachableError(type(exc).__name__) from None

    async def ping(self) -> str | None:
        """None when the server answers ``pong``; else what is wrong, for the log."""
        try:
            if await self.call("GET", "ping") == "pong":
                return None
            return "answers its ping with something other than pong"
        except BlueBubblesUnreachableError:
            return "does not answer"
        except BlueBubblesRefusedError as refused:
            if refused.status == 401:
                return "refused the password"
            return f"refused its ping ({refused.status}: {refused.message})"

    async def private_api(self) -> bool:
        """Whether the Private API is on and its helper connected (effects, replies,
        tapbacks, edits, typing, read receipts and groups need it)."""
        info = await self.call("GET", "server/info")
        if not isinstance(info, dict):
            return False
        return bool(info.get("private_api")) and bool(info.get("helper_connected"))

    async def imessage_available(self, address: str) -> bool:
        data = await self.call("GET", "handle/availability/imessage", params={"address": address})
        return bool(isinstance(data, dict) and data.get("available"))
