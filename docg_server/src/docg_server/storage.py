"""The server's file storage, built from :class:`~docg_server.config.Settings`.

Local files (``DOCG_STORAGE_DIR``) are served by ``GET /api/v1/files/{key}`` with URLs signed
by ``DOCG_STORAGE_SECRET``; S3 or DigitalOcean Spaces (``DO_SPACES_*``) sign their own
(presigned) URLs.
"""

from __future__ import annotations

from docg_core.storage import LocalStorage, S3Storage, Storage

from .config import Settings

__all__ = ["FILES_PATH", "build_storage"]

FILES_PATH = "/api/v1/files"
"""Where local files are downloaded with a signed URL."""


def build_storage(settings: Settings, *, base_url: str = "") -> Storage:
    """S3/Spaces when ``DO_SPACES_BUCKET`` is set, else local files in ``DOCG_STORAGE_DIR``.

    :param base_url: the server's public origin (``https://docg.example``), prefixed to local
        download URLs; empty gives URLs relative to the server.
    """
    if settings.DO_SPACES_BUCKET:
        endpoint = settings.DO_SPACES_ENDPOINT or ""
        if "://" not in endpoint:
            endpoint = f"https://{endpoint}"
        secret = settings.DO_SPACES_SECRET_KEY
        return S3Storage(
            settings.DO_SPACES_BUCKET,
            endpoint_url=endpoint,
            region=settings.DO_SPACES_REGION,
            access_key=settings.DO_SPACES_ACCESS_KEY,
            secret_key=secret.get_secret_value() if secret is not None else None,
        )
    return LocalStorage(
        settings.DOCG_STORAGE_DIR,
        secret=settings.storage_secret(),
        base_url=base_url.rstrip("/") + FILES_PATH,
    )
