"""A stateful fake of ClickSign's envelope API (v3, JSON:API) for ``httpx.MockTransport``.

It answers like the documented API: ``Authorization: <access token>`` (401 otherwise),
``application/vnd.api+json`` bodies (415 for another content type on writes), JSON:API
resources and error objects (``{"errors": [{"code", "status", "title", "detail",
"source": {"pointer"}}]}``), 404 for unknown ids, 409 for a resource ``type`` that does not
match the collection, 422 for validation and state errors, and rate-limit headers.

Usage::

    fake = FakeClickSign()                      # token "cs-test-token", sandbox host
    transport = fake.transport()                # httpx.MockTransport(fake)

Endpoints (under ``https://sandbox.clicksign.com/api/v3/``, or ``app.clicksign.com``):

- ``POST envelopes``, ``GET envelopes``, ``GET envelopes/{id}``, ``PATCH envelopes/{id}``
  (``status: running`` activates — needs a document, a signer and, per signer, an ``agree``
  and a ``provide_evidence`` requirement; ``status: canceled`` cancels);
- ``POST envelopes/{id}/documents`` (``filename``, ``content_base64`` as a data URI),
  ``GET envelopes/{id}/documents/{doc}`` (``links.files.original/signed/ziped``);
- ``POST``/``GET envelopes/{id}/signers``; ``POST envelopes/{id}/requirements`` (with
  ``relationships.document`` and ``relationships.signer``);
- ``POST envelopes/{id}/notifications``, ``POST envelopes/{id}/signers/{sid}/notifications``;
- ``GET envelopes/{id}/events`` (``sign``, ``refusal``, ``auto_close``, ``deadline``,
  ``cancel`` events, oldest first);
- ``GET https://clicksign-content-sandbox.s3.amazonaws.com/...`` — the download links.

Test controls:

- ``fake.requests`` — every request received (``httpx.Request``, body readable);
  ``fake.calls(method, path_suffix)`` — ``(method, path, headers, json)`` tuples of API calls;
- ``fake.envelopes[id]`` — the state (``status``, ``documents``, ``signers``,
  ``requirements``, ``notifications``, ``events``);
- ``fake.fail_next(status, body=None, headers=None, times=1)`` — answer the next requests with
  an error (``429`` gets ``Retry-After`` and ``X-Rate-Limit-Reset``; 5xx a JSON:API error);
- ``fake.fail_on(method, path_suffix, status, nth=1)`` — fail only the nth matching request;
- ``fake.add_envelope(status="running", signers=[{"name", "email"}])`` — seed an envelope;
- ``fake.sign(envelope_id, who)``, ``fake.refuse(envelope_id, who)`` — ``who`` is a signer id
  or e-mail; when every signer signed the envelope closes (``auto_close``) and its signed PDF
  is produced (``fake.signed_file_ready = False`` delays the signed link);
- ``fake.expire(envelope_id)`` (deadline: closed with some signatures, else canceled),
  ``fake.cancel(envelope_id)`` (cancelled by the sender);
- ``fake.webhook(envelope_id, event, who=None)`` → ``(body, headers)`` signed with
  ``Content-Hmac: sha256=<hex>``; ``fake.webhook_request(...)`` → an ``InboundRequest``.
  Webhook bodies are ``{"event": {"name", "data", "occurred_at"}, "document": {...},
  "envelope": {"key", "status"}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from docg_core.callbacks import InboundRequest

JSON_API = "application/vnd.api+json"
API_HOSTS = ("sandbox.clicksign.com", "app.clicksign.com")
FILES_HOST = "clicksign-content-sandbox.s3.amazonaws.com"
SIGNATURE_MARK = b"\n%% signed by ClickSign (fake)\n"

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^/api/v3/{p}$"), name)
    for m, p, name in [
        ("GET", r"envelopes", "list_envelopes"),
        ("POST", r"envelopes", "create_envelope"),
        ("GET", r"envelopes/(?P<env>[^/]+)", "get_envelope"),
        ("PATCH", r"envelopes/(?P<env>[^/]+)", "patch_envelope"),
        ("POST", r"envelopes/(?P<env>[^/]+)/documents", "create_document"),
        ("GET", r"envelopes/(?P<env>[^/]+)/documents/(?P<doc>[^/]+)", "get_document"),
        ("POST", r"envelopes/(?P<env>[^/]+)/signers", "create_signer"),
        ("GET", r"envelopes/(?P<env>[^/]+)/signers", "list_signers"),
        ("POST", r"envelopes/(?P<env>[^/]+)/requirements", "create_requirement"),
        ("POST", r"envelopes/(?P<env>[^/]+)/notifications", "notify"),
        (
            "POST",
            r"envelopes/(?P<env>[^/]+)/signers/(?P<signer>[^/]+)/notifications",
            "notify_signer",
        ),
        ("GET", r"envelopes/(?P<env>[^/]+)/events", "list_events"),
    ]
]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Problem(Exception):
    def __init__(self, status: int, detail: str, pointer: str | None = None) -> None:
        self.status, self.detail, self.pointer = status, detail, pointer


@dataclass
class FakeDocument:
    id: str
    filename: str
    content: bytes
    signed: bytes | None = None


@dataclass
class FakeEnvelope:
    id: str
    attributes: dict[str, Any]
    documents: dict[str, FakeDocument] = field(default_factory=dict)
    signers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requirements: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    signed: set[str] = field(default_factory=set)

    @property
    def status(self) -> str:
        return str(self.attributes["status"])

    @status.setter
    def status(self, value: str) -> None:
        self.attributes["status"] = value
        self.attributes["modified"] = _now()


class FakeClickSign:
    """The fake ClickSign account; call it with an ``httpx.Request`` (see the module doc)."""

    def __init__(
        self,
        token: str = "cs-test-token",
        webhook_secret: str = "cs-webhook-secret",
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.envelopes: dict[str, FakeEnvelope] = {}
        self.requests: list[httpx.Request] = []
        self.signed_file_ready = True
        self._failures: list[tuple[int, Any, dict[str, str]]] = []
        self._targeted: list[list[Any]] = []

    # -- test controls ----------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """This fake as an httpx transport."""
        return httpx.MockTransport(self)

    def fail_next(
        self,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests with ``status``."""
        extra = dict(headers or {})
        if status == 429:
            extra.setdefault("Retry-After", "7")
            extra.setdefault("X-Rate-Limit-Reset", str(int(time.time()) + 7))
        if body is None:
            body = _errors(status, f"simulated HTTP {status}")
        self._failures.extend([(status, body, extra)] * times)

    def fail_on(self, method: str, path_suffix: str, status: int, *, nth: int = 1) -> None:
        """Answer the ``nth`` next ``method`` request whose path ends with ``path_suffix``
        with ``status`` (as :meth:`fail_next` would)."""
        self._targeted.append([method, path_suffix, status, nth])

    def calls(
        self, method: str | None = None, path_suffix: str = ""
    ) -> list[tuple[str, str, httpx.Headers, Any]]:
        """The API calls received: ``(method, path, headers, parsed body or None)``."""
        found = []
        for r in self.requests:
            if r.url.host not in API_HOSTS:
                continue
            if method is not None and r.method != method:
                continue
            if not r.url.path.endswith(path_suffix):
                continue
            found.append((r.method, r.url.path, r.headers, json.loads(r.content or b"null")))
        return found

    def add_envelope(
        self, *, status: str = "running", signers: list[dict[str, Any]] | None = None
    ) -> FakeEnvelope:
        """An envelope made directly (no requests), with a one-page document and signers."""
        envelope = self._new_envelope({"name": "Seeded envelope", "status": status})
        doc = FakeDocument(str(uuid.uuid4()), "seeded.pdf", b"%PDF-1.4\n%seed\n")
        envelope.documents[doc.id] = doc
        for attrs in signers or [{"name": "Ana Souza", "email": "ana@example.com"}]:
            envelope.signers[str(uuid.uuid4())] = dict(attrs)
        return envelope

    def signer_id(self, envelope_id: str, who: str) -> str:
        """A signer's id from its id or e-mail."""
        envelope = self.envelopes[envelope_id]
        for sid, attrs in envelope.signers.items():
            if who in (sid, attrs.get("email")):
                return sid
        raise KeyError(f"no signer {who!r} in envelope {envelope_id}")

    def sign(self, envelope_id: str, who: str) -> None:
        """The signer signs; the last signature closes the envelope and makes the signed PDF."""
        envelope = self.envelopes[envelope_id]
        sid = self.signer_id(envelope_id, who)
        assert envelope.status == "running", f"envelope is {envelope.status}, cannot sign"
        envelope.signed.add(sid)
        self._event(envelope, "sign", sid)
        if envelope.signed == set(envelope.signers) and envelope.attributes.get("auto_close"):
            self._close(envelope, "auto_close")

    def refuse(self, envelope_id: str, who: str) -> None:
        """The signer refuses to sign."""
        envelope = self.envelopes[envelope_id]
        assert envelope.status == "running", f"envelope is {envelope.status}, cannot refuse"
        self._event(envelope, "refusal", self.signer_id(envelope_id, who))

    def expire(self, envelope_id: str) -> None:
        """The deadline passes: closed if someone signed, otherwise canceled."""
        envelope = self.envelopes[envelope_id]
        self._event(envelope, "deadline")
        if envelope.signed:
            self._close(envelope, "close")
        else:
            envelope.status = "canceled"

    def cancel(self, envelope_id: str) -> None:
        """The sender cancels the envelope in ClickSign."""
        envelope = self.envelopes[envelope_id]
        envelope.status = "canceled"
        self._event(envelope, "cancel")

    def webhook(
        self, envelope_id: str, event: str, who: str | None = None, *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery for an envelope event: the raw body and its headers."""
        envelope = self.envelopes[envelope_id]
        data: dict[str, Any] = {"account": {"key": "fake-account"}}
        if who is not None:
            sid = self.signer_id(envelope_id, who)
            data["signer"] = {"key": sid, **_signer_public(envelope.signers[sid])}
        document = next(iter(envelope.documents.values()), None)
        body = {
            "event": {"name": event, "data": data, "occurred_at": _now()},
            "document": {
                "key": document.id if document else None,
                "filename": document.filename if document else None,
                "status": envelope.status,
            },
            "envelope": {"key": envelope.id, "status": envelope.status},
        }
        raw = json.dumps(body).encode()
        key = (secret if secret is not None else self.webhook_secret).encode()
        digest = hmac.new(key, raw, hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "event": event,
            "content-hmac": f"sha256={digest}",
        }
        return raw, headers

    def webhook_request(
        self, envelope_id: str, event: str, who: str | None = None, *, secret: str | None = None
    ) -> InboundRequest:
        """:meth:`webhook` as the ``InboundRequest`` a server hands the app."""
        body, headers = self.webhook(envelope_id, event, who, secret=secret)
        url = "https://docg.example/api/v1/signatures/clicksign/webhook"
        return InboundRequest("POST", url, headers, body)

    # -- HTTP -------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        for target in list(self._targeted):
            method, suffix, status, _ = target
            if request.method == method and request.url.path.endswith(suffix):
                target[3] -= 1
                if target[3] == 0:
                    self._targeted.remove(target)
                    self.fail_next(status)
        if self._failures:
            status, body, headers = self._failures.pop(0)
            return _response(status, body, headers)
        if request.url.host == FILES_HOST:
            return self._download(request)
        if request.url.host not in API_HOSTS:
            return _response(404, _errors(404, f"unknown host {request.url.host}"))
        if request.headers.get("Authorization") != self.token:
            return _response(401, _errors(401, "Access Token inválido"))
        for method, pattern, name in _ROUTES:
            match = pattern.match(request.url.path)
            if match and method == request.method:
                try:
                    body = None
                    if request.method in ("POST", "PATCH"):
                        body = self._body(request)
                    status, answer = getattr(self, f"_{name}")(body, **match.groupdict())
                except _Problem as exc:
                    return _response(exc.status, _errors(exc.status, exc.detail, exc.pointer))
                return _response(status, answer)
        return _response(404, _errors(404, f"no route {request.method} {request.url.path}"))

    def _body(self, request: httpx.Request) -> dict[str, Any]:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != JSON_API:
            raise _Problem(415, f"Content-Type deve ser {JSON_API}")
        try:
            body = json.loads(request.content)
        except ValueError:
            raise _Problem(400, "JSON inválido") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise _Problem(400, "data deve ser informado(a)", "/data")
        return body

    def _envelope(self, env: str) -> FakeEnvelope:
        if env not in self.envelopes:
            raise _Problem(404, f"Envelope {env} não encontrado")
        return self.envelopes[env]

    def _new_envelope(self, attributes: dict[str, Any]) -> FakeEnvelope:
        envelope = FakeEnvelope(
            str(uuid.uuid4()),
            {
                "name": attributes.get("name"),
                "status": attributes.get("status", "draft"),
                "locale": attributes.get("locale", "pt-BR"),
                "auto_close": attributes.get("auto_close", True),
                "block_after_refusal": attributes.get("block_after_refusal", True),
                "deadline_at": attributes.get("deadline_at"),
                "created": _now(),
                "modified": _now(),
            },
        )
        self.envelopes[envelope.id] = envelope
        return envelope

    # -- handlers: (body, **path params) -> (status, JSON answer) ----------------------------

    def _list_envelopes(self, body: None) -> tuple[int, Any]:
        data = [_envelope_resource(e) for e in self.envelopes.values()]
        return 200, {"data": data, "meta": {"record_count": len(data)}}

    def _create_envelope(self, body: dict[str, Any]) -> tuple[int, Any]:
        attrs = _attributes(body, "envelopes")
        if not str(attrs.get("name") or "").strip():
            raise _Problem(422, "name deve ser informado(a)", "/data/attributes/name")
        attrs = {**attrs, "status": "draft"}
        return 201, {"data": _envelope_resource(self._new_envelope(attrs))}

    def _get_envelope(self, body: None, env: str) -> tuple[int, Any]:
        return 200, {"data": _envelope_resource(self._envelope(env))}

    def _patch_envelope(self, body: dict[str, Any], env: str) -> tuple[int, Any]:
        envelope = self._envelope(env)
        attrs = _attributes(body, "envelopes")
        status = attrs.get("status")
        if status == "running":
            if envelope.status != "draft":
                raise _Problem(422, f"Envelope está {envelope.status}", "/data/attributes/status")
            self._check_activation(envelope)
            envelope.status = "running"
        elif status == "canceled":
            if envelope.status not in ("draft", "running"):
                raise _Problem(
                    422,
                    f"Envelope {envelope.status} não pode ser cancelado",
                    "/data/attributes/status",
                )
            envelope.status = "canceled"
            self._event(envelope, "cancel")
        elif status is not None:
            raise _Problem(422, f"status {status!r} inválido", "/data/attributes/status")
        return 200, {"data": _envelope_resource(envelope)}

    def _check_activation(self, envelope: FakeEnvelope) -> None:
        if not envelope.documents:
            raise _Problem(422, "Envelope deve possuir ao menos um documento")
        if not envelope.signers:
            raise _Problem(422, "Envelope deve possuir ao menos um signatário")
        for sid, attrs in envelope.signers.items():
            actions = {
                r["attributes"]["action"] for r in envelope.requirements if r["signer"] == sid
            }
            if not {"agree", "provide_evidence"} <= actions:
                raise _Problem(
                    422,
                    f"Signatário {attrs.get('name')} deve possuir requisitos de qualificação e "
                    "autenticação",
                )

    def _require_draft(self, envelope: FakeEnvelope) -> None:
        if envelope.status != "draft":
            raise _Problem(422, f"Envelope está {envelope.status} e não pode ser alterado")

    def _create_document(self, body: dict[str, Any], env: str) -> tuple[int, Any]:
        envelope = self._envelope(env)
        attrs = _attributes(body, "documents")
        self._require_draft(envelope)
        filename = str(attrs.get("filename") or "")
        if not filename:
            raise _Problem(422, "filename deve ser informado(a)", "/data/attributes/filename")
        match = re.fullmatch(r"data:([\w/.+-]+);base64,(.+)", str(attrs.get("content_base64")))
        if match is None:
            raise _Problem(
                422, "content_base64 deve ser um data URI", "/data/attributes/content_base64"
            )
        document = FakeDocument(str(uuid.uuid4()), filename, base64.b64decode(match.group(2)))
        envelope.documents[document.id] = document
        return 201, {"data": _document_resource(envelope, document, self.signed_file_ready)}

    def _get_document(self, body: None, env: str, doc: str) -> tuple[int, Any]:
        envelope = self._envelope(env)
        if doc not in envelope.documents:
            raise _Problem(404, f"Documento {doc} não encontrado")
        document = envelope.documents[doc]
        return 200, {"data": _document_resource(envelope, document, self.signed_file_ready)}

    def _create_signer(self, body: dict[str, Any], env: str) -> tuple[int, Any]:
        envelope = self._envelope(env)
        attrs = _attributes(body, "signers")
        if envelope.status not in ("draft", "running"):
            raise _Problem(422, f"Envelope está {envelope.status} e não aceita signatários")
        name = str(attrs.get("name") or "")
        if len(name.split()) < 2 or any(c.isdigit() for c in name):
            raise _Problem(422, "name deve conter nome e sobrenome", "/data/attributes/name")
        email = attrs.get("email")
        if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(email)):
            raise _Problem(422, "email não é válido", "/data/attributes/email")
        phone = attrs.get("phone_number")
        if phone is not None and not re.fullmatch(r"\d{10,11}", str(phone)):
            raise _Problem(422, "phone_number não é válido", "/data/attributes/phone_number")
        sid = str(uuid.uuid4())
        envelope.signers[sid] = dict(attrs)
        return 201, {"data": _signer_resource(envelope, sid)}

    def _list_signers(self, body: None, env: str) -> tuple[int, Any]:
        envelope = self._envelope(env)
        return 200, {"data": [_signer_resource(envelope, sid) for sid in envelope.signers]}

    def _create_requirement(self, body: dict[str, Any], env: str) -> tuple[int, Any]:
        envelope = self._envelope(env)
        attrs = _attributes(body, "requirements")
        self._require_draft(envelope)
        relationships = body["data"].get("relationships") or {}
        doc = ((relationships.get("document") or {}).get("data") or {}).get("id")
        sid = ((relationships.get("signer") or {}).get("data") or {}).get("id")
        if doc not in envelope.documents:
            raise _Problem(422, "documento não encontrado", "/data/relationships/document")
        if sid not in envelope.signers:
            raise _Problem(422, "signatário não encontrado", "/data/relationships/signer")
        action = attrs.get("action")
        if action == "agree" and not attrs.get("role"):
            raise _Problem(422, "role deve ser informado(a)", "/data/attributes/role")
        elif action == "provide_evidence" and attrs.get("auth") not in (
            "email",
            "sms",
            "whatsapp",
            "pix",
            "icp_brasil",
        ):
            raise _Problem(422, "auth não é válido", "/data/attributes/auth")
        elif action not in ("agree", "provide_evidence"):
            raise _Problem(422, "action não é válida", "/data/attributes/action")
        requirement = {"id": str(uuid.uuid4()), "attributes": attrs, "document": doc, "signer": sid}
        envelope.requirements.append(requirement)
        answer = {
            "id": requirement["id"],
            "type": "requirements",
            "attributes": attrs,
            "relationships": {
                "document": {"data": {"type": "documents", "id": doc}},
                "signer": {"data": {"type": "signers", "id": sid}},
            },
        }
        return 201, {"data": answer}

    def _notify(self, body: dict[str, Any], env: str, signer: str | None = None) -> tuple[int, Any]:
        envelope = self._envelope(env)
        attrs = _attributes(body, "notifications")
        if envelope.status != "running":
            raise _Problem(422, f"Envelope está {envelope.status}; notificações não enviadas")
        if signer is not None and signer not in envelope.signers:
            raise _Problem(404, f"Signatário {signer} não encontrado")
        entry = {"id": str(uuid.uuid4()), "signer": signer, "message": attrs.get("message")}
        envelope.notifications.append(entry)
        answer = {"id": entry["id"], "type": "notifications", "attributes": dict(attrs)}
        return 201, {"data": answer}

    def _notify_signer(self, body: dict[str, Any], env: str, signer: str) -> tuple[int, Any]:
        return self._notify(body, env, signer)

    def _list_events(self, body: None, env: str) -> tuple[int, Any]:
        return 200, {"data": list(self._envelope(env).events)}

    def _download(self, request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(
            r"/(?P<env>[^/]+)/(?P<doc>[^/]+)/(?P<kind>original|signed)\.pdf", request.url.path
        )
        if match is None or match["env"] not in self.envelopes:
            return httpx.Response(404, text="NoSuchKey")
        document = self.envelopes[match["env"]].documents.get(match["doc"])
        if document is None:
            return httpx.Response(404, text="NoSuchKey")
        content = document.content if match["kind"] == "original" else document.signed
        if content is None:
            return httpx.Response(404, text="NoSuchKey")
        return httpx.Response(200, content=content, headers={"Content-Type": "application/pdf"})

    # -- state changes ------------------------------------------------------------------------

    def _event(self, envelope: FakeEnvelope, name: str, sid: str | None = None) -> None:
        data: dict[str, Any] = {"account": {"key": "fake-account"}}
        if sid is not None:
            data["signer"] = {"key": sid, **_signer_public(envelope.signers[sid])}
        envelope.events.append(
            {
                "id": str(uuid.uuid4()),
                "type": "events",
                "attributes": {"name": name, "data": data, "created": _now()},
            }
        )

    def _close(self, envelope: FakeEnvelope, event: str) -> None:
        envelope.status = "closed"
        for document in envelope.documents.values():
            document.signed = document.content + SIGNATURE_MARK
        self._event(envelope, event)


def _attributes(body: dict[str, Any], kind: str) -> dict[str, Any]:
    data = body["data"]
    if data.get("type") != kind:
        # JSON:API: a type that does not match the collection is a conflict.
        raise _Problem(409, f"type deve ser {kind}", "/data/type")
    attrs = data.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise _Problem(400, "attributes deve ser um objeto", "/data/attributes")
    return attrs


def _signer_public(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"name": attrs.get("name"), "email": attrs.get("email")}


def _envelope_resource(envelope: FakeEnvelope) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "type": "envelopes",
        "links": {"self": f"https://sandbox.clicksign.com/api/v3/envelopes/{envelope.id}"},
        "attributes": dict(envelope.attributes),
    }


def _document_resource(
    envelope: FakeEnvelope, document: FakeDocument, ready: bool
) -> dict[str, Any]:
    base = f"https://{FILES_HOST}/{envelope.id}/{document.id}"
    expiry = "?X-Amz-Expires=300&X-Amz-Signature=fake"
    signed = f"{base}/signed.pdf{expiry}" if document.signed is not None and ready else None
    return {
        "id": document.id,
        "type": "documents",
        "links": {
            "self": f"https://sandbox.clicksign.com/api/v3/envelopes/{envelope.id}/documents/{document.id}",
            "files": {"original": f"{base}/original.pdf{expiry}", "signed": signed, "ziped": None},
        },
        "attributes": {"filename": document.filename, "status": envelope.status},
    }


def _signer_resource(envelope: FakeEnvelope, sid: str) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "signers",
        "links": {
            "self": f"https://sandbox.clicksign.com/api/v3/envelopes/{envelope.id}/signers/{sid}"
        },
        "attributes": dict(envelope.signers[sid]),
    }


def _errors(status: int, detail: str, pointer: str | None = None) -> dict[str, Any]:
    titles = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        409: "Conflict",
        415: "Unsupported Media Type",
        422: "Unprocessable Entity",
        429: "Too Many Requests",
    }
    error: dict[str, Any] = {
        "code": titles.get(status, "Internal Server Error").lower().replace(" ", "_"),
        "status": status,
        "title": titles.get(status, "Internal Server Error"),
        "detail": detail,
    }
    if pointer:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    merged = {
        "Content-Type": f"{JSON_API}; charset=utf-8",
        "X-Rate-Limit": "20",
        "X-Rate-Limit-Remaining": "19" if status != 429 else "0",
        **(headers or {}),
    }
    return httpx.Response(status, content=json.dumps(body).encode(), headers=merged)
