"""A thin client of ClickSign's envelope API (v3, JSON:API) over ``ctx.http``.

Every call goes through ``ctx.http`` (base URL and access token from the app), sends and
accepts ``application/vnd.api+json``, and maps error answers to step errors.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from .errors import raise_for_status

JSON_API = "application/vnd.api+json"


def resource(kind: str, attributes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A JSON:API request document ``{"data": {"type", "attributes", ...}}``."""
    return {"data": {"type": kind, "attributes": attributes, **extra}}


def relation(kind: str, identifier: str) -> dict[str, Any]:
    """A JSON:API relationship to one resource."""
    return {"data": {"type": kind, "id": identifier}}


class ClickSignClient:
    """The ClickSign calls the actions need, on one step's context."""

    def __init__(self, ctx: ExecutionContext) -> None:
        self._http = ctx.http

    async def _send(
        self, method: str, path: str, doing: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Accept": JSON_API}
        content = None
        if body is not None:
            headers["Content-Type"] = JSON_API
            content = json.dumps(body).encode()
        response = await self._http.request(method, path, content=content, headers=headers)
        raise_for_status(response, doing)
        if not response.content:
            return {}
        try:
            parsed = response.json()
        except ValueError:
            raise StepError(
                f"ClickSign answered {doing} with a body that is not JSON",
                code="clicksign_bad_answer",
            ) from None
        return parsed if isinstance(parsed, dict) else {}

    async def create_envelope(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """``POST envelopes`` → the envelope resource."""
        body = resource("envelopes", attributes)
        return _data(await self._send("POST", "envelopes", "creating the envelope", body))

    async def add_document(
        self, envelope_id: str, filename: str, content: bytes, mime: str = "application/pdf"
    ) -> dict[str, Any]:
        """``POST envelopes/{id}/documents`` with the file as a base64 data URI."""
        encoded = base64.b64encode(content).decode("ascii")
        body = resource(
            "documents",
            {"filename": filename, "content_base64": f"data:{mime};base64,{encoded}"},
        )
        answer = await self._send(
            "POST", f"envelopes/{envelope_id}/documents", "adding the document", body
        )
        return _data(answer)

    async def add_signer(self, envelope_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """``POST envelopes/{id}/signers``."""
        body = resource("signers", attributes)
        doing = f"adding signer {attributes.get('name')!r}"
        return _data(await self._send("POST", f"envelopes/{envelope_id}/signers", doing, body))

    async def add_requirement(
        self, envelope_id: str, attributes: dict[str, Any], document_id: str, signer_id: str
    ) -> dict[str, Any]:
        """``POST envelopes/{id}/requirements`` linking a signer to the document."""
        body = resource(
            "requirements",
            attributes,
            relationships={
                "document": relation("documents", document_id),
                "signer": relation("signers", signer_id),
            },
        )
        doing = f"adding the {attributes.get('action')} requirement"
        answer = await self._send("POST", f"envelopes/{envelope_id}/requirements", doing, body)
        return _data(answer)

    async def set_status(self, envelope_id: str, status: str, doing: str) -> dict[str, Any]:
        """``PATCH envelopes/{id}`` with a new status (``running`` activates it,
        ``canceled`` cancels it)."""
        body = resource("envelopes", {"status": status}, id=envelope_id)
        return _data(await self._send("PATCH", f"envelopes/{envelope_id}", doing, body))

    async def notify(self, envelope_id: str, message: str | None = None) -> None:
        """``POST envelopes/{id}/notifications``: notify the signers whose turn it is."""
        attributes = {"message": message} if message else {}
        body = resource("notifications", attributes)
        await self._send(
            "POST", f"envelopes/{envelope_id}/notifications", "notifying the signers", body
        )

    async def notify_signer(
        self, envelope_id: str, signer_id: str, message: str | None = None
    ) -> None:
        """``POST envelopes/{id}/signers/{signer_id}/notifications``."""
        attributes = {"message": message} if message else {}
        body = resource("notifications", attributes)
        path = f"envelopes/{envelope_id}/signers/{signer_id}/notifications"
        await self._send("POST", path, f"notifying signer {signer_id}", body)

    async def get_envelope(self, envelope_id: str) -> dict[str, Any]:
        """``GET envelopes/{id}``."""
        answer = await self._send("GET", f"envelopes/{envelope_id}", "reading the envelope")
        return _data(answer)

    async def list_signers(self, envelope_id: str) -> list[dict[str, Any]]:
        """``GET envelopes/{id}/signers``."""
        answer = await self._send("GET", f"envelopes/{envelope_id}/signers", "listing signers")
        return _items(answer)

    async def list_events(self, envelope_id: str) -> list[dict[str, Any]]:
        """``GET envelopes/{id}/events``: what happened to the envelope, oldest first."""
        answer = await self._send("GET", f"envelopes/{envelope_id}/events", "listing events")
        return _items(answer)

    async def get_document(self, envelope_id: str, document_id: str) -> dict[str, Any]:
        """``GET envelopes/{id}/documents/{document_id}`` (with its download links)."""
        path = f"envelopes/{envelope_id}/documents/{document_id}"
        return _data(await self._send("GET", path, "reading the document"))

    async def download(self, url: str) -> bytes:
        """Fetch a download link (a short-lived storage URL, not the API: no token sent)."""
        response = await self._http.get(url)
        raise_for_status(response, "downloading the signed document")
        return response.content


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    data = answer.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise StepError("ClickSign answered without a resource id", code="clicksign_bad_answer")
    return data


def _items(answer: dict[str, Any]) -> list[dict[str, Any]]:
    data = answer.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def attributes_of(item: dict[str, Any]) -> dict[str, Any]:
    """A resource's ``attributes`` (empty when absent)."""
    attributes = item.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def signed_file_url(document: dict[str, Any]) -> str | None:
    """The document's signed-file download link, once ClickSign has produced it."""
    links = document.get("links")
    files = links.get("files") if isinstance(links, dict) else None
    url = files.get("signed") if isinstance(files, dict) else None
    return url if isinstance(url, str) and url else None
