"""Small real files for tests, and a loopback HTTP server that serves them."""

from __future__ import annotations

import io
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.server import free_port

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n" + b"0" * 64


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A real image of that size in ``fmt`` (PNG, JPEG, GIF, WEBP), made by Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(rate * seconds))
    return buffer.getvalue()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that stop reading (a size cap) are expected here


@contextmanager
def _running(server: _Server) -> Iterator[str]:
    """Run ``server`` on a background thread; yields its base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serving(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over plain HTTP on loopback; yields the base URL."""
    server = _Server(("127.0.0.1", free_port()), partial(_Quiet, directory=str(directory)))
    with _running(server) as base:
        yield base


@contextmanager
def dripping(body: bytes, interval: float, content_type: str = "image/png") -> Iterator[str]:
    """A loopback server that answers every GET with ``body``, one byte per ``interval``.

    Each read gets a byte well within any per-read timeout, so only a total deadline
    stops the download early. Yields the base URL.
    """

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(interval)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up: the point of the test

        def log_message(self, *_: Any) -> None:
            pass

    server = _Server(("127.0.0.1", free_port()), Drip)
    server.daemon_threads = True
    with _running(server) as base:
        yield base
