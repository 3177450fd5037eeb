"""cancel-envelope, resend-notification and get-status on an existing envelope."""

from __future__ import annotations

import pytest
from fakes.clicksign import FakeClickSign

from docg_core.errors import StepError

TWO = [
    {"name": "Ana Souza", "email": "ana@example.com"},
    {"name": "Bruno Lima", "email": "bruno@example.com"},
]


async def test_cancel_sends_the_canceled_status(fake: FakeClickSign, run) -> None:
    envelope = fake.add_envelope(signers=TWO)

    result = await run("cancel-envelope", {"envelope_id": envelope.id})

    assert result.data == {"envelope_id": envelope.id, "status": "cancelled"}
    (patch,) = fake.calls("PATCH")
    assert patch[1] == f"/api/v3/envelopes/{envelope.id}"
    assert patch[3] == {
        "data": {"type": "envelopes", "attributes": {"status": "canceled"}, "id": envelope.id}
    }
    assert envelope.status == "canceled"


async def test_a_retried_cancel_returns_the_same_result_without_patching(fake, run) -> None:
    envelope = fake.add_envelope(signers=TWO)

    first = await run("cancel-envelope", {"envelope_id": envelope.id})
    second = await run("cancel-envelope", {"envelope_id": envelope.id}, attempt=2)

    assert second.data == first.data
    assert second.metadata == {"already_cancelled": True}
    assert len(fake.calls("PATCH")) == 1


async def test_a_finished_envelope_cannot_be_cancelled(fake, run) -> None:
    envelope = fake.add_envelope(status="closed", signers=TWO)

    with pytest.raises(StepError) as caught:
        await run("cancel-envelope", {"envelope_id": envelope.id})

    assert caught.value.code == "clicksign_envelope_closed"
    assert fake.calls("PATCH") == []


async def test_an_unknown_envelope_is_a_permanent_not_found(fake, run) -> None:
    with pytest.raises(StepError) as caught:
        await run("get-status", {"envelope_id": "no-such-envelope"})

    assert caught.value.code == "clicksign_404"
    assert "no such resource" in caught.value.message


async def test_resend_notifies_every_signer_whose_turn_it_is(fake, run) -> None:
    envelope = fake.add_envelope(signers=TWO)

    result = await run("resend-notification", {"envelope_id": envelope.id, "message": "Lembrete"})

    (call,) = fake.calls("POST")
    assert call[1] == f"/api/v3/envelopes/{envelope.id}/notifications"
    assert call[3] == {"data": {"type": "notifications", "attributes": {"message": "Lembrete"}}}
    assert result.data["envelope_id"] == envelope.id
    assert result.data["signer_id"] is None


async def test_resend_to_one_signer_uses_the_signer_endpoint(fake, run) -> None:
    envelope = fake.add_envelope(signers=TWO)
    bruno = fake.signer_id(envelope.id, "bruno@example.com")

    await run("resend-notification", {"envelope_id": envelope.id, "signer_id": bruno})

    (call,) = fake.calls("POST")
    assert call[1] == f"/api/v3/envelopes/{envelope.id}/signers/{bruno}/notifications"
    assert envelope.notifications == [
        {"id": envelope.notifications[0]["id"], "signer": bruno, "message": None}
    ]


async def test_a_retried_resend_does_not_notify_twice(fake, run) -> None:
    envelope = fake.add_envelope(signers=TWO)

    first = await run("resend-notification", {"envelope_id": envelope.id})
    second = await run("resend-notification", {"envelope_id": envelope.id}, attempt=2)

    assert second.data == first.data
    assert len(envelope.notifications) == 1


async def test_resend_on_a_finished_envelope_fails_clearly(fake, run) -> None:
    envelope = fake.add_envelope(status="canceled", signers=TWO)

    with pytest.raises(StepError, match="not running") as caught:
        await run("resend-notification", {"envelope_id": envelope.id})

    assert caught.value.code == "clicksign_envelope_not_running"
    assert envelope.notifications == []


async def test_get_status_reports_each_signers_progress(fake, run) -> None:
    envelope = fake.add_envelope(signers=TWO)
    fake.sign(envelope.id, "bruno@example.com")

    result = await run("get-status", {"envelope_id": envelope.id})

    assert result.data["status"] == "pending"
    assert result.data["envelope_status"] == "running"
    assert [(s["email"], s["status"]) for s in result.data["signers"]] == [
        ("ana@example.com", "pending"),
        ("bruno@example.com", "signed"),
    ]
    assert result.data["progress"] == {"signed": 1, "refused": 0, "pending": 1}


async def test_get_status_of_a_fully_signed_envelope_is_signed(fake, run) -> None:
    envelope = fake.add_envelope(signers=TWO)
    fake.sign(envelope.id, "ana@example.com")
    fake.sign(envelope.id, "bruno@example.com")

    result = await run("get-status", {"envelope_id": envelope.id})

    assert result.data["status"] == "signed"
    assert result.data["envelope_status"] == "closed"


async def test_an_envelope_id_with_a_path_is_refused_before_any_request(fake, run) -> None:
    with pytest.raises(StepError, match="not a ClickSign envelope id"):
        await run("get-status", {"envelope_id": "../accounts"})
    assert fake.requests == []
