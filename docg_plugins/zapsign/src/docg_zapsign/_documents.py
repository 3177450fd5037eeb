"""ZapSign documents as DocG sees them: signers sent, statuses read back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from docg_core.errors import Problem, ValidationError

__all__ = [
    "AUTH_METHODS",
    "FINAL_STATUSES",
    "document_status",
    "signer_bodies",
    "signer_states",
    "summary",
]

AUTH_METHODS = {
    "signature": "assinaturaTela",
    "email": "assinaturaTela-tokenEmail",
    "sms": "assinaturaTela-tokenSms",
    "whatsapp": "assinaturaTela-tokenWhatsapp",
}
"""``auth_method`` of a signer → ZapSign ``auth_mode``: a drawn signature, plus a code sent
by e-mail, SMS or WhatsApp when asked."""

SEND_VIA = ("email", "whatsapp", "none")
FINAL_STATUSES = frozenset({"signed", "refused", "expired", "cancelled"})

# ZapSign answers English statuses from the API and Portuguese ones in some webhooks.
_STATUSES = {
    "pending": "pending",
    "em-curso": "pending",
    "signed": "signed",
    "assinado": "signed",
    "refused": "refused",
    "recusado": "refused",
    "expired": "expired",
    "expirado": "expired",
    "lixeira": "cancelled",
}
_DIGITS = re.compile(r"^\d{1,20}$")
_SIGNER_FIELDS = {"name", "email", "phone_country", "phone_number", "auth_method", "send_via"}


def document_status(document: Mapping[str, Any]) -> str:
    """``pending``, ``signed``, ``refused``, ``expired`` or ``cancelled`` (deleted while
    pending). An unknown status counts as pending: only a known final state ends a wait."""
    status = _STATUSES.get(str(document.get("status") or "").lower(), "pending")
    if status == "pending" and document.get("deleted"):
        return "cancelled"
    return status


def signer_states(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each signer's ``name, email, token, status`` (new, link-opened, signed),
    ``signed_at`` and ``sign_url``."""
    signers = document.get("signers")
    if not isinstance(signers, list):
        return []
    return [
        {
            "name": s.get("name"),
            "email": s.get("email") or None,
            "token": s.get("token"),
            "status": s.get("status"),
            "signed_at": s.get("signed_at"),
            "sign_url": s.get("sign_url"),
        }
        for s in signers
        if isinstance(s, Mapping)
    ]


def signer_bodies(
    signers: Any, *, signing_order: bool, message: str | None
) -> list[dict[str, Any]]:
    """The ``signers`` of the create request, from the action's ``signers`` argument;
    :class:`ValidationError` listing every problem."""
    if not isinstance(signers, list) or not signers:
        raise ValidationError(Problem("give at least one signer", field="signers"))
    problems: list[str] = []
    bodies = [
        _signer_body(i, spec, signing_order, message, problems) for i, spec in enumerate(signers)
    ]
    if problems:
        raise ValidationError([Problem(p, field="signers") for p in problems])
    return bodies


def _signer_body(
    index: int,
    spec: Any,
    signing_order: bool,
    message: str | None,
    problems: list[str],
) -> dict[str, Any]:
    where = f"signer {index + 1}"
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: expected an object with name and email, got {spec!r}")
        return {}
    unknown = sorted(set(spec) - _SIGNER_FIELDS - {"order"})
    if unknown:
        problems.append(f"{where}: unknown fields {', '.join(unknown)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: name is required")
        name = ""
    email = _text(spec.get("email"))
    if email and "@" not in email:
        problems.append(f"{where}: email {email!r} is not an e-mail address")
    country = _text(spec.get("phone_country")) or ("55" if spec.get("phone_number") else "")
    number = _text(spec.get("phone_number"))
    for label, value in (("phone_country", country), ("phone_number", number)):
        if value and not _DIGITS.match(value):
            problems.append(f"{where}: {label} must be digits only, got {value!r}")
    method = _text(spec.get("auth_method")) or "signature"
    if method not in AUTH_METHODS:
        problems.append(f"{where}: auth_method {method!r} is not one of {', '.join(AUTH_METHODS)}")
    default_channel = "email" if email else ("whatsapp" if number else "none")
    send_via = _text(spec.get("send_via")) or default_channel
    if send_via not in SEND_VIA:
        problems.append(f"{where}: send_via {send_via!r} is not one of {', '.join(SEND_VIA)}")
    if (method == "email" or send_via == "email") and not email:
        problems.append(f"{where}: an email is needed to send by or verify with e-mail")
    if (method in ("sms", "whatsapp") or send_via == "whatsapp") and not number:
        problems.append(f"{where}: a phone_number is needed for SMS or WhatsApp")
    body: dict[str, Any] = {
        "name": name.strip(),
        "email": email,
        "phone_country": country,
        "phone_number": number,
        "auth_mode": AUTH_METHODS.get(method, ""),
        "send_automatic_email": send_via == "email",
        "send_automatic_whatsapp": send_via == "whatsapp",
        "lock_name": True,
        "lock_email": bool(email),
        "lock_phone": bool(number),
    }
    if message and send_via == "email":
        body["custom_message"] = message
    if signing_order:
        order = spec.get("order", index + 1)
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            problems.append(f"{where}: order must be a whole number from 1, got {order!r}")
        body["order_group"] = order
    return body


def _text(value: Any) -> str:
    # ZapSign refuses null strings: absent values are sent as "".
    if value is None:
        return ""
    return str(value).strip()


def summary(document: Mapping[str, Any]) -> dict[str, Any]:
    """``doc_token, status, signers, signed_count, signer_count`` of a document."""
    signers = signer_states(document)
    return {
        "doc_token": document.get("token"),
        "status": document_status(document),
        "signers": signers,
        "signed_count": sum(1 for s in signers if s["status"] == "signed"),
        "signer_count": len(signers),
    }
