"""A stateful fake of the HubSpot API, usable as an httpx transport.

``FakeHubSpot`` answers like ``https://api.hubapi.com`` (status codes, JSON bodies, error
bodies ``{"status": "error", "message", "category", "correlationId"}``, rate-limit headers)
for the endpoints the HubSpot app uses::

    fake = FakeHubSpot()
    deal = fake.add_object("deals", {"dealname": "Acme", "amount": "1200"})
    contact = fake.add_object("contacts", {"email": "ana@acme.example"})
    fake.associate("deals", deal, "contacts", contact)
    transport = fake.transport()          # httpx.MockTransport(fake)

Endpoints: ``POST /oauth/v1/token`` (refresh_token grant); ``/crm/v3/objects/{type}``
(``POST`` create, ``GET /{id}`` with ``properties``, ``associations``, ``idProperty``,
``PATCH /{id}``, ``POST /batch/read``, ``POST /search`` with filterGroups, sorts, query,
``limit`` ≤ 200 and ``after`` paging); ``PUT /crm/v4/objects/{from}/{id}/associations
[/default]/{to}/{id}``; ``POST /files/v3/files`` (multipart) and ``GET /files/v3/files/{id}``;
``GET /crm/v3/pipelines/{type}[/{id}[/stages]]``; ``GET /crm/v3/owners`` (``limit``/``after``);
``GET /crm/v3/schemas``; ``GET /crm/v3/properties/{type}``; ``POST
/automation/v4/actions/callbacks/{callbackId}/complete``.

Behaviour a test can rely on:

- Auth: ``Authorization: Bearer <token>`` must name a token in ``fake.access_tokens``
  (``ACCESS_TOKEN`` and ``PRIVATE_APP_TOKEN`` at first); ``fake.expire(token)`` makes it answer
  401 ``EXPIRED_AUTHENTICATION``. The token endpoint accepts ``CLIENT_ID``/``CLIENT_SECRET``
  and refresh tokens in ``fake.refresh_tokens`` (``REFRESH_TOKEN``), issuing
  ``access-<n>`` tokens valid for 1800 s; anything else is 400 ``BAD_REFRESH_TOKEN``.
- Records keep ``createdate`` and ``hs_lastmodifieddate`` (``lastmodifieddate`` for contacts)
  in milliseconds from ``fake.now_ms`` (the real clock at creation; ``fake.tick(seconds)``
  moves it). Unknown properties answer 400 ``VALIDATION_ERROR``; a contact whose email is
  taken answers 409 ``CONFLICT``; unknown ids 404 ``OBJECT_NOT_FOUND``.
- ``fake.fail(method, path, status, body=None, headers=None, times=1)`` makes the next
  matching requests fail (``path`` may end with ``*``); ``fake.rate_limit(times)`` answers
  429 with ``Retry-After: 1`` to the next requests.
- Inspection: ``fake.requests`` (every ``httpx.Request``), ``fake.requests_to(method, path)``,
  ``fake.object(type, id)``, ``fake.associated(type, id, to_type)``, ``fake.notes_for(type,
  id)``, ``fake.file(id)`` (metadata and ``content`` bytes), ``fake.completed_callbacks``.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx

CLIENT_ID = "client-id-1"
CLIENT_SECRET = "client-secret-123456"
ACCESS_TOKEN = "access-token-123456"
REFRESH_TOKEN = "refresh-token-123456"
PRIVATE_APP_TOKEN = "pat-na1-123456"
PORTAL_ID = 62515

_TYPE_IDS = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tickets": "0-5",
    "products": "0-7",
    "line_items": "0-8",
    "quotes": "0-14",
    "notes": "0-46",
}
_SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "tickets": "ticket",
    "products": "product",
    "line_items": "line_item",
    "quotes": "quote",
    "notes": "note",
}
_PROPERTIES = {
    "contacts": ["email", "firstname", "lastname", "phone", "company", "hubspot_owner_id"],
    "companies": ["name", "domain", "city", "country", "hubspot_owner_id"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id"],
    "line_items": ["name", "quantity", "price", "amount", "hs_product_id"],
    "quotes": ["hs_title", "hs_expiration_date", "hs_status"],
    "products": ["name", "price", "description"],
    "tickets": ["subject", "content", "hs_pipeline", "hs_pipeline_stage"],
    "notes": ["hs_timestamp", "hs_note_body", "hs_attachment_ids", "hubspot_owner_id"],
}
_DEFAULT_PROPERTIES = {
    "contacts": ["email", "firstname", "lastname"],
    "companies": ["name", "domain"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate"],
    "line_items": ["name", "quantity", "price", "amount"],
    "quotes": ["hs_title", "hs_expiration_date"],
    "products": ["name", "price"],
    "tickets": ["subject", "content"],
    "notes": ["hs_timestamp", "hs_note_body", "hs_attachment_ids"],
}
# HubSpot-defined default association type ids, from type → to type.
ASSOCIATION_TYPE_IDS = {
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("deals", "line_items"): 19,
    ("line_items", "deals"): 20,
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "quotes"): 63,
    ("quotes", "deals"): 64,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    ("notes", "tickets"): 228,
    ("tickets", "notes"): 227,
}
_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
]


@dataclass
class _Failure:
    method: str
    path: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int


def _error(status: int, message: str, category: str, **extra: Any) -> httpx.Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return httpx.Response(status, json=body)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


class FakeHubSpot:
    """The fake: call it with an ``httpx.Request`` (or use :meth:`transport`)."""

    def __init__(self) -> None:
        self.now_ms = int(time.time() * 1000)
        self.access_tokens: dict[str, bool] = {ACCESS_TOKEN: True, PRIVATE_APP_TOKEN: True}
        self.refresh_tokens = {REFRESH_TOKEN}
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.links: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.schemas: list[dict[str, Any]] = []
        self.properties = {k: list(v) for k, v in _PROPERTIES.items()}
        self.pipelines: dict[str, list[dict[str, Any]]] = {
            "deals": [
                {
                    "id": "default",
                    "label": "Sales Pipeline",
                    "displayOrder": 0,
                    "archived": False,
                    "stages": [
                        {"id": sid, "label": label, "displayOrder": i, "archived": False}
                        for i, (sid, label) in enumerate(_STAGES)
                    ],
                }
            ]
        }
        self.owners: list[dict[str, Any]] = [
            {"id": "101", "email": "ana@acme.example", "firstName": "Ana", "lastName": "Lima"},
            {"id": "102", "email": "bruno@acme.example", "firstName": "Bruno", "lastName": ""},
        ]
        self.completed_callbacks: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1001)
        self._tokens = itertools.count(1)

    # -- set-up and inspection -------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` answering with this fake."""
        return httpx.MockTransport(self)

    def tick(self, seconds: float) -> None:
        """Move the fake's clock (record timestamps) forward."""
        self.now_ms += int(seconds * 1000)

    def expire(self, token: str) -> None:
        """Make ``token`` answer 401 EXPIRED_AUTHENTICATION."""
        self.access_tokens[token] = False

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``method path`` with ``status``."""
        if body is None:
            body = {
                "status": "error",
                "message": f"Injected failure {status}",
                "correlationId": str(uuid.uuid4()),
                "category": "VALIDATION_ERROR" if status in (400, 422) else "INTERNAL_ERROR",
            }
        self._failures.append(_Failure(method, path, status, body, dict(headers or {}), times))

    def rate_limit(self, times: int = 1) -> None:
        """Answer the next ``times`` requests with 429 and ``Retry-After: 1``."""
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        self.fail("*", "*", 429, body, {"Retry-After": "1"}, times)

    def add_schema(self, name: str, object_type_id: str, *, properties: list[str]) -> None:
        """A custom object type, addressable as ``object_type_id`` or ``p<portal>_<name>``."""
        self.schemas.append(
            {
                "id": object_type_id.split("-")[1],
                "name": name,
                "objectTypeId": object_type_id,
                "fullyQualifiedName": f"p{PORTAL_ID}_{name}",
                "labels": {"singular": name.title(), "plural": f"{name.title()}s"},
                "properties": [{"name": p, "label": p.title()} for p in properties],
            }
        )
        self.properties[object_type_id] = list(properties)

    def add_object(self, object_type: str, properties: Mapping[str, Any]) -> str:
        """Store a record directly; returns its id."""
        kind = self._canonical(object_type)
        record_id = str(next(self._ids))
        props = {k: None if v is None else str(v) for k, v in properties.items()}
        stamp = str(self.now_ms)
        props.update(
            {"hs_object_id": record_id, "createdate": stamp, self._modified_name(kind): stamp}
        )
        self.objects.setdefault(kind, {})[record_id] = {
            "properties": props,
            "created": self.now_ms,
            "updated": self.now_ms,
        }
        return record_id

    def update_object(
        self, object_type: str, record_id: str, properties: Mapping[str, Any]
    ) -> None:
        """Change a record directly (its modification time is the fake's clock)."""
        kind = self._canonical(object_type)
        record = self.objects[kind][record_id]
        record["properties"].update(
            {k: None if v is None else str(v) for k, v in properties.items()}
        )
        record["updated"] = self.now_ms
        record["properties"][self._modified_name(kind)] = str(self.now_ms)

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int | None = None
    ) -> int:
        """Associate two records (both directions); returns the association type id."""
        a, b = self._canonical(from_type), self._canonical(to_type)
        forward = type_id or ASSOCIATION_TYPE_IDS.get((a, b), 1)
        backward = ASSOCIATION_TYPE_IDS.get((b, a), forward)
        self.links.setdefault((a, str(from_id)), {})[(b, str(to_id))] = forward
        self.links.setdefault((b, str(to_id)), {})[(a, str(from_id))] = backward
        return forward

    def object(self, object_type: str, record_id: str) -> dict[str, Any]:
        """The record as HubSpot returns it (every property)."""
        kind = self._canonical(object_type)
        return self._record(kind, record_id, None)

    def associated(self, object_type: str, record_id: str, to_type: str) -> list[str]:
        """Ids of the ``to_type`` records associated with the record."""
        kind, to = self._canonical(object_type), self._canonical(to_type)
        return [i for (t, i) in self.links.get((kind, str(record_id)), {}) if t == to]

    def notes_for(self, object_type: str, record_id: str) -> list[dict[str, Any]]:
        """The notes associated with a record, oldest first."""
        return [self.object("notes", i) for i in self.associated(object_type, record_id, "notes")]

    def file(self, file_id: str) -> dict[str, Any]:
        """An uploaded file's metadata, with its ``content`` bytes."""
        return self.files[str(file_id)]

    def requests_to(self, method: str, path: str) -> list[httpx.Request]:
        """The requests sent with ``method`` to ``path`` (exact path)."""
        return [r for r in self.requests if r.method == method and r.url.path == path]

    # -- dispatch ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        request.read()
        injected = self._injected(request)
        if injected is not None:
            return injected
        path = request.url.path
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if request.method == "POST" and path == "/oauth/v1/token":
            return self._token(request)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        response = self._route(request, parts)
        response.headers.update(
            {
                "X-HubSpot-RateLimit-Max": "190",
                "X-HubSpot-RateLimit-Remaining": "189",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            }
        )
        return response

    def _injected(self, request: httpx.Request) -> httpx.Response | None:
        for failure in self._failures:
            method_ok = failure.method in ("*", request.method)
            path = request.url.path
            path_ok = (
                failure.path == "*"
                or failure.path == path
                or (failure.path.endswith("*") and path.startswith(failure.path[:-1]))
            )
            if method_ok and path_ok and failure.times > 0:
                failure.times -= 1
                return httpx.Response(failure.status, json=failure.body, headers=failure.headers)
        return None

    def _authenticate(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not token or token not in self.access_tokens:
            return _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                "INVALID_AUTHENTICATION",
            )
        if not self.access_tokens[token]:
            return _error(
                401,
                "The OAuth token used to make this call expired 1 minute(s) ago.",
                "EXPIRED_AUTHENTICATION",
            )
        return None

    def _route(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        method = request.method
        n = len(parts)
        if parts[:3] == ["crm", "v3", "objects"] and n >= 4:
            kind = self._canonical(parts[3])
            if kind is None:
                return _error(
                    400, f"Unable to infer object type from: {parts[3]}", "VALIDATION_ERROR"
                )
            if n == 4 and method == "POST":
                return self._create(kind, self._json(request))
            if n == 5 and parts[4] == "search" and method == "POST":
                return self._search(kind, self._json(request))
            if n == 6 and parts[4:] == ["batch", "read"] and method == "POST":
                return self._batch_read(kind, self._json(request))
            if n == 5 and method == "GET":
                return self._get(kind, parts[4], request)
            if n == 5 and method == "PATCH":
                return self._patch(kind, parts[4], request)
        if parts[:3] == ["crm", "v4", "objects"] and n in (8, 9) and method == "PUT":
            return self._associate_v4(request, parts)
        if parts[:3] == ["files", "v3", "files"]:
            if n == 3 and method == "POST":
                return self._upload(request)
            if n == 4 and method == "GET" and parts[3] in self.files:
                return httpx.Response(200, json=self._file_meta(self.files[parts[3]]))
            return _error(404, "File not found", "OBJECT_NOT_FOUND")
        if parts[:3] == ["crm", "v3", "pipelines"] and n >= 4 and method == "GET":
            return self._pipelines(parts)
        if parts[:3] == ["crm", "v3", "owners"] and method == "GET":
            return self._owners(request)
        if parts[:3] == ["crm", "v3", "schemas"] and method == "GET":
            return httpx.Response(200, json={"results": self.schemas})
        if parts[:3] == ["crm", "v3", "properties"] and n == 4 and method == "GET":
            return self._property_list(parts[3])
        if (
            parts[:4] == ["automation", "v4", "actions", "callbacks"]
            and n == 6
            and method == "POST"
        ):
            self.completed_callbacks.append({"callbackId": parts[4], **self._json(request)})
            return httpx.Response(204)
        return _error(404, f"No route for {method} {request.url.path}", "OBJECT_NOT_FOUND")

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _json(request: httpx.Request) -> Any:
        return json.loads(request.content or b"null")

    def _canonical(self, name: str) -> Any:
        lowered = name.lower()
        for kind, type_id in _TYPE_IDS.items():
            if lowered in (kind, type_id, _SINGULAR[kind]):
                return kind
        for schema in self.schemas:
            if lowered in (schema["objectTypeId"], schema["fullyQualifiedName"], schema["name"]):
                return schema["objectTypeId"]
        return None

    @staticmethod
    def _modified_name(kind: str) -> str:
        return "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"

    def _association_key(self, kind: str) -> str:
        for schema in self.schemas:
            if schema["objectTypeId"] == kind:
                return str(schema["fullyQualifiedName"])
        return kind

    def _record(
        self,
        kind: str,
        record_id: str,
        names: list[str] | None,
        associations: list[str] | None = None,
    ) -> dict[str, Any]:
        stored = self.objects[kind][record_id]
        props = stored["properties"]
        system = ["hs_object_id", "createdate", self._modified_name(kind)]
        shown = dict(props) if names is None else {n: props.get(n) for n in [*names, *system]}
        record: dict[str, Any] = {
            "id": record_id,
            "properties": shown,
            "createdAt": _iso(stored["created"]),
            "updatedAt": _iso(stored["updated"]),
            "archived": False,
        }
        if associations:
            links: dict[str, Any] = {}
            for wanted in associations:
                to = self._canonical(wanted)
                ids = self.associated(kind, record_id, to) if to else []
                if ids:
                    label = f"{_SINGULAR.get(kind, kind)}_to_{_SINGULAR.get(to, to)}"
                    links[self._association_key(to)] = {
                        "results": [{"id": i, "type": label} for i in ids]
                    }
            if links:
                record["associations"] = links
        return record

    def _check_properties(self, kind: str, props: Mapping[str, Any]) -> httpx.Response | None:
        known = set(self.properties.get(kind, []))
        unknown = [p for p in props if p not in known]
        if unknown:
            details = [
                {
                    "isValid": False,
                    "message": f'Property "{p}" does not exist',
                    "error": "PROPERTY_DOESNT_EXIST",
                    "name": p,
                }
                for p in unknown
            ]
            return _error(
                400,
                f"Property values were not valid: {json.dumps(details)}",
                "VALIDATION_ERROR",
                errors=[
                    {
                        "message": f'Property "{p}" does not exist',
                        "code": "PROPERTY_DOESNT_EXIST",
                        "context": {"propertyName": [p]},
                    }
                    for p in unknown
                ],
            )
        stage = props.get("dealstage")
        if kind == "deals" and stage is not None:
            stages = {s["id"] for p in self.pipelines["deals"] for s in p["stages"]}
            if stage not in stages:
                return _error(
                    400,
                    f"Property values were not valid: dealstage {stage!r} is not a valid option",
                    "VALIDATION_ERROR",
                    errors=[
                        {
                            "message": f"{stage} is not a valid option",
                            "code": "INVALID_OPTION",
                            "context": {"propertyName": ["dealstage"]},
                        }
                    ],
                )
        return None

    # -- objects -----------------------------------------------------------------------------

    def _create(self, kind: str, body: Any) -> httpx.Response:
        props = dict((body or {}).get("properties") or {})
        invalid = self._check_properties(kind, props)
        if invalid is not None:
            return invalid
        if kind == "contacts" and props.get("email"):
            for other_id, other in self.objects.get("contacts", {}).items():
                if other["properties"].get("email") == props["email"]:
                    return _error(
                        409, f"Contact already exists. Existing ID: {other_id}", "CONFLICT"
                    )
        targets = []
        for association in (body or {}).get("associations") or []:
            to_id = str(association["to"]["id"])
            for spec in association["types"]:
                to = next(
                    (
                        b
                        for (a, b), t in ASSOCIATION_TYPE_IDS.items()
                        if a == kind and t == spec["associationTypeId"]
                    ),
                    None,
                )
                if to is None or to_id not in self.objects.get(to, {}):
                    return _error(
                        400,
                        f"One or more associations are invalid: {to_id} with type "
                        f"{spec['associationTypeId']}",
                        "VALIDATION_ERROR",
                    )
                targets.append((to, to_id, spec["associationTypeId"]))
        record_id = self.add_object(kind, props)
        for to, to_id, type_id in targets:
            self.associate(kind, record_id, to, to_id, type_id)
        return httpx.Response(201, json=self._record(kind, record_id, None))

    def _find(self, kind: str, record_id: str, id_property: str | None) -> str | None:
        records = self.objects.get(kind, {})
        if id_property:
            return next(
                (i for i, r in records.items() if r["properties"].get(id_property) == record_id),
                None,
            )
        return record_id if record_id in records else None

    def _not_found(self, record_id: str) -> httpx.Response:
        return _error(
            404,
            "Object not found.  objectId are usually numeric.",
            "OBJECT_NOT_FOUND",
            context={"id": [record_id]},
        )

    def _get(self, kind: str, record_id: str, request: httpx.Request) -> httpx.Response:
        query = request.url.params
        found = self._find(kind, record_id, query.get("idProperty"))
        if found is None:
            return self._not_found(record_id)
        names = [p for p in query.get("properties", "").split(",") if p] or _DEFAULT_PROPERTIES.get(
            kind, []
        )
        associations = [a for a in query.get("associations", "").split(",") if a]
        return httpx.Response(200, json=self._record(kind, found, names, associations))

    def _patch(self, kind: str, record_id: str, request: httpx.Request) -> httpx.Response:
        found = self._find(kind, record_id, request.url.params.get("idProperty"))
        if found is None:
            return self._not_found(record_id)
        props = dict(self._json(request).get("properties") or {})
        invalid = self._check_properties(kind, props)
        if invalid is not None:
            return invalid
        self.update_object(kind, found, props)
        return httpx.Response(200, json=self._record(kind, found, [*props]))

    def _batch_read(self, kind: str, body: Any) -> httpx.Response:
        names = body.get("properties") or _DEFAULT_PROPERTIES.get(kind, [])
        ids = [str(i["id"]) for i in body.get("inputs", [])]
        if len(ids) > 100:
            return _error(400, "Too many inputs: at most 100", "VALIDATION_ERROR")
        results = [self._record(kind, i, names) for i in ids if i in self.objects.get(kind, {})]
        now = _iso(self.now_ms)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        missing = [i for i in ids if i not in self.objects.get(kind, {})]
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some records",
                    "context": {"ids": missing},
                }
            ]
            return httpx.Response(207, json=answer)
        return httpx.Response(200, json=answer)

    def _search(self, kind: str, body: Any) -> httpx.Response:
        limit = int(body.get("limit", 10))
        if limit > 200:
            return _error(400, "limit must be at most 200", "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []
        records = list(self.objects.get(kind, {}).items())
        matched = [
            (i, r)
            for i, r in records
            if (
                not groups
                or any(all(_matches(r["properties"], f) for f in g["filters"]) for g in groups)
            )
            and _contains_text(r["properties"], body.get("query"))
        ]
        for sort in reversed(body.get("sorts") or [{"propertyName": "hs_object_id"}]):
            name = sort["propertyName"]
            matched.sort(
                key=lambda item, name=name: _sort_key(item[1]["properties"].get(name)),
                reverse=sort.get("direction", "ASCENDING") == "DESCENDING",
            )
        start = int(body.get("after") or 0)
        page = matched[start : start + limit]
        names = body.get("properties") or _DEFAULT_PROPERTIES.get(kind, [])
        answer: dict[str, Any] = {
            "total": len(matched),
            "results": [self._record(kind, i, names) for i, _ in page],
        }
        if start + limit < len(matched):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return httpx.Response(200, json=answer)

    # -- associations v4 -----------------------------------------------------------------------

    def _associate_v4(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        from_kind, from_id = self._canonical(parts[3]), parts[4]
        default = parts[6] == "default"
        to_kind, to_id = self._canonical(parts[-2]), parts[-1]
        for kind, record_id in ((from_kind, from_id), (to_kind, to_id)):
            if kind is None or record_id not in self.objects.get(kind, {}):
                return self._not_found(record_id)
        if default:
            type_id = self.associate(from_kind, from_id, to_kind, to_id)
            now = _iso(self.now_ms)
            return httpx.Response(
                200,
                json={
                    "status": "COMPLETE",
                    "results": [
                        {
                            "from": {"id": from_id},
                            "to": {"id": to_id},
                            "associationSpec": {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": type_id,
                            },
                        }
                    ],
                    "startedAt": now,
                    "completedAt": now,
                },
            )
        specs = self._json(request)
        if not isinstance(specs, list) or not specs:
            return _error(400, "A list of association types is required", "VALIDATION_ERROR")
        for spec in specs:
            self.associate(from_kind, from_id, to_kind, to_id, int(spec["associationTypeId"]))
        return httpx.Response(
            201,
            json={
                "fromObjectTypeId": _TYPE_IDS.get(from_kind, from_kind),
                "fromObjectId": int(from_id),
                "toObjectTypeId": _TYPE_IDS.get(to_kind, to_kind),
                "toObjectId": int(to_id),
                "labels": [],
            },
        )

    # -- files ---------------------------------------------------------------------------------

    def _upload(self, request: httpx.Request) -> httpx.Response:
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return _error(415, "Expected multipart/form-data", "VALIDATION_ERROR")
        message = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.content,
            policy=email.policy.HTTP,
        )
        fields: dict[str, Any] = {}
        upload: tuple[str, bytes] | None = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if name == "file":
                upload = (str(part.get_filename() or "file"), payload)
            else:
                fields[str(name)] = payload.decode()
        if upload is None:
            return _error(400, "file is required", "VALIDATION_ERROR")
        if "options" not in fields or "access" not in json.loads(fields["options"]):
            return _error(400, "options.access is required", "VALIDATION_ERROR")
        if "folderPath" not in fields and "folderId" not in fields:
            return _error(400, "folderPath or folderId is required", "VALIDATION_ERROR")
        file_name = fields.get("fileName") or upload[0]
        stem, _, extension = file_name.rpartition(".")
        if not stem:
            stem, extension = file_name, ""
        file_id = str(next(self._ids))
        folder = fields.get("folderPath", "/").rstrip("/")
        access = json.loads(fields["options"])["access"]
        self.files[file_id] = {
            "id": file_id,
            "name": stem,
            "extension": extension,
            "path": f"{folder}/{file_name}",
            "size": len(upload[1]),
            "access": access,
            "url": f"https://{PORTAL_ID}.fs1.hubspotusercontent-na1.net/hubfs/{PORTAL_ID}{folder}/{file_name}",
            "createdAt": _iso(self.now_ms),
            "updatedAt": _iso(self.now_ms),
            "archived": False,
            "parentFolderId": "1",
            "type": "DOCUMENT" if extension in ("pdf", "docx") else "OTHER",
            "content": upload[1],
        }
        return httpx.Response(201, json=self._file_meta(self.files[file_id]))

    @staticmethod
    def _file_meta(file: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in file.items() if k != "content"}

    # -- metadata ------------------------------------------------------------------------------

    def _pipelines(self, parts: list[str]) -> httpx.Response:
        kind = self._canonical(parts[3])
        pipelines = self.pipelines.get(kind, [])
        if len(parts) == 4:
            return httpx.Response(200, json={"results": pipelines})
        pipeline = next((p for p in pipelines if p["id"] == parts[4]), None)
        if pipeline is None:
            return _error(404, f"Pipeline {parts[4]} not found", "OBJECT_NOT_FOUND")
        if len(parts) == 6 and parts[5] == "stages":
            return httpx.Response(200, json={"results": pipeline["stages"]})
        return httpx.Response(200, json=pipeline)

    def _owners(self, request: httpx.Request) -> httpx.Response:
        limit = min(int(request.url.params.get("limit", 100)), 500)
        start = int(request.url.params.get("after") or 0)
        page = self.owners[start : start + limit]
        answer: dict[str, Any] = {"results": page}
        if start + limit < len(self.owners):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return httpx.Response(200, json=answer)

    def _property_list(self, name: str) -> httpx.Response:
        kind = self._canonical(name)
        if kind is None:
            return _error(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
        results = [
            {
                "name": p,
                "label": p.replace("_", " ").title(),
                "type": "string",
                "fieldType": "text",
                "hidden": False,
            }
            for p in self.properties.get(kind, [])
        ]
        results.append(
            {
                "name": "hs_object_id",
                "label": "Record ID",
                "type": "number",
                "fieldType": "number",
                "hidden": True,
            }
        )
        return httpx.Response(200, json={"results": results})

    # -- OAuth ---------------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return httpx.Response(
                400,
                json={
                    "status": "BAD_CLIENT_ID",
                    "message": "missing or invalid client_id/client_secret",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") not in self.refresh_tokens
        ):
            return httpx.Response(
                400,
                json={
                    "status": "BAD_REFRESH_TOKEN",
                    "message": "missing or unknown refresh token",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        token = f"access-{next(self._tokens)}"
        self.access_tokens[token] = True
        return httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "refresh_token": form["refresh_token"],
                "access_token": token,
                "expires_in": 1800,
            },
        )


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sort_key(value: Any) -> tuple[int, float, str]:
    number = _number(value)
    if value is None:
        return (1, 0.0, "")
    return (0, number, "") if number is not None else (0, 0.0, str(value))


def _compare(left: Any, right: Any) -> int:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = str(left), str(right)
    return (x > y) - (x < y)


def _matches(props: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    value = props.get(flt["propertyName"])
    operator = flt["operator"]
    if operator == "HAS_PROPERTY":
        return value not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if operator in ("IN", "NOT_IN"):
        inside = str(value) in [str(v) for v in flt.get("values", [])]
        return inside if operator == "IN" else not inside
    if value is None:
        return operator == "NEQ"
    if operator == "CONTAINS_TOKEN":
        return str(flt["value"]).strip("*").lower() in str(value).lower()
    if operator == "NOT_CONTAINS_TOKEN":
        return str(flt["value"]).strip("*").lower() not in str(value).lower()
    if operator == "BETWEEN":
        return _compare(value, flt["value"]) >= 0 and _compare(value, flt["highValue"]) <= 0
    order = _compare(value, flt.get("value"))
    return {
        "EQ": order == 0,
        "NEQ": order != 0,
        "LT": order < 0,
        "LTE": order <= 0,
        "GT": order > 0,
        "GTE": order >= 0,
    }[operator]


def _contains_text(props: Mapping[str, Any], query: str | None) -> bool:
    if not query:
        return True
    return any(query.lower() in str(v).lower() for v in props.values() if v is not None)


# -- ready-made data for tests ----------------------------------------------------------------


def oauth_credentials(*, expires_in: float = 3600) -> dict[str, Any]:
    """Credentials of an OAuth connection the fake accepts, expiring in ``expires_in`` s."""
    return {
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "expires_at": int(time.time() + expires_in),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def seed_deal(fake: FakeHubSpot) -> dict[str, Any]:
    """A deal with two contacts, a company and two line items; returns their ids."""
    deal = fake.add_object(
        "deals",
        {
            "dealname": "Acme renewal",
            "amount": "1234.5",
            "dealstage": "contractsent",
            "pipeline": "default",
        },
    )
    contacts = [
        fake.add_object(
            "contacts", {"email": "ana@acme.example", "firstname": "Ana", "lastname": "Lima"}
        ),
        fake.add_object(
            "contacts", {"email": "rui@acme.example", "firstname": "Rui", "lastname": "Sá"}
        ),
    ]
    company = fake.add_object("companies", {"name": "Acme Ltda", "domain": "acme.example"})
    items = [
        fake.add_object(
            "line_items", {"name": "Licence", "quantity": "2", "price": "500", "amount": "1000"}
        ),
        fake.add_object(
            "line_items", {"name": "Setup", "quantity": "1", "price": "234.5", "amount": "234.5"}
        ),
    ]
    for contact in contacts:
        fake.associate("deals", deal, "contacts", contact)
    fake.associate("deals", deal, "companies", company)
    for item in items:
        fake.associate("deals", deal, "line_items", item)
    return {"deal": deal, "contacts": contacts, "company": company, "line_items": items}
