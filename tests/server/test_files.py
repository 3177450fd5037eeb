"""GET /api/v1/files/{key}: local files served to a valid, unexpired signature only."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from server.apikit import assert_problem
from server.test_templates import use_local_storage

from docg_core.storage import LocalStorage

KEY = "docg/0b1c/outputs/Proposta final.pdf"
PDF = b"%PDF-1.7\n" + b"0123456789" * 300_000  # 3 MB: several chunks when streamed


@pytest.fixture
def storage(app: FastAPI, tmp_path: Path) -> LocalStorage:
    return use_local_storage(app, tmp_path)


async def signed(storage: LocalStorage, key: str = KEY, expires: int = 60) -> str:
    url = await storage.signed_url(key, expires=expires)
    assert url.startswith("/api/v1/files/")
    return url


async def test_a_signed_url_streams_the_file_with_its_type_and_name(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    await storage.put(KEY, PDF)
    response = await client.get(await signed(storage))  # no Authorization header at all

    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF))
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Proposta final.pdf"')
    assert "filename*=UTF-8''Proposta%20final.pdf" in disposition


async def test_an_html_file_is_a_download_never_rendered_on_the_api_origin(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    key = "docg/0b1c/templates/page.html"
    await storage.put(key, b"<script>alert(1)</script>")
    response = await client.get(await signed(storage, key))
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("tamper", ["signature", "expires", "key"])
async def test_a_tampered_url_is_refused_with_403(
    client: httpx.AsyncClient, storage: LocalStorage, tamper: str
) -> None:
    await storage.put(KEY, PDF)
    await storage.put("docg/other/outputs/secret.pdf", b"%PDF secret")
    url = await signed(storage)
    path, query = url.split("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    if tamper == "signature":
        params["signature"] = "0" * 64
    elif tamper == "expires":
        params["expires"] = str(int(params["expires"]) + 3600)
    else:
        path = "/api/v1/files/docg/other/outputs/secret.pdf"
    response = await client.get(path, params=params)
    body = assert_problem(response, 403, "forbidden")
    assert "expired" in body["detail"]


async def test_an_expired_url_is_refused_with_403(
    client: httpx.AsyncClient, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.put(KEY, PDF)
    url = await signed(storage, expires=5)
    later = time.time() + 10
    monkeypatch.setattr("docg_core.storage.time.time", lambda: later)
    assert_problem(await client.get(url), 403, "forbidden")


async def test_a_missing_file_answers_404_and_a_missing_signature_422(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await signed(storage, "docg/0b1c/outputs/gone.pdf")
    assert_problem(await client.get(url), 404, "not-found")
    assert_problem(await client.get(urlsplit(url).path), 422, "validation-error")


async def test_with_s3_storage_the_route_answers_404(
    app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    await storage.put(KEY, PDF)
    url = await signed(storage)

    class Bucket:  # any storage that is not LocalStorage signs its own URLs
        async def close(self) -> None:
            return None

    app.state.storage = Bucket()
    assert_problem(await client.get(url), 404, "not-found")
