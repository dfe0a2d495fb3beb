"""Hostile requests and the invariant every answer must keep.

``Probe.send`` sends one request over real HTTP and checks the promise of
issue #10: the answer is a 2xx, or a Linq-shaped 4xx (``success: false``,
integer ``error.code``, ``error.status`` equal to the HTTP status, a
``trace_id``) — never a 5xx, a redirect or a framework-default body — and a
rejected request leaves every table's row count (the events outbox and the jobs
queue included) exactly as it was. Failures are collected, not raised at once,
so one run reports every distinct way an endpoint breaks; the Hypothesis
strategies below generate the hostile values.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st
from sqlalchemy import func, select

from openlinq.store.engine import Database
from openlinq.store.tables import metadata
from tests.support.server import RunningServer

# Every request the adversarial suite sends in this process (the session summary prints it).
SENT: dict[str, int] = {"requests": 0}

SHOW = 300  # characters of a body shown in a failure message


def _short(text: str) -> str:
    return text if len(text) <= SHOW else f"{text[:SHOW]}… ({len(text)} chars)"


async def table_counts(db: Database) -> dict[str, int]:
    """Row counts of every table, read in one statement through the server's own engine."""
    tables = metadata.sorted_tables
    query = select(
        *(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
    )
    async with db.read() as conn:
        row = (await conn.execute(query)).one()
    return {t.name: int(n) for t, n in zip(tables, row, strict=True)}


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any  # the parsed JSON answer, or None
    text: str


@dataclass
class Probe:
    """One account's client plus the invariant check; collects distinct failures."""

    server: RunningServer
    http: httpx.Client
    failures: dict[tuple[str, ...], str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return self.server.call(table_counts, self.server.services.db)

    def send(
        self,
        method: str,
        path: str,
        *,
        route: str | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        item: str = "",
    ) -> Outcome:
        """Send one request and check the invariant; ``route`` names it in the report."""
        SENT["requests"] += 1
        sent_headers: dict[str, str | bytes] = dict(headers or {})
        if content is None and json_body is not None:
            content = encode_json(json_body)
        if content is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        url = path + ("?" + encode_query(params) if params else "")
        before = self.counts()
        try:
            response = self.http.request(
                method, url, content=content, headers=_wire_headers(sent_headers)
            )
        except httpx.TransportError as error:
            self._fail(method, route or path, url, content, f"no answer: {error!r}", "transport")
            return Outcome(0, None, "")
        problem = self._judge(response)
        if problem is None and response.status_code >= 400:
            after = self.counts()
            if after != before:
                changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
                problem = f"rejected, yet the database changed (before, after): {changed}"
        if problem is not None:
            kind = _kind(response)
            self._fail(method, route or path, url, content, problem, kind, item, response)
        return Outcome(response.status_code, _json(response), response.text)

    def _judge(self, response: httpx.Response) -> str | None:
        status = response.status_code
        body = _json(response)
        if isinstance(body, dict) and "detail" in body:
            return "a framework-default body (a 'detail' key)"
        if 200 <= status < 300:
            return None
        if status >= 500:
            return "a server error"
        if not 400 <= status < 500:
            return f"neither 2xx nor 4xx (HTTP {status})"
        if not isinstance(body, dict):
            return "a 4xx without a JSON object body"
        error = body.get("error")
        if body.get("success") is not False or not isinstance(error, dict):
            return "a 4xx that is not the Linq error body"
        if not isinstance(error.get("code"), int) or isinstance(error.get("code"), bool):
            return "error.code is not an integer"
        if error.get("status") != status:
            return f"error.status {error.get('status')!r} differs from HTTP {status}"
        if not isinstance(body.get("trace_id"), str) or not body["trace_id"]:
            return "no trace_id"
        return None

    def _fail(
        self,
        method: str,
        route: str,
        url: str,
        content: bytes | None,
        problem: str,
        kind: str,
        item: str = "",
        response: httpx.Response | None = None,
    ) -> None:
        key = (method, route, kind, problem.split(":")[0])
        if key in self.failures:
            return
        sent = "" if content is None else _short(content.decode("utf-8", "replace"))
        answer = ""
        if response is not None:
            answer = f"HTTP {response.status_code} {_short(response.text)}"
        label = f" [issue #10 item {item}]" if item else ""
        self.failures[key] = (
            f"{method} {_short(url)}{label}\n    body: {sent}\n    -> {answer}\n    {problem}"
        )

    def report(self, what: str) -> str:
        lines = [f"{len(self.failures)} distinct failure(s) on {what}:"]
        lines += self.failures.values()
        return "\n".join(lines)


def _wire_headers(headers: Mapping[str, str | bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode(), value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in headers.items()
    ]


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _kind(response: httpx.Response) -> str:
    """What kind of wrong answer, for telling distinct failures apart."""
    body = _json(response)
    code = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code"))
    return f"{response.status_code}/{code}"


def encode_json(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity allowed, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()


def encode_component(value: str) -> str:
    """Percent-encode anything, lone surrogates included (as the invalid UTF-8 they make)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in params)


# --- hostile values --------------------------------------------------------------------------

HOSTILE_STRINGS: list[str] = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\ud800y",
    "\u202eevil\u202c",
    "\u200b\u200d\ufeff",
    "\r\n",
    "a\r\nX-Injected: 1",
    "\x1b[31m\x07\x08\x7f",
    "\u0085\u2028\u2029",
    "a" * 70_000,
    "é" * 6_000,
    "👍🏽" * 2_000,
    "%00",
    "%C2%B2",
    "²",
    "٣٤",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR '1'='1' --",
    "${jndi:ldap://127.0.0.1/x}",
    "http://[::1/x",
    "http://127.0.0.1:99999/x.png",
    "http://xn--/x",
    "http://\u0000h/",
    "http://h\r\n/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00",
    "+1" + "9" * 30,
    "+14155550100\x00",
    "\ud800@x.com",
    "NaN",
    "-1",
    "1e309",
    "99999999999999999999999",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "eyJjcmVhdGVkX2F0IjogIjIwMjQtMDEtMDFUMDA6MDA6MDAiLCAiaWQiOiAieCJ9",
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(
        st.characters(categories=["Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Mn", "So", "Nd", "No"]),
        max_size=40,
    ),
    st.text(max_size=20),
)

hostile_numbers = st.one_of(
    st.sampled_from(
        [math.nan, math.inf, -math.inf, 10**30, -(10**30), 2**63, 2**64, -1, 0, 1.5, -0.0, 1e308]
    ),
    st.integers(),
    st.floats(),
)


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for n in range(depth):
        value = [value] if n % 2 else {"a": value}
    return value


wrong_types = st.sampled_from(
    [None, True, False, [], {}, [1, "a"], {"a": 1}, [[[]]], _deep(200, "x"), ["x"] * 500]
)

hostile_values: st.SearchStrategy[Any] = st.one_of(hostile_text, hostile_numbers, wrong_types)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=")


TIMESTAMPS = [
    "2024-01-01T00:00:00",  # no timezone
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+14:00",
    "2024-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "",
]

# Values a client might put in a cursor: digit look-alikes, overflows, forged base64.
hostile_cursors = st.one_of(
    st.sampled_from(["²", "¹²³", "٣", "99999999999999999999999", "-1", "0", "1.5", "%C2%B2"]),
    st.text(st.sampled_from("0123456789²³¹٣۴߁"), min_size=1, max_size=30),
    st.builds(
        lambda at, seq: _b64(f"{at}|{seq}"),
        st.sampled_from(TIMESTAMPS),
        st.sampled_from(["1", "-1", "99999999999999999999999", "²", "x", ""]),
    ),
    hostile_text.map(_b64),
)

hostile_urls = st.sampled_from(
    [
        "http://[::1/x",
        "http://127.0.0.1:99999/x.png",
        "http://127.0.0.1:0/x.png",
        "http://xn--/x",
        "http://xn--zz-zzzzzzzzz.com/",
        "http://a\x00b.com/",
        "http://h\r\nX: y/",
        "http://\ud800.com/",
        "http://" + "a" * 300 + ".com/",
        "http://user:pass@127.0.0.1:9/",
        "https://",
        "http:///x",
        "ftp://127.0.0.1/x",
        "data:image/png;base64,AAAA",
        "//127.0.0.1/x",
        "http://[fe80::1%25eth0]/",
        "http://0x7f000001/",
        "http://example.com:-1/",
        "http://example.com/%ZZ",
    ]
)

hostile_datetimes = st.one_of(st.sampled_from(TIMESTAMPS), hostile_text)

hostile_handles = st.sampled_from(
    [
        "\ud800@x.com",
        "a\x00@x.com",
        "+1" + "9" * 40,
        "+",
        "@",
        "a@",
        "a@b",
        "+1 (415) 555-0100",
        "+14155550100\u200b",
        "x" * 400 + "@x.com",
        "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660",
    ]
)


def hostile_for(key: str | int | None) -> st.SearchStrategy[Any]:
    """Hostile values, with ones aimed at what a field named ``key`` holds mixed in."""
    name = key.lower() if isinstance(key, str) else ""
    aimed: list[st.SearchStrategy[Any]] = []
    if "url" in name or "icon" in name:
        aimed.append(hostile_urls)
    if "cursor" in name:
        aimed.append(hostile_cursors)
    if name in ("since", "at") or name.endswith("_at"):
        aimed.append(hostile_datetimes)
    if name in ("to", "from", "handle", "phone_number", "phone_numbers", "exclude_from"):
        aimed.append(hostile_handles)
        aimed.append(st.lists(hostile_handles, max_size=3))
    if not aimed:
        return hostile_values
    return st.one_of(*aimed, hostile_values)


# Raw bodies no JSON encoder would write.
RAW_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"a"',
    b"1",
    b"NaN",
    b'{"a": NaN}',
    b"\xff\xfe\xfd",
    b'{"a": "\xed\xa0\x80"}',
    b'{"a": 1, "a": 2}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b"\x00" * 64,
]


# --- mutating a valid body ------------------------------------------------------------------

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value, the root included."""
    found: list[Path] = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def replace(value: Any, at: Path, new: Any) -> Any:
    """A copy of ``value`` with the place ``at`` replaced by ``new``."""
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, dict):
        copy = dict(value)
        copy[head] = replace(value[head], rest, new)
        return copy
    items = list(value)
    items[head] = replace(value[head], rest, new)  # type: ignore[index]
    return items


def _at(value: Any, at: Path) -> Any:
    for key in at:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """The template with one to three places replaced by hostile values, or a field added."""
    body = template
    for _ in range(draw(st.integers(1, 3))):
        places = paths(body)
        # Mostly leaves: a wrong type where a value is expected is what slips through.
        leaves = [p for p in places if not isinstance(_at(body, p), dict | list)] or places
        at = draw(st.sampled_from(leaves if draw(st.integers(0, 3)) else places))
        key = next((k for k in reversed(at) if isinstance(k, str)), None)
        body = replace(body, at, draw(hostile_for(key)))
        if not isinstance(body, dict):
            break
    if isinstance(body, dict) and draw(st.booleans()) and draw(st.booleans()):
        body = {**body, draw(hostile_text): draw(hostile_values)}
    return body
