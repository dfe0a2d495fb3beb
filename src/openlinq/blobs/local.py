"""Blobs as files under the data directory (the default)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from openlinq.blobs.store import CHUNK_SIZE, BlobNotFoundError, BlobStore, BlobTooLargeError
from openlinq.filemodes import PRIVATE_DIR, make_private_dir, open_private


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"blob key {key!r} escapes the store")
        return path

    async def prepare(self) -> None:
        # The root is openlinq's own: closing it also covers files kept before
        # attachments were written 0600.
        await asyncio.to_thread(make_private_dir, self.root)
        await asyncio.to_thread(os.chmod, self.root, PRIVATE_DIR)

    async def write(self, key: str, chunks: AsyncIterator[bytes], limit: int) -> int:
        path = self._path(key)
        await asyncio.to_thread(make_private_dir, path.parent)
        partial = path.with_name(path.name + ".partial")
        written = 0
        handle = await asyncio.to_thread(open_private, partial)
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise BlobTooLargeError(f"more than {limit} bytes")
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            handle.close()
            await asyncio.to_thread(partial.unlink, missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(os.replace, partial, path)
        return written

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
