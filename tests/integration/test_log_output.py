"""The server's log as a log shipper reads it: ``OPENLINQ_LOG_FORMAT=json`` makes every
line of stderr one JSON object, uvicorn's included."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

from tests.support.process import serving
from tests.support.server import free_port


def test_json_log_format_writes_one_object_per_line(tmp_path: Path) -> None:
    port = free_port()
    key = "olq_json_log_test_key_0123456789"
    env = {
        **os.environ,
        "OPENLINQ_PORT": str(port),
        "OPENLINQ_DATA_DIR": str(tmp_path / "data"),
        "OPENLINQ_DEV_API_KEY": key,
        "OPENLINQ_LOG_FORMAT": "json",
    }
    with serving(
        [sys.executable, "-m", "openlinq", "serve"], port=port, env=env, cwd=tmp_path
    ) as served:
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/partner/v3/phone_numbers",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200
    stderr = served.stderr

    entries = [json.loads(line) for line in stderr.splitlines()]
    assert {"uvicorn.error", "openlinq.access"} <= {e["logger"] for e in entries}
    (access,) = [e for e in entries if e["logger"] == "openlinq.access" and e["path"] != "/health"]
    assert access["method"] == "GET"
    assert access["path"] == "/api/partner/v3/phone_numbers"
    assert access["status"] == 200
    assert access["trace_id"] == answer.headers["x-trace-id"]
    assert access["level"] == "INFO"
    assert set(access) >= {"time", "message", "ms"}
    assert key not in stderr
