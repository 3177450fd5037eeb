"""The ``signers`` argument: checked, then turned into ClickSign signer attributes.

A signer is ``{name, email, phone, auth, delivery, group, refusable}``:

- ``auth`` — how the signer proves identity with a token: ``email`` (default), ``sms`` or
  ``whatsapp`` (an authentication requirement ``provide_evidence``);
- ``delivery`` — where the signature request goes: ``email`` (default when there is an email),
  ``sms`` or ``whatsapp``;
- ``group`` — signing order: group 1 signs first, then 2, ...; omit it to sign in any order;
- ``refusable`` — whether the signer may refuse (default true).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docg_core.errors import Problem, ValidationError

AUTH_METHODS = ("email", "sms", "whatsapp")
DELIVERY_CHANNELS = ("email", "sms", "whatsapp")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VARIABLE = re.compile(r"\{\{.*\}\}")


@dataclass(frozen=True)
class Signer:
    """One signer as the action sends it."""

    name: str
    email: str | None
    phone: str | None
    auth: str
    delivery: str
    group: int | None
    refusable: bool

    def attributes(self) -> dict[str, Any]:
        """The ClickSign ``signers`` attributes."""
        attributes: dict[str, Any] = {
            "name": self.name,
            "has_documentation": False,
            "refusable": self.refusable,
            "communicate_events": {
                "signature_request": self.delivery,
                "signature_reminder": "email" if self.delivery == "email" else "none",
                "document_signed": "email" if self.email else self.delivery,
            },
        }
        if self.email:
            attributes["email"] = self.email
        if self.phone:
            attributes["phone_number"] = self.phone
        if self.group is not None:
            attributes["group"] = self.group
        return attributes

    def summary(self) -> dict[str, Any]:
        """What the step records about the signer (no secrets; contact data the user gave)."""
        return {"name": self.name, "email": self.email, "phone": self.phone, "auth": self.auth}


def normalize_phone(value: str) -> str:
    """Digits only, without Brazil's country code: ClickSign expects DDD + number."""
    digits = re.sub(r"\D", "", value)
    if len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]
    return digits


def signer_problems(index: int, raw: Any) -> list[str]:
    """What is wrong with one signer entry (literal values only; variables are skipped)."""
    where = f"signers[{index}]"
    if not isinstance(raw, Mapping):
        return [f"{where}: expected an object with name, email or phone, got {raw!r}"]
    if any(isinstance(v, str) and _VARIABLE.search(v) for v in raw.values()):
        return []
    problems = []
    name = str(raw.get("name") or "").strip()
    if len(name.split()) < 2:
        problems.append(f"{where}.name: give the signer's full name (two words at least)")
    email = str(raw.get("email") or "").strip()
    phone = normalize_phone(str(raw.get("phone") or ""))
    auth = str(raw.get("auth") or "email").strip().lower()
    delivery = str(raw.get("delivery") or ("email" if email else auth)).strip().lower()
    if email and not _EMAIL.match(email):
        problems.append(f"{where}.email: {email!r} is not an e-mail address")
    if auth not in AUTH_METHODS:
        problems.append(f"{where}.auth: must be one of {', '.join(AUTH_METHODS)}, got {auth!r}")
    if delivery not in DELIVERY_CHANNELS:
        problems.append(
            f"{where}.delivery: must be one of {', '.join(DELIVERY_CHANNELS)}, got {delivery!r}"
        )
    needs_email = "email" in (auth, delivery)
    needs_phone = bool({auth, delivery} & {"sms", "whatsapp"})
    if needs_email and not email:
        problems.append(f"{where}.email: required for auth or delivery by e-mail")
    if needs_phone and len(phone) not in (10, 11):
        problems.append(
            f"{where}.phone: a Brazilian number with area code (10 or 11 digits) is required "
            "for SMS or WhatsApp"
        )
    group = raw.get("group")
    if group is not None and (
        isinstance(group, bool) or not str(group).isdigit() or int(str(group)) < 1
    ):
        problems.append(f"{where}.group: must be a whole number from 1, got {group!r}")
    return problems


def parse_signers(value: Any, *, node_id: str | None = None) -> list[Signer]:
    """The validated signers; :class:`ValidationError` naming every bad entry."""
    if not isinstance(value, list) or not value:
        raise ValidationError(Problem("give at least one signer", node_id, "signers"))
    problems = [p for i, raw in enumerate(value) for p in signer_problems(i, raw)]
    if problems:
        raise ValidationError([Problem(p, node_id, "signers") for p in problems])
    signers = []
    for raw in value:
        email = str(raw.get("email") or "").strip() or None
        phone = normalize_phone(str(raw.get("phone") or "")) or None
        auth = str(raw.get("auth") or "email").strip().lower()
        delivery = str(raw.get("delivery") or ("email" if email else auth)).strip().lower()
        group = raw.get("group")
        signers.append(
            Signer(
                name=" ".join(str(raw["name"]).split()),
                email=email,
                phone=phone,
                auth=auth,
                delivery=delivery,
                group=int(str(group)) if group is not None else None,
                refusable=bool(raw.get("refusable", True)),
            )
        )
    return signers
