"""A stateful fake of the ZapSign REST API (v1), usable as an ``httpx`` transport.

It answers like the documented API at ``https://api.zapsign.com.br/api/v1/`` and the sandbox
``https://sandbox.api.zapsign.com.br/api/v1/`` (each environment has its own token), and
serves the signed files from a storage host, as ZapSign's temporary file links do.

Endpoints (``Authorization: Bearer <api token>`` required; missing or wrong → 403
``{"detail": ...}``, as the static-token page documents):

- ``POST /api/v1/docs/`` — create from ``base64_pdf`` (or ``url_pdf``) with ``signers``;
  400 with per-field messages (``{"signers": ["..."]}``) for a missing name, no file, a body
  that is not a PDF, no signers, a signer without name or with an unknown ``auth_mode``.
- ``GET /api/v1/docs/{token}/`` — the document detail; 404 ``{"detail": "Not found."}``.
- ``DELETE /api/v1/docs/{token}/`` — soft delete (``deleted: true``), answers the document.
- ``POST /api/v1/refuse/`` — ``{doc_token, rejected_reason}`` cancels a pending document:
  ``{"message": ...}``; 400 ``missing_doc_token`` / ``missing_rejected_reason``, 403
  ``document_already_signed`` / ``document_already_refused``, 404 ``document_not_found``
  (documented codes; the body shape ``{"error": code, "message": ...}`` is assumed).
- ``POST /api/v1/signers/{token}/`` — update a signer who has not signed; with
  ``send_automatic_email`` / ``send_automatic_whatsapp`` true it records a reminder.
- ``GET https://files.zapsign.test/signed/{token}.pdf`` — the signed PDF, without auth.

Test controls:

- ``fake = FakeZapSign(api_token=..., sandbox_token=..., webhook_secret=...)``;
  ``fake.transport`` is an ``httpx.MockTransport``; ``fake.requests`` records every
  ``Call(method, url, headers, json)`` received.
- ``fake.sign(doc_token, signer=0)`` (index or signer token) signs for a signer; when all have
  signed the document becomes ``signed`` with a ``signed_file`` link (``ready=False`` leaves
  the link null, as right after the last signature). ``fake.refuse(doc_token, reason)``,
  ``fake.expire(doc_token)`` and ``fake.delete(doc_token)`` end it otherwise.
- ``fake.fail_next(status, body=None, headers=None, times=1, path=None)`` answers the next
  requests (to ``path`` if given) with an error, e.g. 429 with ``Retry-After`` or 503.
- ``fake.webhook_request(doc_token, event_type, secret=None)`` builds the
  :class:`~docg_core.callbacks.InboundRequest` ZapSign would deliver for an event: the
  document detail plus ``event_type`` (and ``signer_who_signed`` for ``doc_signed``), with the
  configured header ``Authorization: Bearer <secret>`` (the fake's ``webhook_secret`` unless
  ``secret`` is given; ``secret=""`` sends no header).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from docg_core.callbacks import InboundRequest

__all__ = ["SIGNED_PDF", "Call", "FakeZapSign"]

HOSTS = {"api.zapsign.com.br": "production", "sandbox.api.zapsign.com.br": "sandbox"}
FILES_HOST = "files.zapsign.test"
SIGNED_PDF = b"%PDF-1.7\n% signed by every signer\n%%EOF\n"
AUTH_MODES = {
    "assinaturaTela",
    "tokenEmail",
    "assinaturaTela-tokenEmail",
    "tokenSms",
    "assinaturaTela-tokenSms",
    "tokenWhatsapp",
    "assinaturaTela-tokenWhatsapp",
}


@dataclass
class Call:
    """One request the fake received."""

    method: str
    url: str
    headers: dict[str, str]
    json: Any = None

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    path: str | None


@dataclass
class FakeZapSign:
    """The fake API; see the module docstring."""

    api_token: str = "zs-prod-token-0123456789"
    sandbox_token: str = "zs-sandbox-token-9876543210"
    webhook_secret: str = "whsec-zapsign-test-secret"
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Call] = field(default_factory=list)
    reminders: list[tuple[str, str]] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _counter: int = 0

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- test controls --------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        times: int = 1,
        path: str | None = None,
    ) -> None:
        default = {"detail": f"fake failure {status}"}
        self._failures.append(
            _Failure(status, default if body is None else body, dict(headers or {}), times, path)
        )

    def sign(self, doc_token: str, signer: int | str = 0, *, ready: bool = True) -> None:
        doc = self.documents[doc_token]
        found = (
            doc["signers"][signer]
            if isinstance(signer, int)
            else next(s for s in doc["signers"] if s["token"] == signer)
        )
        found["status"] = "signed"
        found["signed_at"] = _now()
        doc["last_signer"] = found["token"]
        if all(s["status"] == "signed" for s in doc["signers"]):
            doc["status"] = "signed"
            doc["signed_file"] = f"https://{FILES_HOST}/signed/{doc_token}.pdf" if ready else None
        self._touch(doc)

    def make_signed_file_ready(self, doc_token: str) -> None:
        self.documents[doc_token]["signed_file"] = f"https://{FILES_HOST}/signed/{doc_token}.pdf"

    def refuse(self, doc_token: str, reason: str = "Não concordo com os termos") -> None:
        doc = self.documents[doc_token]
        doc["status"] = "refused"
        doc["rejected_reason"] = reason
        self._touch(doc)

    def expire(self, doc_token: str) -> None:
        doc = self.documents[doc_token]
        doc["status"] = "expired"
        self._touch(doc)

    def delete(self, doc_token: str) -> None:
        doc = self.documents[doc_token]
        doc["deleted"] = True
        doc["deleted_at"] = _now()
        self._touch(doc)

    def only_document(self) -> dict[str, Any]:
        assert len(self.documents) == 1, f"{len(self.documents)} documents were created"
        return next(iter(self.documents.values()))

    def calls(self, method: str, path_start: str) -> list[Call]:
        return [c for c in self.requests if c.method == method and c.path.startswith(path_start)]

    def webhook_request(
        self, doc_token: str, event_type: str, *, secret: str | None = None
    ) -> InboundRequest:
        doc = self.documents[doc_token]
        body: dict[str, Any] = {"event_type": event_type, **self._public(doc)}
        if event_type == "doc_refused":
            body["status"] = "recusado"  # as the documented doc_refused example shows
        if event_type == "doc_signed" and doc.get("last_signer"):
            signer = next(s for s in doc["signers"] if s["token"] == doc["last_signer"])
            body["signer_who_signed"] = copy.deepcopy(signer)
        raw = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        secret = self.webhook_secret if secret is None else secret
        if secret:
            headers["authorization"] = f"Bearer {secret}"
        return InboundRequest(
            method="POST",
            url="https://docg.example/api/v1/signatures/zapsign/webhook",
            headers=headers,
            body=raw,
        )

    # -- the HTTP side --------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            payload = json.loads(request.content) if request.content else None
        except ValueError:
            payload = None
        self.requests.append(Call(request.method, str(request.url), dict(request.headers), payload))
        for failure in self._failures:
            if failure.times > 0 and (failure.path is None or failure.path == request.url.path):
                failure.times -= 1
                return httpx.Response(failure.status, json=failure.body, headers=failure.headers)
        host = request.url.host
        if host == FILES_HOST:
            return self._file(request)
        environment = HOSTS.get(host)
        if environment is None:
            return httpx.Response(404, text="unknown host")
        token = self.api_token if environment == "production" else self.sandbox_token
        if request.headers.get("authorization") != f"Bearer {token}":
            return httpx.Response(
                403, json={"detail": "As credenciais de autenticação não foram fornecidas."}
            )
        return self._route(request.method, request.url.path, payload)

    def _route(self, method: str, path: str, payload: Any) -> httpx.Response:
        parts = [p for p in path.split("/") if p]
        if parts[:2] != ["api", "v1"] or not path.endswith("/"):
            return httpx.Response(404, json={"detail": "Not found."})
        rest = parts[2:]
        if rest == ["docs"] and method == "POST":
            return self._create(payload)
        if len(rest) == 2 and rest[0] == "docs":
            doc = self.documents.get(rest[1])
            if doc is None:
                return httpx.Response(404, json={"detail": "Not found."})
            if method == "GET":
                return httpx.Response(200, json=self._public(doc))
            if method == "DELETE":
                self.delete(rest[1])
                return httpx.Response(200, json=self._public(doc))
        if rest == ["refuse"] and method == "POST":
            return self._refuse(payload)
        if len(rest) == 2 and rest[0] == "signers" and method == "POST":
            return self._update_signer(rest[1], payload)
        return httpx.Response(404, json={"detail": "Not found."})

    def _create(self, body: Any) -> httpx.Response:
        if not isinstance(body, dict):
            return httpx.Response(400, json={"detail": "JSON parse error"})
        errors: dict[str, list[str]] = {}
        if not isinstance(body.get("name"), str) or not body["name"]:
            errors["name"] = ["Este campo é obrigatório."]
        if "base64_pdf" in body:
            try:
                pdf = base64.b64decode(body["base64_pdf"], validate=True)
            except (binascii.Error, TypeError):
                pdf = b""
            if not pdf.startswith(b"%PDF-"):
                errors["base64_pdf"] = ["O arquivo enviado não é um PDF válido."]
        elif "url_pdf" not in body:
            errors["url_pdf"] = ["Envie url_pdf ou base64_pdf."]
        signers = body.get("signers")
        if not isinstance(signers, list) or not signers:
            errors["signers"] = ["Adicione ao menos um signatário."]
        else:
            for i, s in enumerate(signers):
                if not isinstance(s, dict) or not s.get("name"):
                    errors.setdefault("signers", []).append(f"signers[{i}].name é obrigatório.")
                elif s.get("auth_mode", "assinaturaTela") not in AUTH_MODES:
                    errors.setdefault("signers", []).append(f"signers[{i}].auth_mode inválido.")
        if errors:
            return httpx.Response(400, json=errors)
        self._counter += 1
        token = str(uuid.uuid4())
        doc = {
            "sandbox": False,
            "external_id": body.get("external_id", ""),
            "open_id": self._counter,
            "token": token,
            "name": body["name"],
            "folder_path": "/",
            "status": "pending",
            "rejected_reason": None,
            "lang": body.get("lang", "pt-br"),
            "original_file": f"https://{FILES_HOST}/original/{token}.pdf",
            "signed_file": None,
            "extra_docs": [],
            "created_through": "api",
            "deleted": False,
            "deleted_at": None,
            "signature_order_active": bool(body.get("signature_order_active")),
            "created_at": _now(),
            "last_update_at": _now(),
            "signers": [self._signer(s) for s in signers],
            "request": copy.deepcopy(body),
        }
        self.documents[token] = doc
        return httpx.Response(200, json=self._public(doc))

    def _signer(self, spec: dict[str, Any]) -> dict[str, Any]:
        token = str(uuid.uuid4())
        return {
            "external_id": "",
            "sign_url": f"https://app.zapsign.com.br/verificar/{token}",
            "token": token,
            "status": "new",
            "name": spec["name"],
            "email": spec.get("email", ""),
            "phone_country": spec.get("phone_country", ""),
            "phone_number": spec.get("phone_number", ""),
            "times_viewed": 0,
            "last_view_at": None,
            "signed_at": None,
            "auth_mode": spec.get("auth_mode", "assinaturaTela"),
            "order_group": spec.get("order_group"),
        }

    def _refuse(self, body: Any) -> httpx.Response:
        if not isinstance(body, dict):
            return _error(400, "invalid_json", "The JSON sent is invalid")
        if not body.get("doc_token"):
            return _error(400, "missing_doc_token", "You must send the doc_token (string)")
        if not body.get("rejected_reason"):
            return _error(
                400, "missing_rejected_reason", "You must send the rejected_reason (string)"
            )
        doc = self.documents.get(body["doc_token"])
        if doc is None:
            return _error(404, "document_not_found", "Document not found")
        if doc["status"] == "signed":
            return _error(403, "document_already_signed", "A signed document cannot be canceled")
        if doc["status"] == "refused":
            return _error(
                403,
                "document_already_refused",
                "A document that has already been canceled/rejected cannot be canceled again",
            )
        self.refuse(doc["token"], body["rejected_reason"])
        return httpx.Response(
            200,
            json={
                "message": "Document successfully refused. Please note: this endpoint is "
                "asynchronous, so wait for the final PDFs to be ready via webhooks or check "
                "them in a few minutes."
            },
        )

    def _update_signer(self, signer_token: str, body: Any) -> httpx.Response:
        for doc in self.documents.values():
            for signer in doc["signers"]:
                if signer["token"] != signer_token:
                    continue
                if signer["status"] == "signed":
                    return httpx.Response(400, json={"detail": "O signatário já assinou."})
                for channel in ("email", "whatsapp"):
                    if isinstance(body, dict) and body.get(f"send_automatic_{channel}") is True:
                        self.reminders.append((signer_token, channel))
                return httpx.Response(200, json=copy.deepcopy(signer))
        return httpx.Response(404, json={"detail": "Not found."})

    def _file(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1].removesuffix(".pdf")
        doc = self.documents.get(name)
        if doc is None or not doc.get("signed_file") or "/signed/" not in request.url.path:
            return httpx.Response(404, text="NoSuchKey")
        return httpx.Response(200, content=SIGNED_PDF, headers={"content-type": "application/pdf"})

    def _touch(self, doc: dict[str, Any]) -> None:
        doc["last_update_at"] = _now()

    @staticmethod
    def _public(doc: Mapping[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in doc.items() if k not in ("request", "last_signer")}


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "message": message})


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
