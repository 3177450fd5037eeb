"""Connections: bearer tokens, refresh before expiry and once on 401, refresh failures."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fakes.hubspot import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    PRIVATE_APP_TOKEN,
    REFRESH_TOKEN,
    FakeHubSpot,
    oauth_credentials,
)

from docg_core.errors import StepError
from docg_core.retry import classify_error
from docg_core.testing import run_action
from docg_hubspot import refresh_access_token
from docg_hubspot.actions import GetObject
from docg_hubspot.app import HubSpotApp
from docg_hubspot.auth import TokenRefreshError


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot()


async def get_deal(fake: FakeHubSpot, auth: dict[str, Any], deal: str) -> Any:
    return await run_action(
        HubSpotApp(),
        GetObject,
        {"object_type": "deals", "object_id": deal},
        auth=auth,
        transport=fake.transport(),
    )


def bearer(request: httpx.Request) -> str:
    return request.headers["Authorization"]


async def test_a_fresh_oauth_token_is_sent_without_refreshing(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    await get_deal(fake, oauth_credentials(), deal)
    assert [bearer(r) for r in fake.requests] == [f"Bearer {ACCESS_TOKEN}"]


async def test_a_private_app_token_is_sent_as_bearer(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    await get_deal(fake, {"private_app_token": PRIVATE_APP_TOKEN}, deal)
    assert bearer(fake.requests[0]) == f"Bearer {PRIVATE_APP_TOKEN}"


async def test_a_token_expiring_soon_is_refreshed_before_the_request(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    result = await get_deal(fake, oauth_credentials(expires_in=60), deal)
    token_request, api_request = fake.requests
    assert token_request.method == "POST"
    assert str(token_request.url) == "https://api.hubapi.com/oauth/v1/token"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in token_request.headers
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "refresh_token": [REFRESH_TOKEN],
    }
    assert bearer(api_request) == "Bearer access-1"
    assert result.data["id"] == deal


async def test_a_401_refreshes_once_and_resends(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    fake.expire(ACCESS_TOKEN)
    result = await get_deal(fake, oauth_credentials(), deal)
    paths = [(r.method, r.url.path) for r in fake.requests]
    assert paths == [
        ("GET", f"/crm/v3/objects/deals/{deal}"),
        ("POST", "/oauth/v1/token"),
        ("GET", f"/crm/v3/objects/deals/{deal}"),
    ]
    assert bearer(fake.requests[2]) == "Bearer access-1"
    assert result.data["properties"]["dealname"] == "Acme"


async def test_a_second_401_fails_without_looping(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    fake.fail("GET", f"/crm/v3/objects/deals/{deal}", 401, times=2)
    with pytest.raises(StepError, match="Reconnect the HubSpot connection") as caught:
        await get_deal(fake, oauth_credentials(), deal)
    assert len(fake.requests_to("POST", "/oauth/v1/token")) == 1
    assert not classify_error(caught.value).retryable


async def test_an_unknown_refresh_token_asks_to_reconnect(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    auth = {**oauth_credentials(expires_in=0), "refresh_token": "revoked-token-000"}
    with pytest.raises(TokenRefreshError, match="missing or unknown refresh token"):
        await get_deal(fake, auth, deal)
    assert fake.requests_to("GET", f"/crm/v3/objects/deals/{deal}") == []


async def test_a_connection_without_token_fails_clearly(fake: FakeHubSpot) -> None:
    with pytest.raises(StepError, match="no access token"):
        await get_deal(fake, {}, "1")
    assert fake.requests == []


async def test_refresh_access_token_returns_the_new_credentials(fake: FakeHubSpot) -> None:
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        new = await refresh_access_token(http, oauth_credentials(), now=1_000_000)
    assert new == {
        **oauth_credentials(),
        "access_token": "access-1",
        "refresh_token": REFRESH_TOKEN,
        "expires_at": 1_000_000 + 1800,
    }


async def test_refresh_during_a_hubspot_outage_is_retryable(fake: FakeHubSpot) -> None:
    fake.fail("POST", "/oauth/v1/token", 503)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        with pytest.raises(StepError) as caught:
            await refresh_access_token(http, oauth_credentials())
    assert caught.value.retryable


def test_the_connection_form_declares_oauth_with_hubspot_urls_and_secrets() -> None:
    auth = HubSpotApp.auth
    assert auth is not None
    assert auth.authorize_url == "https://app.hubspot.com/oauth/authorize"
    assert auth.token_url == "https://api.hubapi.com/oauth/v1/token"
    assert {"crm.objects.deals.read", "crm.objects.deals.write", "files"} <= set(auth.scopes)
    assert {"access_token", "refresh_token", "client_secret", "private_app_token"} <= (
        auth.secret_keys
    )
