"""Version 1 of the REST API: every resource's router, collected in :data:`api_router`."""

from __future__ import annotations

from fastapi import APIRouter

from ...errors import problem_responses
from ...inbound import approvals, callbacks, hubspot_actions, webhooks
from . import (
    apps,
    auth,
    billing,
    connections,
    documents,
    files,
    invitations,
    members,
    nodes,
    oauth,
    organizations,
    run_events,
    runs,
    templates,
    workflows,
)

__all__ = ["API_PREFIX", "api_router"]

API_PREFIX = "/api/v1"

# 400: a body that cannot be decoded at all (not UTF-8, broken multipart), on any route.
api_router = APIRouter(prefix=API_PREFIX, responses=problem_responses(400, 500))
api_router.include_router(auth.router)
api_router.include_router(organizations.router)
api_router.include_router(members.router)
api_router.include_router(invitations.router)
api_router.include_router(invitations.accept_router)
api_router.include_router(workflows.router)
api_router.include_router(nodes.router)
api_router.include_router(runs.router)
api_router.include_router(run_events.router)
api_router.include_router(webhooks.router)
api_router.include_router(approvals.router)
api_router.include_router(callbacks.router)
api_router.include_router(hubspot_actions.router)
api_router.include_router(templates.router)
api_router.include_router(documents.router)
api_router.include_router(files.router)
api_router.include_router(connections.router)
api_router.include_router(apps.router)
for _oauth_router in oauth.routers:
    api_router.include_router(_oauth_router)
api_router.include_router(billing.router)
