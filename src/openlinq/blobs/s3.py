"""Blobs in an S3-compatible object store (AWS S3, MinIO, R2 ...), through boto3.

boto3 is synchronous, so each call runs in a worker thread. Uploads are
spooled to a temporary file first (never held in memory) and sent with
boto3's managed multipart transfer.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

from openlinq.blobs.store import CHUNK_SIZE, BlobNotFoundError, BlobStore, BlobTooLargeError


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, *, endpoint_url: str | None, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def write(self, key: str, chunks: AsyncIterator[bytes], limit: int) -> int:
        written = 0
        with tempfile.TemporaryFile() as spool:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise BlobTooLargeError(f"more than {limit} bytes")
                await asyncio.to_thread(spool.write, chunk)
            spool.seek(0)
            await asyncio.to_thread(self.client.upload_fileobj, spool, self.bucket, self._key(key))
        return written

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            response = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=self._key(key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobNotFoundError(key) from exc
            raise
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))
