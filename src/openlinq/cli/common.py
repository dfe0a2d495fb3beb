"""What every ``openlinq`` command shares: errors, output, the API client, durations.

Heavy modules (httpx, rich, the server) are imported inside functions: ``openlinq --help``
and a simple API command must start in well under half a second.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer

DEFAULT_BASE_URL = "http://127.0.0.1:8080/api/partner"

ApiUrl = Annotated[
    str,
    typer.Option(
        envvar="LINQ_API_V3_BASE_URL",
        help="The server's base URL, as the SDKs take it (LINQ_API_V3_BASE_URL).",
        show_default=True,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="LINQ_API_V3_API_KEY", help="API key (LINQ_API_V3_API_KEY).", show_default=False
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class CliError(Exception):
    """A user error: printed as one line, exit status 1 (2 for bad usage)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> NoReturn:
    raise CliError(message, exit_code)


def say(message: str) -> None:
    """One line for a person, on stdout; rich markup is not interpreted."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def emit_json(data: Any) -> None:
    say(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    # Nothing is cut short: an id shown must be an id that can be pasted back. A terminal
    # wraps long cells; a pipe or file gets whole lines.
    grid = Table(title=title)
    for header in headers:
        grid.add_column(header, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    width = None if sys.stdout.isatty() else 1_000
    Console(soft_wrap=False, width=width).print(grid)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


def seconds(text: str) -> float:
    """``30s``, ``2m``, ``1.5h``, ``500ms`` or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration (try 30s, 2m, 1h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


class Api:
    """The server seen through its HTTP API: the Partner API and the simulator's /sim/v1.

    The base URL is the one the SDKs take (``…/api/partner``); /sim/v1 lives at the root.
    Plain urllib, not httpx: importing httpx alone costs a simple command 0.2 s.
    """

    def __init__(self, base_url: str, api_key: str | None) -> None:
        if not api_key:
            fail("no API key: pass --api-key or set LINQ_API_V3_API_KEY", 2)
        import urllib.request

        base = base_url.rstrip("/")
        self.base_url = base
        self.root = base.removesuffix("/api/partner")
        self.api_key = api_key
        # Loopback servers: never through a proxy from the environment.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def close(self) -> None:
        self.opener.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def partner(self, method: str, path: str, **options: Any) -> Any:
        return self.call(method, f"{self.base_url}/v3{path}", **options)

    def sim(self, method: str, path: str, **options: Any) -> Any:
        return self.call(method, f"{self.root}/sim/v1{path}", **options)

    def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """One request; a failure becomes one line (see ``describe_failure``)."""
        import json as jsonlib
        import urllib.error
        import urllib.parse
        import urllib.request

        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self.api_key}"
        if json is not None:
            content = jsonlib.dumps(json).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=content, headers=sent, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            fail(describe_failure(method, url, error.code, error.reason, error.read()))
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            fail(
                f"cannot reach openlinq at {self.base_url} ({reason}); is `openlinq serve` "
                "running? (--api-url or LINQ_API_V3_BASE_URL)"
            )
        return jsonlib.loads(body) if body else None


def describe_failure(method: str, url: str, status: int, reason: str, body: bytes) -> str:
    """A failed API call in one line, from the Linq error body when there is one."""
    from urllib.parse import urlsplit

    path = urlsplit(url).path
    try:
        error = json.loads(body)["error"]
        text = f"{error['message']} ({status}, code {error['code']})"
        linq_body = True
    except (ValueError, KeyError, TypeError):
        text = f"{status} {reason}: {body[:200].decode(errors='replace')}"
        linq_body = False
    if status == 401:
        text += "; check --api-key / LINQ_API_V3_API_KEY"
    elif status == 404 and "/sim/v1/" in path and not linq_body:
        text += "; is the simulator open on this server? (not in hosted mode)"
    return f"{method} {path}: {text}"


def user_error(error: BaseException) -> str | None:
    """The message of a failure the user can fix (a refused value, an unknown account, a
    carrier key that does not fit): printed as it is, with no class name or traceback hint."""
    from openlinq.delivery.sealing import SealError
    from openlinq.domain.errors import LinqError

    if isinstance(error, LinqError):
        return error.message
    if isinstance(error, SealError | LookupError) and str(error):
        return str(error)
    return None
