"""The HubSpot app: metadata, connection and the auth header of every request."""

from __future__ import annotations

from typing import ClassVar

import httpx

from docg_core.apps import ActionArgument, AuthSpec, BaseApp
from docg_core.context import ExecutionContext

from .actions import (
    AssociateRecords,
    AttachFile,
    CreateRecord,
    GetObject,
    SearchObjects,
    UpdateDealStage,
    UpdateRecord,
    UploadFile,
)
from .auth import AUTHORIZE_URL, SCOPES, TOKEN_PATH, TOKEN_URL, access_token
from .dynamic_data import ObjectTypes, Owners, Pipelines, PipelineStages, Properties
from .triggers import NewOrUpdatedRecords, ObjectEvents

API_BASE = "https://api.hubapi.com"


class HubSpotApp(BaseApp):
    """HubSpot CRM: records, associations, files and notes, webhooks and polling."""

    key = "hubspot"
    name = "HubSpot"
    description = (
        "Read deals with their contacts, companies and line items, search and write CRM "
        "records, attach generated documents to a record's timeline, and start workflows "
        "from HubSpot events."
    )
    icon_url = "https://www.hubspot.com/hubfs/HubSpot_Logos/HubSpot-Inversed-Favicon.png"
    base_url: ClassVar[str | None] = API_BASE
    auth = AuthSpec.oauth2(
        authorize_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        scopes=SCOPES,
        fields=(
            ActionArgument(
                key="private_app_token",
                label="Private app access token",
                secret=True,
                description="Instead of OAuth: the access token of a private app in your account.",
            ),
            ActionArgument(
                key="client_secret",
                label="Client secret",
                secret=True,
                description="The app's client secret, used to verify HubSpot's webhooks.",
            ),
        ),
    )
    actions = (
        GetObject,
        SearchObjects,
        CreateRecord,
        UpdateRecord,
        AssociateRecords,
        UploadFile,
        AttachFile,
        UpdateDealStage,
    )
    triggers = (ObjectEvents, NewOrUpdatedRecords)
    dynamic_data = (ObjectTypes, Properties, Pipelines, PipelineStages, Owners)

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        """Authorise the request, refreshing an OAuth token that expires soon first."""
        if request.url.path == TOKEN_PATH:
            return  # the token request authenticates with the client credentials
        request.headers["Authorization"] = f"Bearer {await access_token(ctx)}"
