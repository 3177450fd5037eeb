"""``/api/v1/connections``: the organization's connections to apps — list, create, detail,
update, test, delete.

- A connection holds the credentials of one app (its :class:`~docg_core.apps.AuthSpec`
  fields). They are validated on create and update — unknown, missing or mistyped fields
  answer 422 ``validation-error`` naming each field, never echoing a value — and stored
  encrypted (AES-256-GCM, the newest ``ENCRYPTION_KEY``) bound to the connection's id.
- Credentials are never returned: answers list only the names of the fields that are set.
- Names are unique within an organization (409 ``connection-name-taken``); workflow nodes
  refer to connections by name.
- ``POST /{id}/test`` runs the app's connection test: the result says whether the
  credentials work and sets ``status`` (``active`` or ``error``); a vendor that cannot be
  reached leaves the status as it was. The stored credentials are never written by a test.
- Members read; owners and admins write (create, update, test, delete). Another
  organization's connection answers 404 on every route.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from docg_core.apps import BaseApp
from docg_core.errors import PluginError
from docg_core.plugins import Registry

from ...connections import (
    CredentialProblem,
    check_credentials,
    credential_fields,
    open_credentials,
    run_connection_test,
    seal_credentials,
)
from ...crypto import DecryptionError, KeyRing
from ...errors import HTTPProblem, problem_responses
from ...models import (
    ConnectionStatus,
    DataSourceConnection,
    Role,
    User,
    Workflow,
    WorkflowNode,
    WorkflowStatus,
)
from ..deps import AppSettings, CurrentOrg, RegistryDep, SessionDep, require_role
from ..pagination import decode_cursor, encode_cursor

__all__ = ["ConnectionDep", "get_connection", "router"]

router = APIRouter(prefix="/connections", tags=["connections"], responses=problem_responses(401))

ConnectionEditor = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]

MAX_PAGE_SIZE = 100

ConnectionName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class ConnectionIn(BaseModel):
    """A new connection: the app, a name nodes will use, and the app's credential fields."""

    model_config = ConfigDict(extra="forbid")

    app_key: str = Field(min_length=1, max_length=100, examples=["zapsign"])
    name: ConnectionName = Field(examples=["zapsign-main"])
    credentials: dict[str, Any] = Field(
        description="The fields of the app's auth form (``auth.fields`` of GET /apps/{app})."
    )


class ConnectionUpdate(BaseModel):
    """A new name, new credentials (replacing all the old ones), or both."""

    model_config = ConfigDict(extra="forbid")

    name: ConnectionName | None = None
    credentials: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something(self) -> ConnectionUpdate:
        if self.name is None and self.credentials is None:
            raise ValueError("give a new name, new credentials, or both")
        return self


class ConnectionOut(BaseModel):
    """A connection as the API shows it: never its credentials, only the fields set."""

    id: uuid.UUID
    app_key: str
    name: str
    status: str = Field(description="active, expired or error (set by the last test).")
    scopes: list[Any]
    credential_fields: list[str] | None = Field(
        description="Names of the credential fields set; null when no configured "
        "ENCRYPTION_KEY opens them (enter the credentials again)."
    )
    created_at: datetime
    updated_at: datetime


class ConnectionPage(BaseModel):
    items: list[ConnectionOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class ConnectionTestOut(BaseModel):
    """What a connection test found."""

    tested: bool = Field(description="False when the app has no connection test.")
    ok: bool | None = Field(description="Whether the credentials work; null when not tested.")
    message: str
    status: str = Field(description="The connection's status after the test.")


# -- helpers -------------------------------------------------------------------------------


def get_connection(
    connection_id: uuid.UUID, session: SessionDep, org: CurrentOrg
) -> DataSourceConnection:
    """The connection ``connection_id`` of the caller's organization; 404 for any other."""
    connection = session.scalar(
        sa.select(DataSourceConnection).where(
            DataSourceConnection.id == connection_id,
            DataSourceConnection.organization_id == org.id,
        )
    )
    if connection is None:
        raise HTTPProblem.not_found(f"there is no connection {connection_id} in your organization")
    return connection


ConnectionDep = Annotated[DataSourceConnection, Depends(get_connection)]


def _invalid(errors: list[dict[str, str]]) -> HTTPProblem:
    where = ", ".join(f"{e['location']}.{e['field']}".rstrip(".") for e in errors)
    return HTTPProblem(
        422,
        f"{len(errors)} invalid field(s): {where}",
        slug="validation-error",
        title="Your request is not valid",
        extensions={"errors": errors},
    )


def _credential_errors(problems: list[CredentialProblem]) -> list[dict[str, str]]:
    return [
        {
            "location": "body",
            "field": f"credentials.{p.field}" if p.field else "credentials",
            "message": p.message,
            "code": p.code,
        }
        for p in problems
    ]


def _connectable_app(registry: Registry, app_key: str) -> BaseApp:
    """The app ``app_key`` if it takes a connection; 422 naming ``app_key`` otherwise."""
    try:
        app = registry.app(app_key)
    except PluginError as exc:
        message, code = str(exc), "unknown_app"
    else:
        if app.auth is not None:
            return app
        message, code = f"app {app_key!r} takes no connection", "no_auth"
    raise _invalid([{"location": "body", "field": "app_key", "message": message, "code": code}])


def _checked_credentials(app: BaseApp, credentials: dict[str, Any]) -> dict[str, Any]:
    assert app.auth is not None
    values, problems = check_credentials(app.auth, credentials)
    if problems:
        raise _invalid(_credential_errors(problems))
    return values


def _scopes(app: BaseApp, values: dict[str, Any]) -> list[Any]:
    granted = values.get("scope")
    if app.auth is not None and app.auth.type == "oauth2" and isinstance(granted, str):
        return granted.split()
    return []


def _name_taken(name: str) -> HTTPProblem:
    return HTTPProblem.conflict(
        f"the organization already has a connection named {name!r}; choose another name",
        slug="connection-name-taken",
    )


def _check_name_free(
    session: Session, org_id: uuid.UUID, name: str, but: uuid.UUID | None = None
) -> None:
    query = sa.select(DataSourceConnection.id).where(
        DataSourceConnection.organization_id == org_id, DataSourceConnection.name == name
    )
    if but is not None:
        query = query.where(DataSourceConnection.id != but)
    if session.scalar(query) is not None:
        raise _name_taken(name)


def _commit(session: Session, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:  # a concurrent create or rename took the name first
        session.rollback()
        raise _name_taken(name) from None


def _out(connection: DataSourceConnection, keyring: KeyRing) -> ConnectionOut:
    return ConnectionOut(
        id=connection.id,
        app_key=connection.app_key,
        name=connection.name,
        status=connection.status,
        scopes=list(connection.scopes or []),
        credential_fields=credential_fields(keyring, connection),
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


def _set_status(
    factory: sessionmaker[Session], connection_id: uuid.UUID, org_id: uuid.UUID, status: str
) -> None:
    # Only the status column (and updated_at) is written: never the credentials.
    with factory() as session:
        session.execute(
            sa.update(DataSourceConnection)
            .where(
                DataSourceConnection.id == connection_id,
                DataSourceConnection.organization_id == org_id,
            )
            .values(status=status)
        )
        session.commit()


# -- routes --------------------------------------------------------------------------------


@router.get("", response_model=ConnectionPage, responses=problem_responses(422))
def list_connections(
    session: SessionDep,
    org: CurrentOrg,
    settings: AppSettings,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    app_key: Annotated[str | None, Query(max_length=100, description="Only this app's.")] = None,
) -> ConnectionPage:
    """The organization's connections, newest first, ``limit`` at a time."""
    query = sa.select(DataSourceConnection).where(DataSourceConnection.organization_id == org.id)
    if app_key is not None:
        query = query.where(DataSourceConnection.app_key == app_key)
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                DataSourceConnection.created_at < created,
                sa.and_(
                    DataSourceConnection.created_at == created, DataSourceConnection.id < ident
                ),
            )
        )
    query = query.order_by(
        DataSourceConnection.created_at.desc(), DataSourceConnection.id.desc()
    ).limit(limit + 1)
    found = list(session.scalars(query))
    page = found[:limit]
    keyring = settings.keyring()
    return ConnectionPage(
        items=[_out(c, keyring) for c in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None,
    )


@router.post(
    "", status_code=201, response_model=ConnectionOut, responses=problem_responses(403, 409, 422)
)
def create_connection(
    body: ConnectionIn,
    session: SessionDep,
    org: CurrentOrg,
    registry: RegistryDep,
    settings: AppSettings,
    _editor: ConnectionEditor,
) -> ConnectionOut:
    """Create a connection (owners and admins); its credentials are stored encrypted.

    422 ``validation-error`` for an unknown app, an app without a connection, or credential
    fields that are unknown, missing or of the wrong type (each listed, values never echoed);
    409 ``connection-name-taken`` when the name is in use.
    """
    app = _connectable_app(registry, body.app_key)
    values = _checked_credentials(app, body.credentials)
    _check_name_free(session, org.id, body.name)
    keyring = settings.keyring()
    connection = DataSourceConnection(
        id=uuid.uuid4(),
        organization_id=org.id,
        app_key=app.key,
        name=body.name,
        scopes=_scopes(app, values),
        status=ConnectionStatus.ACTIVE.value,
    )
    connection.credentials = seal_credentials(keyring, connection.id, values)
    session.add(connection)
    _commit(session, body.name)
    return _out(connection, keyring)


@router.get("/{connection_id}", response_model=ConnectionOut, responses=problem_responses(404, 422))
def get_connection_detail(connection: ConnectionDep, settings: AppSettings) -> ConnectionOut:
    """A connection: its app, name, status, scopes and the names of its credential fields."""
    return _out(connection, settings.keyring())


@router.patch(
    "/{connection_id}",
    response_model=ConnectionOut,
    responses=problem_responses(403, 404, 409, 422),
)
def update_connection(
    body: ConnectionUpdate,
    connection: ConnectionDep,
    session: SessionDep,
    registry: RegistryDep,
    settings: AppSettings,
    _editor: ConnectionEditor,
) -> ConnectionOut:
    """Rename the connection and/or replace all of its credentials (owners and admins).

    New credentials are validated like on create and set the status back to ``active``.
    """
    keyring = settings.keyring()
    if body.name is not None and body.name != connection.name:
        _check_name_free(session, connection.organization_id, body.name, but=connection.id)
        connection.name = body.name
    if body.credentials is not None:
        app = _connectable_app(registry, connection.app_key)
        values = _checked_credentials(app, body.credentials)
        connection.credentials = seal_credentials(keyring, connection.id, values)
        # In SQL: a token refresh comparing versions must see that the credentials changed.
        connection.credentials_version = DataSourceConnection.credentials_version + 1
        connection.scopes = _scopes(app, values)
        connection.status = ConnectionStatus.ACTIVE.value
    _commit(session, connection.name)
    return _out(connection, keyring)


@router.post(
    "/{connection_id}/test",
    response_model=ConnectionTestOut,
    responses=problem_responses(403, 404, 422),
)
async def check_connection(
    connection: ConnectionDep,
    request: Request,
    org: CurrentOrg,
    registry: RegistryDep,
    settings: AppSettings,
    _editor: ConnectionEditor,
) -> ConnectionTestOut:
    """Check the stored credentials with the app's connection test (owners and admins).

    Answers 200 with ``ok`` false when they do not work (the vendor refused them) and sets
    the status to ``error``; ``active`` when they work. An app without a test answers
    ``tested`` false. The stored credentials are never rewritten.
    """
    status = connection.status
    try:
        app = registry.app(connection.app_key)
    except PluginError:
        return ConnectionTestOut(
            tested=False,
            ok=None,
            message=f"the app {connection.app_key!r} is not installed on this server",
            status=status,
        )
    try:
        credentials = open_credentials(settings.keyring(), connection.id, connection.credentials)
    except DecryptionError:
        ok: bool | None = False
        tested = True
        message = (
            "the stored credentials cannot be decrypted with the configured ENCRYPTION_KEY; "
            "enter them again"
        )
        new_status = ConnectionStatus.ERROR.value
    else:
        result = await run_connection_test(
            app,
            credentials,
            organization_id=str(org.id),
            transport=getattr(request.app.state, "http_transport", None),
        )
        tested, ok, message = result.tested, result.ok, result.message
        if result.ok:
            new_status = ConnectionStatus.ACTIVE.value
        elif result.tested and not result.transient:
            new_status = ConnectionStatus.ERROR.value
        else:
            new_status = status
    if new_status != status:
        await asyncio.to_thread(
            _set_status, request.app.state.session_factory, connection.id, org.id, new_status
        )
    return ConnectionTestOut(tested=tested, ok=ok, message=message, status=new_status)


def _workflows_using(session: Session, connection: DataSourceConnection) -> list[Workflow]:
    """The organization's workflows (not archived) with a node or trigger naming it."""
    name = connection.name
    in_nodes = sa.select(WorkflowNode.workflow_id).where(
        WorkflowNode.config["connection"].as_string() == name
    )
    in_trigger = Workflow.definition[("trigger", "connection")].as_string() == name
    return list(
        session.scalars(
            sa.select(Workflow)
            .where(
                Workflow.organization_id == connection.organization_id,
                Workflow.status != WorkflowStatus.ARCHIVED.value,
                sa.or_(Workflow.id.in_(in_nodes), in_trigger),
            )
            .order_by(Workflow.name, Workflow.id)
        )
    )


@router.delete(
    "/{connection_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(403, 404, 409, 422),
)
def delete_connection(
    connection: ConnectionDep,
    session: SessionDep,
    _editor: ConnectionEditor,
    force: Annotated[
        bool, Query(description="Delete it even if workflows use it (their steps then fail).")
    ] = False,
) -> Response:
    """Delete the connection and its credentials (owners and admins).

    While a workflow that is not archived names it (a node or its trigger) the answer is 409
    ``connection-in-use`` listing them, unless ``force``: its nodes would fail until another
    connection takes the name.
    """
    users = [] if force else _workflows_using(session, connection)
    if users:
        names = ", ".join(repr(w.name) for w in users[:5])
        if len(users) > 5:
            names += " and others"
        raise HTTPProblem(
            409,
            f"{len(users)} workflow(s) use connection {connection.name!r}: {names}; change "
            "them first, or delete with ?force=true",
            slug="connection-in-use",
            extensions={"workflows": [{"id": str(w.id), "name": w.name} for w in users]},
        )
    session.execute(sa.delete(DataSourceConnection).where(DataSourceConnection.id == connection.id))
    session.commit()
    return Response(status_code=204)
