"""One contract for every blob store: the local data dir and S3 (a real moto server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from openlinq.blobs.local import LocalBlobStore
from openlinq.blobs.s3 import S3BlobStore
from openlinq.blobs.store import BlobNotFoundError, BlobStore, BlobTooLargeError
from tests.support.server import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    bucket = f"openlinq-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return S3BlobStore(bucket, endpoint_url=endpoint, prefix="attachments/")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(store: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(key)])


async def test_what_is_written_reads_back(store: BlobStore) -> None:
    size = await store.write("acct/a1", chunks(b"hello ", b"world"), limit=100)
    assert size == 11
    assert await read_all(store, "acct/a1") == b"hello world"
    assert await store.head("acct/a1", 5) == b"hello"


async def test_large_streams_read_back_whole(store: BlobStore) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    await store.write("acct/big", chunks(*[block] * 3), limit=10 * len(block))
    assert await read_all(store, "acct/big") == block * 3


async def test_too_large_is_refused_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(BlobTooLargeError):
        await store.write("acct/a2", chunks(b"x" * 10, b"y" * 10), limit=15)
    with pytest.raises(BlobNotFoundError):
        await read_all(store, "acct/a2")


async def test_delete_removes_and_is_idempotent(store: BlobStore) -> None:
    await store.write("acct/a3", chunks(b"bytes"), limit=10)
    await store.delete("acct/a3")
    await store.delete("acct/a3")
    with pytest.raises(BlobNotFoundError):
        await read_all(store, "acct/a3")


async def test_missing_keys_are_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFoundError):
        await store.head("acct/none", 1)


async def test_local_keys_cannot_escape_the_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        await LocalBlobStore(tmp_path).write("../outside", chunks(b"x"), limit=10)
