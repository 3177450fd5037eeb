"""The Storage contract, run against LocalStorage and S3Storage, then what is specific to each.

``storage`` is a LocalStorage in a temporary directory and an S3Storage on a fresh bucket of a
real S3-compatible server (moto's, in a thread on loopback, started once per session). The
AWS SDK never sees the developer's own configuration: config and credential files point at
the null device and credentials are passed explicitly.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from docg_core.errors import DocgError
from docg_core.storage import (
    CHUNK_SIZE,
    FileNotFound,
    LocalStorage,
    S3Storage,
    Storage,
    StorageError,
    StoredFile,
    output_key,
    storage_from_env,
    template_key,
)

MiB = 1024 * 1024
S3_PART_SIZE = 5 * MiB  # the smallest part S3 (and moto) accepts
DUMMY_CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}

AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
DO_SPACES_VARIABLES = (
    "DO_SPACES_ACCESS_KEY",
    "DO_SPACES_SECRET_KEY",
    "DO_SPACES_BUCKET",
    "DO_SPACES_ENDPOINT",
    "DO_SPACES_REGION",
)

INVALID_KEYS = [
    "",
    "/etc/passwd",
    "..",
    "docg/../other/x.pdf",
    "docg/..",
    "docg\\org\\x.pdf",
    "docg/x\x00.pdf",
    "docg/x\n.pdf",
    "docg//x.pdf",
    "docg/./x.pdf",
    "docg/",
    "x" * 1025,
]


def _isolate_aws_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep boto3 away from the developer's AWS config, credentials and instance metadata."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        if server._server is not None:  # stop() leaves the listening socket open
            server._server.server_close()


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint: str) -> Iterator[Any]:
    """A plain boto3 client to create buckets and look behind the storage's back."""
    import boto3

    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate_aws_sdk(monkeypatch)
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def s3_bucket(s3_admin: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    _isolate_aws_sdk(monkeypatch)
    bucket = f"docg-test-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=bucket)
    return bucket


def make_s3(moto_endpoint: str, bucket: str, **options: Any) -> S3Storage:
    created = S3Storage(
        bucket, endpoint_url=moto_endpoint, region="us-east-1", **DUMMY_CREDENTIALS, **options
    )
    created.PART_SIZE = S3_PART_SIZE
    return created


@pytest.fixture
async def s3(moto_endpoint: str, s3_bucket: str) -> AsyncIterator[S3Storage]:
    created = make_s3(moto_endpoint, s3_bucket)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", secret="test-secret")


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    created: Storage
    if request.param == "local":
        created = LocalStorage(tmp_path / "files", secret="test-secret")
    else:
        created = make_s3(
            request.getfixturevalue("moto_endpoint"), request.getfixturevalue("s3_bucket")
        )
    try:
        yield created
    finally:
        await created.close()


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


class Boom(Exception):
    pass


async def failing_stream(good_bytes: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < good_bytes:
        yield b"x" * chunk
        sent += chunk
    raise Boom("the source failed midway")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- the contract -------------------------------------------------------------------------


async def test_both_stores_satisfy_the_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)


async def test_put_then_get_round_trips_bytes(storage: Storage) -> None:
    await storage.put("docg/org-1/outputs/a.txt", b"hello, world")
    assert await storage.get("docg/org-1/outputs/a.txt") == b"hello, world"


async def test_put_then_get_round_trips_a_file_object(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    data = os.urandom(CHUNK_SIZE * 2 + 123)
    source.write_bytes(data)
    with source.open("rb") as file:
        stored = await storage.put("docg/org-1/templates/t.docx", file)
    assert stored.size == len(data)
    assert await storage.get("docg/org-1/templates/t.docx") == data


async def test_put_then_get_round_trips_an_async_iterator(storage: Storage) -> None:
    data = os.urandom(300_000)
    await storage.put("docg/org-1/outputs/stream.bin", chunks_of(data, 7_001))
    assert await storage.get("docg/org-1/outputs/stream.bin") == data


async def test_put_of_empty_data_stores_an_empty_file(storage: Storage) -> None:
    stored = await storage.put("docg/empty.txt", b"")
    assert (stored.size, stored.sha256) == (0, sha256(b""))
    assert await storage.get("docg/empty.txt") == b""


async def test_stored_file_reports_key_size_and_sha256(storage: Storage) -> None:
    data = os.urandom(1_500_000)
    stored = await storage.put("docg/org-1/outputs/x.pdf", chunks_of(data, 65_536))
    assert stored == StoredFile("docg/org-1/outputs/x.pdf", len(data), sha256(data), None)


async def test_put_replaces_an_existing_file(storage: Storage) -> None:
    await storage.put("docg/x.txt", b"first version, longer")
    await storage.put("docg/x.txt", b"second")
    assert await storage.get("docg/x.txt") == b"second"


async def test_open_streams_the_same_bytes_in_chunks(storage: Storage) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + CHUNK_SIZE // 2)
    await storage.put("docg/big.bin", data)
    chunks = [chunk async for chunk in storage.open("docg/big.bin")]
    assert len(chunks) >= 3 and all(len(c) <= CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data


async def test_exists_is_true_until_delete(storage: Storage) -> None:
    assert not await storage.exists("docg/x.txt")
    await storage.put("docg/x.txt", b"x")
    assert await storage.exists("docg/x.txt")
    await storage.delete("docg/x.txt")
    assert not await storage.exists("docg/x.txt")


async def test_delete_of_a_missing_key_is_silent(storage: Storage) -> None:
    await storage.delete("docg/never-written.txt")


async def test_get_of_a_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFound, match=r"docg/missing\.txt") as caught:
        await storage.get("docg/missing.txt")
    assert isinstance(caught.value, StorageError) and isinstance(caught.value, DocgError)
    assert caught.value.key == "docg/missing.txt"


async def test_open_of_a_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFound):
        async for _ in storage.open("docg/missing.txt"):
            pass


async def test_a_key_prefix_is_not_a_file(storage: Storage) -> None:
    await storage.put("docg/org/x.txt", b"x")
    assert not await storage.exists("docg/org")
    with pytest.raises(FileNotFound):
        await storage.get("docg/org")
    await storage.delete("docg/org")
    assert await storage.exists("docg/org/x.txt")


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
async def test_invalid_keys_are_rejected_by_every_operation(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.put(key, b"x")
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.get(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        await anext(storage.open(key))
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.exists(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.delete(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.signed_url(key)


@pytest.mark.parametrize("data", ["text", io.StringIO("text"), [b"a list"]], ids=type)
async def test_data_that_is_not_bytes_is_rejected(storage: Storage, data: Any) -> None:
    with pytest.raises(TypeError, match="bytes"):
        await storage.put("docg/x.txt", data)
    assert not await storage.exists("docg/x.txt")


async def test_content_type_is_reported(storage: Storage) -> None:
    stored = await storage.put("docg/x.pdf", b"%PDF-1.7", content_type="application/pdf")
    assert stored.content_type == "application/pdf"


async def test_a_stream_that_fails_midway_leaves_no_file(storage: Storage) -> None:
    with pytest.raises(Boom):
        await storage.put("docg/x.bin", failing_stream(CHUNK_SIZE))
    assert not await storage.exists("docg/x.bin")


async def test_a_failed_overwrite_keeps_the_previous_file(storage: Storage) -> None:
    await storage.put("docg/x.bin", b"previous")
    with pytest.raises(Boom):
        await storage.put("docg/x.bin", failing_stream(S3_PART_SIZE + CHUNK_SIZE))
    assert await storage.get("docg/x.bin") == b"previous"


async def test_a_reader_never_sees_a_partial_file(storage: Storage) -> None:
    old, new = b"o" * MiB, os.urandom(S3_PART_SIZE + 3 * MiB)
    await storage.put("docg/x.bin", old)
    reads_during_write = 0
    enough_reads = asyncio.Event()

    async def slow_source() -> AsyncIterator[bytes]:
        for start in range(0, len(new), 256 * 1024):
            if start == len(new) // 2:
                await enough_reads.wait()  # half written: let the reader look
            yield new[start : start + 256 * 1024]
            await asyncio.sleep(0)

    seen: set[str] = set()
    writing = asyncio.create_task(storage.put("docg/x.bin", slow_source()))
    while not writing.done():
        seen.add(sha256(await storage.get("docg/x.bin")))
        reads_during_write += 1
        if reads_during_write >= 3:
            enough_reads.set()
    await writing
    assert reads_during_write >= 3
    assert seen <= {sha256(old), sha256(new)}
    assert await storage.get("docg/x.bin") == new


async def test_signed_url_is_rejected_with_a_non_positive_lifetime(storage: Storage) -> None:
    with pytest.raises(ValueError, match="expires"):
        await storage.signed_url("docg/x.txt", expires=0)


# -- key helpers --------------------------------------------------------------------------

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_template_key_follows_the_documented_layout() -> None:
    assert re.fullmatch(rf"docg/org-1/templates/{UUID4}\.docx", template_key("org-1", "docx"))


def test_output_key_follows_the_documented_layout() -> None:
    assert re.fullmatch(rf"docg/org-1/outputs/{UUID4}\.pdf", output_key("org-1", "pdf"))


def test_keys_are_unique() -> None:
    assert len({output_key("org-1", "pdf") for _ in range(100)}) == 100


def test_extension_loses_its_dot_and_case() -> None:
    assert output_key("org-1", ".PDF").endswith(".pdf")


@pytest.mark.parametrize("extension", ["", ".", "tar.gz", "pdf/", "../x", "waytoolong", "p df"])
def test_invalid_extensions_are_rejected(extension: str) -> None:
    with pytest.raises(ValueError, match="invalid file extension"):
        output_key("org-1", extension)


@pytest.mark.parametrize("organization_id", ["", ".", "..", "a/b", "a\\b", "a\x00b"])
def test_invalid_organization_ids_are_rejected(organization_id: str) -> None:
    with pytest.raises(ValueError, match="invalid organization_id"):
        template_key(organization_id, "docx")


# -- LocalStorage -------------------------------------------------------------------------


def signed_parts(url: str, base_url: str = "/files") -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.startswith(f"{base_url}/")
    return unquote(parts.path[len(base_url) + 1 :]), query["expires"][0], query["signature"][0]


async def test_local_path_is_the_file_on_disk(local: LocalStorage, tmp_path: Path) -> None:
    await local.put("docg/org-1/outputs/x.pdf", b"%PDF")
    path = local.path("docg/org-1/outputs/x.pdf")
    assert path == tmp_path / "files" / "docg" / "org-1" / "outputs" / "x.pdf"
    assert path.read_bytes() == b"%PDF"


async def test_local_signed_url_has_the_documented_form(local: LocalStorage) -> None:
    before = int(time.time())
    url = await local.signed_url("docg/org 1/x.pdf", expires=60)
    assert re.fullmatch(r"/files/docg/org%201/x\.pdf\?expires=\d+&signature=[0-9a-f]{64}", url)
    key, expires, _ = signed_parts(url)
    assert key == "docg/org 1/x.pdf" and before + 60 <= int(expires) <= int(time.time()) + 60


async def test_local_signed_url_verifies(local: LocalStorage) -> None:
    key, expires, signature = signed_parts(await local.signed_url("docg/x.pdf"))
    assert local.verify_signed_url(key, expires, signature)


@pytest.mark.parametrize("tampered", ["key", "expires", "signature"])
async def test_local_signed_url_is_rejected_when_tampered(
    local: LocalStorage, tampered: str
) -> None:
    key, expires, signature = signed_parts(await local.signed_url("docg/x.pdf"))
    if tampered == "key":
        key = "docg/y.pdf"
    elif tampered == "expires":
        expires = str(int(expires) + 3600)
    else:
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not local.verify_signed_url(key, expires, signature)


async def test_local_signed_url_is_rejected_once_expired(local: LocalStorage) -> None:
    key, expires, signature = signed_parts(await local.signed_url("docg/x.pdf", expires=60))
    assert local.verify_signed_url(key, expires, signature, now=int(expires))
    assert not local.verify_signed_url(key, expires, signature, now=int(expires) + 1)


@pytest.mark.parametrize(
    ("key", "expires", "signature"),
    [
        ("../x", "9999999999", "00"),
        ("docg/x.pdf", "soon", "00"),
        ("docg/x.pdf", "9999999999", ""),
        ("docg/x.pdf", "9999999999", "é" * 64),
    ],
)
def test_local_malformed_signed_url_is_rejected(
    local: LocalStorage, key: str, expires: str, signature: str
) -> None:
    assert not local.verify_signed_url(key, expires, signature)


async def test_local_signature_needs_the_same_secret(tmp_path: Path) -> None:
    url = await LocalStorage(tmp_path, secret="one").signed_url("docg/x.pdf")
    assert not LocalStorage(tmp_path, secret="two").verify_signed_url(*signed_parts(url))
    assert LocalStorage(tmp_path, secret=b"one").verify_signed_url(*signed_parts(url))


async def test_local_secret_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCG_STORAGE_SECRET", "from-env")
    url = await LocalStorage(tmp_path).signed_url("docg/x.pdf")
    assert LocalStorage(tmp_path, secret="from-env").verify_signed_url(*signed_parts(url))


async def test_local_without_a_secret_signs_with_a_per_process_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCG_STORAGE_SECRET", raising=False)
    url = await LocalStorage(tmp_path).signed_url("docg/x.pdf")
    assert LocalStorage(tmp_path / "other").verify_signed_url(*signed_parts(url))
    assert not LocalStorage(tmp_path, secret="configured").verify_signed_url(*signed_parts(url))


async def test_local_failed_write_leaves_no_temporary_file(
    local: LocalStorage, tmp_path: Path
) -> None:
    with pytest.raises(Boom):
        await local.put("docg/org-1/outputs/x.bin", failing_stream(3 * CHUNK_SIZE))
    assert files_under(tmp_path / "files") == []


async def test_local_cancelled_write_leaves_no_temporary_file(
    local: LocalStorage, tmp_path: Path
) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * CHUNK_SIZE
            started.set()

    writing = asyncio.create_task(local.put("docg/x.bin", endless()))
    await started.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert files_under(tmp_path / "files") == []


async def test_local_large_stream_is_written_in_bounded_memory(local: LocalStorage) -> None:
    size, chunk_size = 50 * MiB, CHUNK_SIZE
    expected = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        for index in range(size // chunk_size):
            chunk = index.to_bytes(4, "big") * (chunk_size // 4)
            expected.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        stored = await local.put("docg/large.bin", generated())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while writing {size / MiB:.0f} MiB"
    assert (stored.size, stored.sha256) == (size, expected.hexdigest())
    assert local.path("docg/large.bin").stat().st_size == size


async def test_local_files_get_ordinary_permissions(local: LocalStorage) -> None:
    await local.put("docg/x.txt", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert local.path("docg/x.txt").stat().st_mode & 0o777 == 0o666 & ~umask


# -- S3Storage ----------------------------------------------------------------------------


async def test_s3_signed_url_downloads_the_file(s3: S3Storage) -> None:
    await s3.put("docg/org-1/outputs/x.pdf", b"%PDF-1.7 signed", content_type="application/pdf")
    url = await s3.signed_url("docg/org-1/outputs/x.pdf", expires=300)
    assert "X-Amz-Signature=" in url
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"%PDF-1.7 signed"


async def test_s3_signed_url_lifetime_is_capped_at_seven_days(s3: S3Storage) -> None:
    with pytest.raises(ValueError, match="at most"):
        await s3.signed_url("docg/x.pdf", expires=8 * 24 * 3600)


async def test_s3_content_type_is_stored_on_the_object(
    s3: S3Storage, s3_bucket: str, s3_admin: Any
) -> None:
    await s3.put("docg/x.pdf", b"%PDF-1.7", content_type="application/pdf")
    head = s3_admin.head_object(Bucket=s3_bucket, Key="docg/x.pdf")
    assert head["ContentType"] == "application/pdf"


async def test_s3_content_type_is_stored_on_a_multipart_object(
    s3: S3Storage, s3_bucket: str, s3_admin: Any
) -> None:
    data = b"p" * (S3_PART_SIZE + 1)
    await s3.put("docg/x.pdf", chunks_of(data, CHUNK_SIZE), content_type="application/pdf")
    head = s3_admin.head_object(Bucket=s3_bucket, Key="docg/x.pdf")
    assert (head["ContentType"], head["ContentLength"]) == ("application/pdf", len(data))


async def test_s3_large_stream_is_uploaded_in_parts_as_it_is_read(s3: S3Storage) -> None:
    size, chunk_size = 2 * S3_PART_SIZE + 2 * MiB, 256 * 1024
    produced = 0
    sent: list[tuple[int, int]] = []  # (part size, bytes produced when it was sent)

    def on_upload_part(params: dict[str, Any], **_: Any) -> None:
        sent.append((len(params["Body"]), produced))

    s3._client().meta.events.register("provide-client-params.s3.UploadPart", on_upload_part)

    async def generated() -> AsyncIterator[bytes]:
        nonlocal produced
        for index in range(size // chunk_size):
            produced += chunk_size
            yield bytes([index % 256]) * chunk_size

    stored = await s3.put("docg/large.bin", generated())
    assert [part for part, _ in sent] == [S3_PART_SIZE, S3_PART_SIZE, 2 * MiB]
    uploaded = 0
    for part, produced_then in sent:
        uploaded += part
        assert produced_then <= uploaded + chunk_size  # never read ahead of the part being sent
    assert stored.size == size and await s3.exists("docg/large.bin")


async def test_s3_failed_multipart_upload_is_aborted(
    s3: S3Storage, s3_bucket: str, s3_admin: Any
) -> None:
    with pytest.raises(Boom):
        await s3.put("docg/x.bin", failing_stream(S3_PART_SIZE + CHUNK_SIZE))
    assert s3_admin.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert not await s3.exists("docg/x.bin")


async def test_s3_cancelled_multipart_upload_is_aborted(
    s3: S3Storage, s3_bucket: str, s3_admin: Any
) -> None:
    part_sent = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        sent = 0
        while True:
            if sent > S3_PART_SIZE:
                part_sent.set()
            yield b"x" * CHUNK_SIZE
            sent += CHUNK_SIZE

    writing = asyncio.create_task(s3.put("docg/x.bin", endless()))
    await part_sent.wait()
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert s3_admin.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert not await s3.exists("docg/x.bin")


def test_s3_invalid_prefix_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"invalid prefix 'a/\.\./b'"):
        S3Storage("bucket", prefix="a/../b")


async def test_s3_prefix_is_prepended_to_keys(
    moto_endpoint: str, s3_bucket: str, s3_admin: Any
) -> None:
    prefixed = make_s3(moto_endpoint, s3_bucket, prefix="/staging/")
    try:
        await prefixed.put("docg/x.txt", b"x")
        assert await prefixed.get("docg/x.txt") == b"x"
    finally:
        await prefixed.close()
    assert s3_admin.get_object(Bucket=s3_bucket, Key="staging/docg/x.txt")["Body"].read() == b"x"


async def test_s3_errors_name_the_bucket_and_key(moto_endpoint: str, s3_bucket: str) -> None:
    missing = make_s3(moto_endpoint, f"{s3_bucket}-missing")
    try:
        with pytest.raises(StorageError, match=r"'docg/x\.txt' in bucket '.*-missing'") as caught:
            await missing.get("docg/x.txt")
    finally:
        await missing.close()
    assert not isinstance(caught.value, FileNotFound)
    assert "NoSuchBucket" in str(caught.value)


async def test_s3_cannot_be_used_after_close(moto_endpoint: str, s3_bucket: str) -> None:
    closed = make_s3(moto_endpoint, s3_bucket)
    await closed.put("docg/x.txt", b"x")
    await closed.close()
    with pytest.raises(StorageError, match="closed"):
        await closed.get("docg/x.txt")


def test_s3_from_env_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DO_SPACES_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DO_SPACES_BUCKET", "pipehub")
    with pytest.raises(StorageError) as caught:
        S3Storage.from_env()
    message = str(caught.value)
    for name in ("DO_SPACES_ACCESS_KEY", "DO_SPACES_SECRET_KEY", "DO_SPACES_ENDPOINT"):
        assert name in message
    assert "DO_SPACES_BUCKET," not in message and "DO_SPACES_REGION" not in message


def set_spaces_env(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    _isolate_aws_sdk(monkeypatch)
    monkeypatch.setenv("DO_SPACES_ACCESS_KEY", "key")
    monkeypatch.setenv("DO_SPACES_SECRET_KEY", "secret")
    monkeypatch.setenv("DO_SPACES_BUCKET", "pipehub")
    monkeypatch.setenv("DO_SPACES_ENDPOINT", "nyc3.digitaloceanspaces.com")
    monkeypatch.delenv("DO_SPACES_REGION", raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


async def test_s3_from_env_reads_the_design_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    set_spaces_env(monkeypatch)
    created = S3Storage.from_env()
    await created.close()
    assert (created.bucket, created.endpoint_url, created.region) == (
        "pipehub",
        "https://nyc3.digitaloceanspaces.com",
        "nyc3",
    )


async def test_s3_from_env_region_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    set_spaces_env(monkeypatch, DO_SPACES_ENDPOINT="https://s3.example.com", DO_SPACES_REGION="x1")
    created = S3Storage.from_env()
    await created.close()
    assert (created.endpoint_url, created.region) == ("https://s3.example.com", "x1")


async def test_storage_from_env_picks_s3_when_a_bucket_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_spaces_env(monkeypatch)
    created = storage_from_env()
    await created.close()
    assert isinstance(created, S3Storage) and created.bucket == "pipehub"


async def test_storage_from_env_picks_local_files_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DO_SPACES_BUCKET", raising=False)
    monkeypatch.setenv("DOCG_STORAGE_DIR", str(tmp_path / "store"))
    created = storage_from_env()
    await created.close()
    assert isinstance(created, LocalStorage) and created.root == tmp_path / "store"


def test_importing_storage_does_not_import_boto3() -> None:
    code = (
        "import sys, docg_core.storage\n"
        "loaded = [m for m in ('boto3', 'botocore') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
