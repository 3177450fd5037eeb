"""``/api/v1/apps``: the apps this server has installed, and their dynamic data.

- The list and the detail are each app's declarative metadata (``BaseApp.to_dict``): its
  auth form, actions, triggers and dynamic-data sources, every argument list as a JSON
  Schema object — what a workflow editor needs, without calling any vendor.
- ``GET /{app}/dynamic-data/{key}`` runs one dynamic-data source (a dropdown's choices, e.g.
  a CRM's pipelines) with the credentials of one of the caller's organization's connections;
  the other query parameters are the source's parameters. A vendor failure answers 502
  ``upstream-error`` saying what went wrong (credentials never appear in it).
- Every member of an organization may read these.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from docg_core.apps import BaseApp
from docg_core.errors import PluginError, StepError
from docg_core.plugins import Registry

from ...connections import DatabaseConnections, UpstreamError, fetch_options
from ...errors import PROBLEM_CONTENT_TYPE, HTTPProblem, problem_responses, problem_type
from ..deps import AppSettings, CurrentOrg, CurrentUser, RegistryDep

__all__ = ["router"]

logger = logging.getLogger("docg.server.apps")

router = APIRouter(prefix="/apps", tags=["apps"], responses=problem_responses(401))

_UPSTREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    502: {
        "description": f"Bad Gateway ({problem_type('upstream-error')})",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


class AppOut(BaseModel):
    """An app: metadata, auth form, actions, triggers and dynamic-data sources."""

    key: str
    name: str
    description: str
    icon_url: str | None
    auth: dict[str, Any] | None = Field(
        description="How its connections authenticate; ``fields`` is the form as JSON Schema. "
        "Null: the app needs no connection."
    )
    can_test_connection: bool = Field(
        description="Whether POST /connections/{id}/test can check its connections."
    )
    actions: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    dynamic_data: list[dict[str, Any]]


class AppList(BaseModel):
    items: list[AppOut]


class Option(BaseModel):
    """One choice of a dropdown: the value to store and the label to show."""

    value: Any
    label: str


class OptionList(BaseModel):
    options: list[Option]


def _out(app: BaseApp) -> AppOut:
    return AppOut(**app.to_dict(), can_test_connection=app.can_test_connection())


def _app(registry: Registry, app_key: str) -> BaseApp:
    try:
        return registry.app(app_key)
    except PluginError as exc:
        raise HTTPProblem.not_found(str(exc)) from None


def _parameters(request: Request) -> dict[str, Any]:
    """Every query parameter but ``connection_id``; a repeated one becomes a list."""
    parameters: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key == "connection_id":
            continue
        if key in parameters:
            previous = parameters[key]
            parameters[key] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
        else:
            parameters[key] = value
    return parameters


async def _credentials(
    request: Request, settings: AppSettings, app: BaseApp, org_id: str, ref: str | None
) -> Mapping[str, Any]:
    if ref is None:
        if app.auth is None:
            return {}
        raise HTTPProblem(
            422,
            f"the {app.name} app needs a connection: pass connection_id",
            slug="validation-error",
            title="Your request is not valid",
            extensions={
                "errors": [
                    {
                        "location": "query",
                        "field": "connection_id",
                        "message": f"required for app {app.key!r}",
                        "code": "missing",
                    }
                ]
            },
        )
    provider = DatabaseConnections(request.app.state.session_factory, settings.keyring())
    try:
        return await provider.get_credentials(ref, app_key=app.key, organization_id=org_id)
    except KeyError:
        raise HTTPProblem.not_found(
            f"there is no {app.key} connection {ref!r} in your organization"
        ) from None
    except StepError as exc:
        raise HTTPProblem.conflict(str(exc), slug="connection-undecryptable") from None


@router.get("", response_model=AppList)
def list_apps(registry: RegistryDep, _user: CurrentUser) -> AppList:
    """Every installed app, sorted by key, with its actions, triggers and dynamic data."""
    return AppList(items=[_out(app) for app in registry.apps()])


@router.get("/{app_key}", response_model=AppOut, responses=problem_responses(404, 422))
def get_app(app_key: str, registry: RegistryDep, _user: CurrentUser) -> AppOut:
    """One app; 404 when no installed app has this key."""
    return _out(_app(registry, app_key))


@router.get(
    "/{app_key}/dynamic-data/{key}",
    response_model=OptionList,
    responses={**problem_responses(404, 409, 422), **_UPSTREAM_RESPONSE},
)
async def get_dynamic_data(
    app_key: str,
    key: str,
    request: Request,
    org: CurrentOrg,
    registry: RegistryDep,
    settings: AppSettings,
    connection_id: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The id (or name) of one of your connections to this app; required "
            "when the app has an auth form.",
        ),
    ] = None,
) -> OptionList:
    """The choices of a dynamic-data source, fetched with the connection's credentials.

    Other query parameters are passed to the source as its parameters (e.g.
    ``?object_type=deals``). 404 for an unknown app, source or connection; 502
    ``upstream-error`` when the vendor fails.
    """
    app = _app(registry, app_key)
    if app.dynamic_data_source(key) is None:
        raise HTTPProblem.not_found(
            f"app {app.key!r} has no dynamic data {key!r}; it has: "
            + (", ".join(d.key for d in app.dynamic_data) or "none")
        )
    credentials = await _credentials(request, settings, app, str(org.id), connection_id)
    try:
        options = await fetch_options(
            app,
            key,
            credentials,
            organization_id=str(org.id),
            parameters=_parameters(request),
            transport=getattr(request.app.state, "http_transport", None),
        )
    except UpstreamError as exc:
        logger.warning("dynamic data failed: %s", exc)
        raise HTTPProblem(
            502,
            str(exc),
            slug="upstream-error",
            title="The app's vendor failed",
        ) from None
    return OptionList(options=[Option(**option) for option in options])
