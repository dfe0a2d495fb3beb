"""How much memory does the server use to take a 100 MB attachment upload?

Starts openlinq as a real process on a fresh SQLite data dir, creates a 100 MB
attachment, streams the bytes to its upload link from a generator (the client
never holds them either), and reads the server's resident memory from /proc
before, at its peak (VmHWM) and after. Run: .venv/bin/python bench/upload_memory.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

KEY = "olq_bench_upload_key"
CHUNK = 1024 * 1024


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def pdf_bytes(size: int) -> Iterator[bytes]:
    """A stream that sniffs as a PDF: the header, then random-looking filler."""
    yield b"%PDF-1.7\n"
    sent = 9
    block = os.urandom(CHUNK)
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=100)
    args = parser.parse_args()
    size = args.megabytes * 1024 * 1024
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "OPENLINQ_DATA_DIR": data_dir,
            "OPENLINQ_PORT": str(port),
            "OPENLINQ_DEV_API_KEY": KEY,
            "OPENLINQ_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "openlinq", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            api = httpx.Client(
                base_url=f"{base}/v3", headers={"Authorization": f"Bearer {KEY}"}, timeout=300
            )
            created = api.post(
                "/attachments",
                json={"filename": "big.pdf", "content_type": "application/pdf", "size_bytes": size},
            ).json()
            before = memory_kib(server.pid, "VmRSS")
            started = time.perf_counter()
            upload = httpx.put(
                created["upload_url"],
                content=pdf_bytes(size),
                headers=created["required_headers"],
                timeout=300,
            )
            seconds = time.perf_counter() - started
            peak = memory_kib(server.pid, "VmHWM")
            after = memory_kib(server.pid, "VmRSS")
            status = api.get(f"/attachments/{created['attachment_id']}").json()["status"]
            stored = sum(
                p.stat().st_size for p in Path(data_dir, "attachments").rglob("*") if p.is_file()
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {
        "upload_status": upload.status_code,
        "attachment_status": status,
        "bytes": size,
        "bytes_stored": stored,
        "seconds": round(seconds, 2),
        "megabytes_per_second": round(size / 1024 / 1024 / seconds, 1),
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "peak_growth_mib": round((peak - before) / 1024, 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    if upload.status_code != 200 or status != "complete" or stored != size:
        raise SystemExit("the upload did not complete")


if __name__ == "__main__":
    main()
