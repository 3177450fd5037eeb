"""cancel-document, resend-notification and get-status against the fake ZapSign."""

from __future__ import annotations

import httpx
import pytest
from fakes.zapsign import FakeZapSign

from docg_core.errors import RetryableError, StepError
from docg_core.store import InMemoryStore

from .conftest import act


def _document(fake: FakeZapSign, people: int = 2) -> str:
    response = fake.handle(
        httpx.Request(
            "POST",
            "https://api.zapsign.com.br/api/v1/docs/",
            headers={"Authorization": f"Bearer {fake.api_token}"},
            json={
                "name": "Contrato",
                "url_pdf": "https://x.test/c.pdf",
                "signers": [{"name": f"Pessoa {i}"} for i in range(people)],
            },
        )
    )
    fake.requests.clear()
    return str(response.json()["token"])


async def test_cancel_refuses_the_document_with_the_reason(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake)
    result = await act(
        "cancel-document", {"doc_token": token, "reason": "Proposta vencida"}, fake=fake, auth=auth
    )
    [call] = fake.requests
    assert (call.method, call.url) == ("POST", "https://api.zapsign.com.br/api/v1/refuse/")
    assert call.json == {"doc_token": token, "rejected_reason": "Proposta vencida"}
    assert call.headers["authorization"] == f"Bearer {fake.api_token}"
    assert result.data == {"doc_token": token, "status": "cancelled"}
    assert fake.documents[token]["status"] == "refused"


async def test_a_retried_cancel_finds_it_cancelled_and_succeeds(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake)
    first = await act("cancel-document", {"doc_token": token}, fake=fake, auth=auth)
    again = await act("cancel-document", {"doc_token": token}, fake=fake, auth=auth)
    assert again.data == first.data
    assert again.metadata["already_cancelled"] is True
    assert fake.requests[0].json["rejected_reason"] == "Cancelled by the workflow"


async def test_a_signed_document_cannot_be_cancelled(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake, people=1)
    fake.sign(token)
    with pytest.raises(StepError) as caught:
        await act("cancel-document", {"doc_token": token}, fake=fake, auth=auth)
    assert not isinstance(caught.value, RetryableError)
    assert caught.value.code == "http_403"
    assert "A signed document cannot be canceled" in caught.value.message


async def test_delete_soft_deletes_the_document(fake: FakeZapSign, auth: dict[str, str]) -> None:
    token = _document(fake)
    result = await act(
        "cancel-document", {"doc_token": token, "mode": "delete"}, fake=fake, auth=auth
    )
    [call] = fake.requests
    assert (call.method, call.path) == ("DELETE", f"/api/v1/docs/{token}/")
    assert result.data == {"doc_token": token, "status": "deleted"}
    assert fake.documents[token]["deleted"] is True


async def test_resend_reminds_only_who_has_not_signed(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake, people=3)
    signers = fake.documents[token]["signers"]
    fake.sign(token, 0)
    result = await act(
        "resend-notification", {"doc_token": token, "channel": "whatsapp"}, fake=fake, auth=auth
    )
    posts = fake.calls("POST", "/api/v1/signers/")
    assert [c.path for c in posts] == [f"/api/v1/signers/{s['token']}/" for s in signers[1:]]
    assert all(c.json == {"send_automatic_whatsapp": True} for c in posts)
    assert result.data == {
        "doc_token": token,
        "channel": "whatsapp",
        "notified": [s["token"] for s in signers[1:]],
    }


async def test_a_retried_resend_does_not_remind_twice(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake, people=2)
    second = fake.documents[token]["signers"][1]["token"]
    fake.fail_next(503, path=f"/api/v1/signers/{second}/")
    params = {"doc_token": token}
    same = {"execution_id": "e", "node_id": "r", "store": InMemoryStore()}
    with pytest.raises(RetryableError):
        await act("resend-notification", params, fake=fake, auth=auth, **same)
    result = await act(
        "resend-notification",
        params,
        fake=fake,
        auth=auth,
        **same,
        attempt=2,
    )
    assert [t for t, _ in fake.reminders] == [s["token"] for s in fake.documents[token]["signers"]]
    assert len(result.data["notified"]) == 2


async def test_resend_on_a_finished_document_says_so(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake, people=1)
    fake.refuse(token)
    with pytest.raises(StepError, match="is refused: there is no one to remind"):
        await act("resend-notification", {"doc_token": token}, fake=fake, auth=auth)


async def test_get_status_reports_the_document_and_its_signers(
    fake: FakeZapSign, auth: dict[str, str]
) -> None:
    token = _document(fake)
    fake.sign(token, 1)
    result = await act("get-status", {"doc_token": token}, fake=fake, auth=auth)
    [call] = fake.requests
    assert (call.method, call.path) == ("GET", f"/api/v1/docs/{token}/")
    assert result.data["status"] == "pending"
    assert (result.data["signed_count"], result.data["signer_count"]) == (1, 2)
    assert [s["status"] for s in result.data["signers"]] == ["new", "signed"]
    assert result.data["signed_file_ready"] is False


async def test_an_unknown_document_is_not_found(fake: FakeZapSign, auth: dict[str, str]) -> None:
    with pytest.raises(StepError) as caught:
        await act("get-status", {"doc_token": "0000-missing"}, fake=fake, auth=auth)
    assert caught.value.code == "http_404"
    assert "ZapSign found nothing while reading document 0000-missing" in caught.value.message
