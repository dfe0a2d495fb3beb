"""The Partner API as the MCP tools see it: one call, one answer, a tool result from either."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from mcp.types import CallToolResult, TextContent

from openlinq.domain.errors import ErrorCode


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    body: Any  # the decoded JSON, or None for a body-less success


class PartnerApi:
    """Async calls to ``{base_url}/v3/...`` with a given API key (one connection pool)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        # Not from the environment's proxy settings: openlinq is usually on loopback.
        self.http = httpx.AsyncClient(timeout=30, trust_env=False)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        key: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        url = f"{self.base_url}/v3{path}"
        query = {name: value for name, value in (params or {}).items() if value is not None}
        try:
            response = await self.http.request(
                method,
                url,
                json=json,
                params=query or None,
                headers={"Authorization": f"Bearer {key}"},
            )
        except httpx.TransportError as error:
            body = unreachable(self.base_url, error)
            return Answer(method, path, body["error"]["status"], body)
        return Answer(method, path, response.status_code, _decoded(response))


def _decoded(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"raw": response.text[:500]}


def error_body(code: ErrorCode, message: str) -> dict[str, Any]:
    """A Linq error body made here (not by openlinq), with a trace id of its own."""
    error = {
        "status": code.http_status,
        "code": code.code,
        "message": message,
        "doc_url": code.doc_url,
    }
    return {"success": False, "error": error, "trace_id": str(uuid.uuid4())}


def unreachable(base_url: str, error: Exception) -> dict[str, Any]:
    """openlinq does not answer: 3001, server connection error."""
    reason = str(error) or type(error).__name__
    message = f"cannot reach openlinq at {base_url} ({reason})"
    return error_body(ErrorCode.SERVER_CONNECTION_ERROR, message)


def linq_error(body: Any) -> dict[str, Any] | None:
    """The ``error`` object of a Linq error body, if ``body`` is one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error: dict[str, Any] = body["error"]
        return error
    return None


def result(answer: Answer) -> CallToolResult:
    """A success's JSON for the model (text) and for programs (structured content); a failure
    as a tool error whose structured content is the Linq error body, code included."""
    ok = 200 <= answer.status < 300
    if ok:
        if answer.body is None:
            text = f"{answer.method} {answer.path}: done ({answer.status})"
            return CallToolResult(content=[TextContent(type="text", text=text)])
        structured = answer.body if isinstance(answer.body, dict) else {"result": answer.body}
        return CallToolResult(
            content=[TextContent(type="text", text=_json(answer.body))],
            structured_content=structured,
        )
    error = linq_error(answer.body)
    if error is not None:
        status = error.get("status") or answer.status
        summary = f"{error.get('message')} ({status}, code {error.get('code')})"
        body = answer.body
    else:  # not a Linq body (a proxy in between, say): still an error the model can read
        summary = f"HTTP {answer.status}"
        body = {"success": False, "error": {"status": answer.status, "body": answer.body}}
    text = f"{answer.method} {answer.path} failed: {summary}\n{_json(body)}"
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
