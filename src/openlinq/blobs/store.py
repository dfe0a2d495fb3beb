"""The blob store interface.

Bytes always move as streams of chunks, so an upload or download of any size
costs a bounded amount of memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

CHUNK_SIZE = 256 * 1024


class BlobTooLargeError(Exception):
    """More bytes arrived than the caller allowed."""


class BlobNotFoundError(Exception):
    pass


class BlobStore(ABC):
    async def prepare(self) -> None:  # noqa: B027 (most stores need nothing)
        """Get ready to store (called once at start)."""

    @abstractmethod
    async def write(self, key: str, chunks: AsyncIterator[bytes], limit: int) -> int:
        """Store the stream under ``key``; raise ``BlobTooLargeError`` past ``limit`` bytes
        (leaving nothing behind). Returns the number of bytes stored."""

    @abstractmethod
    def read(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes, in chunks; ``BlobNotFoundError`` if there are none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key`` (no error if it is already gone)."""

    async def head(self, key: str, size: int) -> bytes:
        """The first ``size`` bytes (for content sniffing)."""
        collected = b""
        async for chunk in self.read(key):
            collected += chunk
            if len(collected) >= size:
                break
        return collected[:size]
