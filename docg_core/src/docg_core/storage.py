"""Where templates and generated documents are kept.

:class:`Storage` is the protocol the engine, the server and plugins talk to.
:class:`LocalStorage` (the default) keeps files under a directory; :class:`S3Storage` keeps
them in DigitalOcean Spaces, AWS S3 or any S3-compatible service (extra ``docg-core[s3]``;
boto3 is imported on first use). :func:`storage_from_env` picks one from the environment.

Keys are relative ``/``-separated paths such as ``docg/{organization_id}/outputs/{uuid}.pdf``
(see :func:`template_key` and :func:`output_key`). An empty or absolute key, an empty, ``.``
or ``..`` segment, a backslash or a control character (NUL included) raises
:class:`ValueError`.

``put`` takes ``bytes``, a binary file object (read from its current position, never closed)
or an async iterable of bytes. Streams are written chunk by chunk and hashed on the way, so
memory stays bounded whatever the size. A write is all or nothing: readers see the previous
file (or none) until it completes, and a failed write leaves nothing behind. Blocking I/O runs
in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import importlib
import importlib.util
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote, urlsplit

from .errors import DocgError

__all__ = [
    "CHUNK_SIZE",
    "FileNotFound",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageError",
    "StoredFile",
    "check_key",
    "output_key",
    "storage_from_env",
    "template_key",
]

_T = TypeVar("_T")

CHUNK_SIZE = 1024 * 1024
"""Bytes read or written per step when streaming (``open`` yields chunks of at most this)."""

MAX_KEY_BYTES = 1024
"""The longest key S3 accepts, applied to every backend so keys stay portable."""

MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""The longest validity of an S3 (SigV4) presigned URL."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_EXTENSION = re.compile(r"[a-z0-9]{1,8}")
_TEMP_PREFIX = ".docg-"
_TEMP_SUFFIX = ".tmp"

# Signs LocalStorage URLs when no secret is configured: such URLs die with the process.
_PROCESS_SECRET = secrets.token_bytes(32)

_REQUIRED_S3_VARIABLES = (
    "DO_SPACES_ACCESS_KEY",
    "DO_SPACES_SECRET_KEY",
    "DO_SPACES_BUCKET",
    "DO_SPACES_ENDPOINT",
)


class StorageError(DocgError):
    """A storage operation failed; ``key`` names the file when there is one."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


class FileNotFound(StorageError):
    """No file under that key."""


@dataclass(frozen=True)
class StoredFile:
    """What ``put`` wrote: the key, its size in bytes, its SHA-256 (hex) and content type."""

    key: str
    size: int
    sha256: str
    content_type: str | None = None


@runtime_checkable
class Storage(Protocol):
    """Files by key. Every method is safe to call concurrently."""

    async def put(
        self,
        key: str,
        data: bytes | BinaryIO | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
    ) -> StoredFile:
        """Write ``data`` under ``key`` atomically, replacing any previous file."""
        ...

    async def get(self, key: str) -> bytes:
        """The whole file; raises :class:`FileNotFound`."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """Stream the file in chunks (``async for chunk in storage.open(key)``); raises
        :class:`FileNotFound` on the first iteration."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file (no error if absent)."""
        ...

    async def exists(self, key: str) -> bool:
        """True if a file is stored under ``key``."""
        ...

    async def signed_url(self, key: str, *, expires: int = 3600) -> str:
        """A URL that downloads the file without credentials for ``expires`` seconds."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


# -- keys ---------------------------------------------------------------------------------


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid storage key, else raise :class:`ValueError`."""
    if not isinstance(key, str):
        raise TypeError(f"a storage key is a str, not {type(key).__name__}")
    if not key:
        raise ValueError("invalid storage key '': must not be empty")
    problem = None
    if key.startswith("/"):
        problem = "must be relative, not start with '/'"
    elif "\\" in key:
        problem = "must use '/' as separator, not a backslash"
    elif _CONTROL_CHARACTERS.search(key):
        problem = "must not contain NUL or other control characters"
    elif ".." in (segments := key.split("/")):
        problem = "must not contain '..' segments"
    elif "" in segments or "." in segments:
        problem = "must not contain empty or '.' segments ('//', './' or a trailing '/')"
    elif len(key.encode()) > MAX_KEY_BYTES:
        problem = f"must be at most {MAX_KEY_BYTES} bytes long"
    if problem is not None:
        raise ValueError(f"invalid storage key {key!r}: {problem}")
    return key


def template_key(organization_id: str, extension: str) -> str:
    """A new key ``docg/{organization_id}/templates/{uuid4}.{extension}``.

    ``extension`` is 1–8 letters or digits; a leading dot is dropped and it is lower-cased.
    """
    return _organization_key(organization_id, "templates", extension)


def output_key(organization_id: str, extension: str) -> str:
    """A new key ``docg/{organization_id}/outputs/{uuid4}.{extension}`` for a generated file."""
    return _organization_key(organization_id, "outputs", extension)


def _organization_key(organization_id: str, kind: str, extension: str) -> str:
    organization = str(organization_id)
    if (
        not organization
        or organization in {".", ".."}
        or "/" in organization
        or "\\" in organization
        or _CONTROL_CHARACTERS.search(organization)
    ):
        raise ValueError(
            f"invalid organization_id {organization_id!r}: must be a non-empty id without "
            "'/', '\\' or control characters"
        )
    ext = str(extension).removeprefix(".").lower()
    if not _EXTENSION.fullmatch(ext):
        raise ValueError(
            f"invalid file extension {extension!r}: must be 1 to 8 letters or digits ('pdf')"
        )
    return check_key(f"docg/{organization}/{kind}/{uuid.uuid4()}.{ext}")


# -- helpers ------------------------------------------------------------------------------


def _byte_view(chunk: object) -> bytes | memoryview:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        return memoryview(chunk).cast("B")
    raise TypeError(f"storage data must yield bytes, not {type(chunk).__name__}")


async def _chunks(
    data: bytes | BinaryIO | AsyncIterable[bytes],
) -> AsyncGenerator[bytes | memoryview, None]:
    """Non-empty chunks of ``data``, read without loading a stream whole."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]
    elif isinstance(data, AsyncIterable):
        async for item in data:
            chunk = _byte_view(item)
            if len(chunk):
                yield chunk
    elif callable(getattr(data, "read", None)):
        while True:
            chunk = _byte_view(await asyncio.to_thread(data.read, CHUNK_SIZE))
            if not len(chunk):
                return
            yield chunk
    else:
        raise TypeError(
            "storage data must be bytes, a binary file object or an async iterable of bytes, "
            f"not {type(data).__name__}"
        )


async def _run_settled(
    func: Callable[[], _T], *, cleanup: Callable[[_T], object] | None = None
) -> _T:
    """Run blocking ``func`` in a worker thread.

    If the caller is cancelled meanwhile, wait for the thread before re-raising (and hand a
    result nobody will receive to ``cleanup``), so the caller's own clean-up never races a
    thread still writing, and no open handle is dropped.
    """
    future = asyncio.ensure_future(asyncio.to_thread(func))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if not future.cancelled() and future.exception() is None and cleanup is not None:
            cleanup(future.result())
        raise


def _fsync_directory(path: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_expires(expires: int, maximum: int | None = None) -> int:
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 1:
        raise ValueError(f"expires must be a positive number of seconds, not {expires!r}")
    if maximum is not None and expires > maximum:
        raise ValueError(f"expires must be at most {maximum} seconds, not {expires}")
    return expires


# -- local files --------------------------------------------------------------------------


class _AtomicWriter:
    """A temporary file beside ``target``, renamed over it on commit.

    Every method blocks: call them from a worker thread.
    """

    def __init__(self, key: str, target: Path) -> None:
        self.key = key
        self.target = target
        self.temp = target.parent / f"{_TEMP_PREFIX}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
        self.file: BinaryIO | None = None
        self.digest = hashlib.sha256()
        self.size = 0

    def open(self) -> None:
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(self.temp, flags, 0o666)  # the umask applies, as for any new file
        except OSError as exc:
            raise self._error(exc) from exc
        self.file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes | memoryview | bytearray) -> None:
        assert self.file is not None
        try:
            self.file.write(chunk)
        except OSError as exc:
            raise self._error(exc) from exc
        self.digest.update(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        assert self.file is not None
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temp, self.target)
        except OSError as exc:
            raise self._error(exc) from exc
        _fsync_directory(self.target.parent)

    def discard(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)

    def _error(self, exc: OSError) -> StorageError:
        return StorageError(f"cannot write {self.key!r}: {exc.strerror or exc}", key=self.key)


class LocalStorage:
    """Files under a directory, ``root/<key>``.

    Writes go to a temporary file in the target's directory, are fsynced, then renamed over
    the target (``os.replace``): no reader ever sees a half-written file, and a failed write
    removes its temporary file. A crash (power loss, SIGKILL) can leave a ``.docg-*.tmp``
    file behind, which is safe to delete; empty directories are never removed. Content types
    are reported in :class:`StoredFile` but not stored.

    :meth:`signed_url` signs URLs with HMAC-SHA256 under ``secret``, else the environment
    variable ``DOCG_STORAGE_SECRET``, else a random per-process secret — then the URLs stop
    working when the process restarts, and other processes cannot verify them.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        secret: str | bytes | None = None,
        base_url: str = "/files",
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.base_url = base_url.rstrip("/")
        if secret is None:
            secret = os.environ.get("DOCG_STORAGE_SECRET") or None
        if isinstance(secret, str):
            secret = secret.encode()
        if secret is not None and not secret:
            raise ValueError("secret must not be empty")
        self._secret: bytes = _PROCESS_SECRET if secret is None else secret

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Where ``key``'s file is (or would be) on disk, for tools that need a real file."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put(
        self,
        key: str,
        data: bytes | BinaryIO | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
    ) -> StoredFile:
        writer = _AtomicWriter(key, self.path(key))
        try:
            await _run_settled(writer.open)
            pending = bytearray()  # small chunks are gathered so each thread hop writes a lot
            async with contextlib.aclosing(_chunks(data)) as chunks:
                async for chunk in chunks:
                    if not pending and len(chunk) >= CHUNK_SIZE:
                        await _run_settled(functools.partial(writer.write, chunk))
                        continue
                    pending += chunk
                    if len(pending) >= CHUNK_SIZE:
                        await _run_settled(functools.partial(writer.write, pending))
                        pending = bytearray()
            if pending:
                await _run_settled(functools.partial(writer.write, pending))
            await _run_settled(writer.commit)
        except BaseException:
            await _run_settled(writer.discard)
            raise
        return StoredFile(key, writer.size, writer.digest.hexdigest(), content_type)

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        return await asyncio.to_thread(self._read, key, path)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self.path(key)
        file = await _run_settled(functools.partial(self._open, key, path), cleanup=_close)
        try:
            while chunk := await _run_settled(functools.partial(file.read, CHUNK_SIZE)):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(self._delete, key, path)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def signed_url(self, key: str, *, expires: int = 3600) -> str:
        """``{base_url}/{key}?expires=<unix time>&signature=<hex>``; see
        :meth:`verify_signed_url`."""
        check_key(key)
        deadline = int(time.time()) + _check_expires(expires)
        signature = self._sign(key, deadline)
        return f"{self.base_url}/{quote(key, safe='/')}?expires={deadline}&signature={signature}"

    def verify_signed_url(
        self, key: str, expires: int | str, signature: str, *, now: float | None = None
    ) -> bool:
        """True if ``signature`` was made by :meth:`signed_url` for ``key`` and ``expires``
        (the URL's query values) and ``expires`` has not passed."""
        try:
            check_key(key)
            deadline = int(expires)
        except (TypeError, ValueError):
            return False
        if deadline < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._sign(key, deadline).encode(), str(signature).encode())

    async def close(self) -> None:
        """Nothing to release."""

    def _sign(self, key: str, deadline: int) -> str:
        # Keys never contain a newline, so "key\nexpires" is unambiguous.
        message = f"{key}\n{deadline}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _read(key: str, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFound(f"no file {key!r} in local storage", key=key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc.strerror or exc}", key=key) from exc

    @staticmethod
    def _open(key: str, path: Path) -> BinaryIO:
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFound(f"no file {key!r} in local storage", key=key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc.strerror or exc}", key=key) from exc

    @staticmethod
    def _delete(key: str, path: Path) -> None:
        if path.is_dir():
            return  # a directory is only a prefix of other keys, never a file
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r}: {exc.strerror or exc}", key=key) from exc


def _close(file: BinaryIO) -> None:
    file.close()


# -- S3 -----------------------------------------------------------------------------------


def _region_from_endpoint(endpoint_url: str) -> str:
    """``nyc3`` for ``https://nyc3.digitaloceanspaces.com``; ``us-east-1`` when unknown."""
    labels = (urlsplit(endpoint_url).hostname or "").split(".")
    if "digitaloceanspaces" in labels and (index := labels.index("digitaloceanspaces")) > 0:
        return labels[index - 1]
    return "us-east-1"


_BOTO3_SESSION_LOCK = threading.Lock()


@functools.cache
def _boto3_session() -> Any:
    """One boto3 session per process: clients created from it share the parsed service
    models, so a second store's client costs milliseconds, not a tenth of a second."""
    boto3: Any = importlib.import_module("boto3")
    return boto3.session.Session()


class _S3Upload:
    """One object being written: a single PUT, or a multipart upload once it outgrows a part.

    Every method blocks: call them from a worker thread, one at a time.
    """

    def __init__(self, storage: S3Storage, key: str, content_type: str | None) -> None:
        self.storage = storage
        self.key = key
        self.name = storage._object_name(key)
        self.extra: dict[str, str] = {"ContentType": content_type} if content_type else {}
        self.digest = hashlib.sha256()
        self.size = 0
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def put_whole(self, body: bytes) -> None:
        self._hash(body)
        with self.storage._errors("write", self.key):
            self.storage._client().put_object(
                Bucket=self.storage.bucket, Key=self.name, Body=body, **self.extra
            )

    def put_part(self, body: bytes) -> None:
        self._hash(body)
        with self.storage._errors("write", self.key):
            client = self.storage._client()
            if self.upload_id is None:
                created = client.create_multipart_upload(
                    Bucket=self.storage.bucket, Key=self.name, **self.extra
                )
                self.upload_id = str(created["UploadId"])
            number = len(self.parts) + 1
            uploaded = client.upload_part(
                Bucket=self.storage.bucket,
                Key=self.name,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=body,
            )
            self.parts.append({"ETag": uploaded["ETag"], "PartNumber": number})

    def complete(self) -> None:
        with self.storage._errors("write", self.key):
            self.storage._client().complete_multipart_upload(
                Bucket=self.storage.bucket,
                Key=self.name,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )

    def abort(self) -> None:
        if self.upload_id is None:
            return
        # Best effort: the original error matters more. A bucket lifecycle rule that aborts
        # incomplete multipart uploads cleans up anything left by a crash.
        with contextlib.suppress(Exception):
            self.storage._client().abort_multipart_upload(
                Bucket=self.storage.bucket, Key=self.name, UploadId=self.upload_id
            )

    def _hash(self, body: bytes) -> None:
        self.digest.update(body)
        self.size += len(body)


class S3Storage:
    """Files in an S3 bucket: DigitalOcean Spaces, AWS S3 or any S3-compatible service.

    Needs the ``docg-core[s3]`` extra (boto3). One boto3 client per store, created on first
    use and released by :meth:`close`; credentials default to boto3's usual chain when
    ``access_key``/``secret_key`` are not given. Keys are stored under ``prefix``. Data up to
    :attr:`PART_SIZE` bytes is sent in one PUT; a larger stream goes up as a multipart upload,
    one part at a time, so memory stays around two parts. Either way the object appears whole
    or not at all; a failed multipart upload is aborted.
    """

    PART_SIZE = 8 * 1024 * 1024
    """Bytes per multipart part (S3 requires at least 5 MiB; 10,000 parts at most)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
    ) -> None:
        if not bucket:
            raise ValueError("bucket must not be empty")
        if importlib.util.find_spec("boto3") is None:
            raise StorageError("S3Storage needs boto3: pip install 'docg-core[s3]'")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        prefix = prefix.strip("/")
        try:
            self.prefix = f"{check_key(prefix)}/" if prefix else ""
        except ValueError as exc:
            raise ValueError(f"invalid prefix {prefix!r}: {exc}") from None
        self._access_key = access_key
        self._secret_key = secret_key
        self._lock = threading.Lock()
        self._client_instance: Any = None
        self._closed = False

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    @classmethod
    def from_env(cls) -> S3Storage:
        """A store configured by ``DO_SPACES_ACCESS_KEY``, ``DO_SPACES_SECRET_KEY``,
        ``DO_SPACES_BUCKET`` and ``DO_SPACES_ENDPOINT`` (``nyc3.digitaloceanspaces.com``;
        ``https://`` is assumed), plus optional ``DO_SPACES_REGION`` (else taken from the
        endpoint). Raises :class:`StorageError` naming every missing variable."""
        missing = [name for name in _REQUIRED_S3_VARIABLES if not os.environ.get(name)]
        if missing:
            raise StorageError(
                f"S3 storage is not configured: set {', '.join(missing)} "
                "(or unset DO_SPACES_BUCKET to keep files on local disk in DOCG_STORAGE_DIR)"
            )
        endpoint = os.environ["DO_SPACES_ENDPOINT"]
        if "://" not in endpoint:
            endpoint = f"https://{endpoint}"
        return cls(
            os.environ["DO_SPACES_BUCKET"],
            endpoint_url=endpoint,
            region=os.environ.get("DO_SPACES_REGION") or _region_from_endpoint(endpoint),
            access_key=os.environ["DO_SPACES_ACCESS_KEY"],
            secret_key=os.environ["DO_SPACES_SECRET_KEY"],
        )

    async def put(
        self,
        key: str,
        data: bytes | BinaryIO | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
    ) -> StoredFile:
        check_key(key)
        upload = _S3Upload(self, key, content_type)
        part_size = max(int(self.PART_SIZE), 5 * 1024 * 1024)
        try:
            buffer = bytearray()
            async with contextlib.aclosing(_chunks(data)) as chunks:
                async for chunk in chunks:
                    buffer += chunk
                    while len(buffer) >= part_size:
                        with memoryview(buffer) as view, view[:part_size] as head:
                            part = bytes(head)
                        del buffer[:part_size]
                        await _run_settled(functools.partial(upload.put_part, part))
            if upload.upload_id is None:
                await _run_settled(functools.partial(upload.put_whole, bytes(buffer)))
            else:
                if buffer:
                    await _run_settled(functools.partial(upload.put_part, bytes(buffer)))
                await _run_settled(upload.complete)
        except BaseException:
            await _run_settled(upload.abort)
            raise
        return StoredFile(key, upload.size, upload.digest.hexdigest(), content_type)

    async def get(self, key: str) -> bytes:
        name = self._object_name(key)

        def read() -> bytes:
            with self._errors("read", key):
                body = self._client().get_object(Bucket=self.bucket, Key=name)["Body"]
                try:
                    return bytes(body.read())
                finally:
                    body.close()

        return await asyncio.to_thread(read)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        name = self._object_name(key)

        def start() -> Any:
            with self._errors("read", key):
                return self._client().get_object(Bucket=self.bucket, Key=name)["Body"]

        def read(body: Any) -> bytes:
            with self._errors("read", key):
                return bytes(body.read(CHUNK_SIZE))

        body = await _run_settled(start, cleanup=lambda body: body.close())
        try:
            while chunk := await _run_settled(functools.partial(read, body)):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        name = self._object_name(key)

        def delete() -> None:
            with self._errors("delete", key):
                self._client().delete_object(Bucket=self.bucket, Key=name)

        await asyncio.to_thread(delete)

    async def exists(self, key: str) -> bool:
        name = self._object_name(key)

        def exists() -> bool:
            try:
                with self._errors("check", key):
                    self._client().head_object(Bucket=self.bucket, Key=name)
            except FileNotFound:
                return False
            return True

        return await asyncio.to_thread(exists)

    async def signed_url(self, key: str, *, expires: int = 3600) -> str:
        """A presigned ``GET`` URL, valid for ``expires`` seconds (at most 7 days)."""
        name = self._object_name(key)
        _check_expires(expires, MAX_PRESIGN_SECONDS)

        def sign() -> str:
            with self._errors("sign a URL for", key):
                return str(
                    self._client().generate_presigned_url(
                        "get_object",
                        Params={"Bucket": self.bucket, "Key": name},
                        ExpiresIn=expires,
                    )
                )

        return await asyncio.to_thread(sign)

    async def close(self) -> None:
        """Close the client's connections; the store cannot be used afterwards."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            client, self._client_instance, self._closed = self._client_instance, None, True
        if client is not None:
            client.close()

    def _object_name(self, key: str) -> str:
        return f"{self.prefix}{check_key(key)}"

    def _client(self) -> Any:
        """The shared boto3 client, created on first use (blocks: call from a thread)."""
        with self._lock:
            if self._closed:
                raise StorageError(f"the S3 storage for bucket {self.bucket!r} is closed")
            if self._client_instance is None:
                with self._errors("connect to", None):
                    self._client_instance = self._create_client()
            return self._client_instance

    def _create_client(self) -> Any:
        config: Any = importlib.import_module("botocore.config")
        with _BOTO3_SESSION_LOCK:  # a boto3 session is not thread-safe; its clients are
            return _boto3_session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self._access_key,
                aws_secret_access_key=self._secret_key,
                config=config.Config(
                    signature_version="s3v4",
                    connect_timeout=10,
                    read_timeout=60,
                    retries={"max_attempts": 5, "mode": "standard"},
                    # Not every S3-compatible service accepts the CRC checksums botocore adds
                    # by default since 1.36; send them only where S3 requires one.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None) -> Iterator[None]:
        """Turn botocore errors into :class:`FileNotFound` / :class:`StorageError`."""
        try:
            yield
        except DocgError:
            raise
        except Exception as exc:
            exceptions: Any = importlib.import_module("botocore.exceptions")
            where = (
                f"bucket {self.bucket!r}" if key is None else f"{key!r} in bucket {self.bucket!r}"
            )
            if isinstance(exc, exceptions.ClientError):
                error = exc.response.get("Error", {})
                code = str(error.get("Code", ""))
                if code in {"NoSuchKey", "NotFound", "404"}:
                    raise FileNotFound(f"no file {where}", key=key) from None
                message = error.get("Message") or exc
                raise StorageError(
                    f"cannot {action} {where}: {code or 'error'}: {message}", key=key
                ) from exc
            if isinstance(exc, exceptions.BotoCoreError):
                raise StorageError(f"cannot {action} {where}: {exc}", key=key) from exc
            raise


def storage_from_env() -> Storage:
    """:meth:`S3Storage.from_env` when ``DO_SPACES_BUCKET`` is set, else a
    :class:`LocalStorage` in ``DOCG_STORAGE_DIR`` (default ``./docg-files``)."""
    if os.environ.get("DO_SPACES_BUCKET"):
        return S3Storage.from_env()
    return LocalStorage(os.environ.get("DOCG_STORAGE_DIR") or "./docg-files")
