"""Benchmark: ``{{...}}`` placeholders resolved per second by ``compute_parameters``.

Run ``python tests/benchmarks/bench_resolver.py``. It builds a realistic 200-field parameters
payload over HubSpot-like deal/contact/company data, then times the resolver against a naive
baseline measured in the same run (a regex ``finditer`` per string and a recursive path
lookup per occurrence, nothing cached). It reports; it does not assert (exit status 0).

Targets: >= 1,000,000 placeholders/s and >= 5x the naive baseline.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from docg_core.variables import compute_parameters, iter_references

TARGET_RATE = 1_000_000
TARGET_RATIO = 5.0
ROUNDS = 7
ROUND_SECONDS = 0.25


# --------------------------------------------------------------------------------------------
# Data


def build_scope() -> dict[str, Any]:
    deal_props: dict[str, Any] = {
        "dealname": "Contrato de licença anual — Acme Ltda",
        "amount": "125000.50",
        "amount_in_home_currency": 125000.5,
        "closedate": "2024-06-30T17:00:00Z",
        "createdate": "2024-01-12T09:31:02.114Z",
        "dealstage": "closedwon",
        "pipeline": "default",
        "hs_object_id": "9876543210",
        "hubspot_owner_id": "31337",
        "deal_currency_code": "BRL",
        "description": "Renovação com upgrade para o plano Enterprise",
        "hs_priority": "high",
        "num_associated_contacts": 3,
        "hs_is_closed_won": True,
        "hs_forecast_probability": 0.9,
        "contract_start": "2024-07-01",
        "contract_months": 12,
        "payment_terms": "30 dias",
        "discount_percent": 7.5,
        "notes_last_updated": None,
    }
    for i in range(20):
        deal_props[f"custom_field_{i}"] = f"valor {i}"
    contact_props: dict[str, Any] = {
        "firstname": "Maria",
        "lastname": "Oliveira",
        "email": "maria.oliveira@acme.com.br",
        "phone": "+55 11 91234-5678",
        "cpf": "123.456.789-09",
        "jobtitle": "Diretora Financeira",
        "address": "Av. Paulista, 1000",
        "city": "São Paulo",
        "state": "SP",
        "zip": "01310-100",
        "country": "Brasil",
        "hs_object_id": "555001",
        "lifecyclestage": "customer",
    }
    for i in range(15):
        contact_props[f"custom_contact_{i}"] = f"c{i}"
    company_props: dict[str, Any] = {
        "name": "Acme Ltda",
        "domain": "acme.com.br",
        "cnpj": "12.345.678/0001-90",
        "industry": "SOFTWARE",
        "numberofemployees": 250,
        "annualrevenue": "48000000",
        "city": "São Paulo",
        "state": "SP",
        "address": "Rua Funchal, 418",
        "hs_object_id": "777002",
    }
    line_items = [
        {
            "id": f"li-{n}",
            "properties": {
                "name": f"Licença módulo {n}",
                "quantity": n + 1,
                "price": f"{1000 * (n + 1)}.00",
                "hs_sku": f"SKU-{n:04d}",
            },
        }
        for n in range(5)
    ]

    def step(data: Any) -> dict[str, Any]:
        return {"data": data, "raw": {"body": data, "status": 200}, "metadata": {"took_ms": 42}}

    return {
        "trigger": {"deal_id": "9876543210", "portal_id": 12345, "event": "deal.propertyChange"},
        "step": {
            "deal": step({"id": "9876543210", "properties": deal_props}),
            "contact": step({"id": "555001", "properties": contact_props}),
            "company": step({"id": "777002", "properties": company_props}),
            "line-items": step({"results": line_items, "total": len(line_items)}),
            "owner": step({"firstName": "João", "lastName": "Souza", "email": "joao@docg.io"}),
        },
        "flow": {"id": "wf_01H", "name": "Contrato para negócios ganhos"},
        "execution": {"id": "ex_01H", "test_run": False, "started_at": "2024-06-30T17:00:05Z"},
        "env": {"COMPANY_NAME": "DocG", "SUPPORT_EMAIL": "suporte@docg.io"},
        "loop": {"item": {"name": "Maria", "email": "maria.oliveira@acme.com.br"}, "index": 0},
    }


def build_parameters() -> dict[str, Any]:
    """About 200 fields: whole-value references, text with several placeholders, list
    indexes, nested dicts and plain values, like a contract-generation step."""
    p: dict[str, Any] = {}
    deal_fields = [
        "amount",
        "amount_in_home_currency",
        "closedate",
        "createdate",
        "dealstage",
        "pipeline",
        "hs_object_id",
        "hubspot_owner_id",
        "deal_currency_code",
        "description",
        "hs_priority",
        "num_associated_contacts",
        "hs_is_closed_won",
        "hs_forecast_probability",
        "contract_start",
        "contract_months",
        "payment_terms",
        "discount_percent",
        "notes_last_updated",
    ] + [f"custom_field_{i}" for i in range(20)]
    for name in deal_fields:  # 39 whole-value references
        p[f"deal_{name}"] = f"{{{{step.deal.properties.{name}}}}}"
    contact_fields = [
        "firstname",
        "lastname",
        "email",
        "phone",
        "cpf",
        "jobtitle",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "lifecyclestage",
    ] + [f"custom_contact_{i}" for i in range(15)]
    for name in contact_fields:  # 27 whole-value references
        p[f"contact_{name}"] = f"{{{{ step.contact.properties.{name} }}}}"
    for name in ("name", "domain", "cnpj", "industry", "numberofemployees", "annualrevenue"):
        p[f"company_{name}"] = f"{{{{step.company.properties.{name}}}}}"  # 6
    # Text with several placeholders (40 fields).
    texts = [
        "Contrato {{step.deal.properties.dealname}} para {{step.contact.properties.firstname}}",
        "{{step.contact.properties.firstname}} {{step.contact.properties.lastname}}",
        "Valor: R$ {{step.deal.properties.amount}} ({{step.deal.properties.deal_currency_code}})",
        "{{step.contact.properties.address}}, {{step.contact.properties.city}} - "
        "{{step.contact.properties.state}}, CEP {{step.contact.properties.zip}}",
        "CNPJ {{step.company.properties.cnpj}} — {{step.company.properties.name}}",
        "Responsável: {{step.owner.firstName}} {{step.owner.lastName}} <{{step.owner.email}}>",
        "Vigência de {{step.deal.properties.contract_months}} meses a partir de "
        "{{step.deal.properties.contract_start}}",
        "Ref. {{flow.name}} / execução {{execution.id}}",
        "Dúvidas: {{env.SUPPORT_EMAIL}} ({{env.COMPANY_NAME}})",
        "Item 1: {{step.line-items.results[0].properties.name}} x "
        "{{step.line-items.results[0].properties.quantity}}",
    ]
    for i in range(40):
        p[f"text_{i}"] = texts[i % len(texts)]
    # List indexes (15).
    for n in range(5):
        base = f"step.line-items.results[{n}].properties"
        p[f"item_{n}_name"] = f"{{{{{base}.name}}}}"
        p[f"item_{n}_sku"] = f"{{{{step.line-items.results.{n}.properties.hs_sku}}}}"
        p[f"item_{n}_line"] = (
            f"{{{{{base}.quantity}}}} x {{{{{base}.name}}}} @ {{{{{base}.price}}}}"
        )
    # Nested dicts and lists (about 20 leaves).
    p["signers"] = [
        {
            "name": "{{step.contact.properties.firstname}} {{step.contact.properties.lastname}}",
            "email": "{{step.contact.properties.email}}",
            "role": "sign",
            "order": 1,
        },
        {"name": "{{step.owner.firstName}}", "email": "{{step.owner.email}}", "role": "approve"},
    ]
    p["document"] = {
        "template": "templates/contrato-v3.docx",
        "output_name": "Contrato {{step.deal.properties.hs_object_id}}.pdf",
        "variables": {
            "valor": "{{step.deal.properties.amount}}",
            "cliente": "{{step.company.properties.name}}",
            "itens": "{{step.line-items.results}}",
            "negocio": "{{step.deal}}",
            "gerado_em": "{{execution.started_at}}",
        },
        "locale": "pt-BR",
    }
    p["trigger_deal"] = "{{trigger.deal_id}}"
    p["portal"] = "{{trigger.portal_id}}"
    p["status_code"] = "{{step.deal.raw.status}}"
    p["took"] = "{{step.deal.metadata.took_ms}}"
    p["loop_name"] = "{{loop.item.name}}"
    p["loop_index"] = "{{loop.index}}"
    p["missing_optional"] = "{{step.deal.properties.hs_next_step}}"
    p["missing_text"] = "Obs: {{step.deal.properties.hs_deal_notes}}"
    # Plain values (about 45).
    for i in range(30):
        p[f"plain_{i}"] = f"Cláusula {i}: as partes concordam com os termos descritos."
    for i in range(10):
        p[f"number_{i}"] = i * 3.5
    p["send_email"] = True
    p["attach_pdf"] = False
    p["cc"] = ["juridico@docg.io", "financeiro@docg.io"]
    p["empty"] = None
    p["language"] = "pt-BR"
    p["copies"] = 2
    p["tags"] = ["contrato", "enterprise", "{{step.deal.properties.dealstage}}"]
    return p


def count_fields(value: Any) -> int:
    if isinstance(value, dict):
        return sum(count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(v) for v in value)
    return 1


# --------------------------------------------------------------------------------------------
# Naive baseline: regex per string, recursive path lookup per occurrence, no caching.

_PLACEHOLDER = re.compile(r"(\\)?\{\{\s*(.*?)\s*\}\}")
_MISSING = object()


def naive_get(value: Any, parts: list[str]) -> Any:
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        return naive_get(value[head], rest) if head in value else _MISSING
    if isinstance(value, list) and head.lstrip("-").isdigit():
        index = int(head)
        return naive_get(value[index], rest) if -len(value) <= index < len(value) else _MISSING
    return _MISSING


def naive_lookup(path: str, scope: dict[str, Any]) -> Any:
    parts = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    if (
        parts[0] == "step"
        and len(parts) >= 2
        and (len(parts) == 2 or parts[2] not in ("raw", "metadata"))
    ):
        parts.insert(2, "data")
    return naive_get(scope, parts)


def naive_render(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def naive_resolve(value: Any, scope: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: naive_resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [naive_resolve(v, scope) for v in value]
    if not isinstance(value, str):
        return value
    matches = list(_PLACEHOLDER.finditer(value))
    if not matches:
        return value
    if len(matches) == 1 and matches[0].group(0) == value and not matches[0].group(1):
        found = naive_lookup(matches[0].group(2), scope)
        return None if found is _MISSING else found
    out: list[str] = []
    last = 0
    for m in matches:
        out.append(value[last : m.start()])
        if m.group(1):
            out.append(m.group(0)[1:])
        else:
            out.append(naive_render(naive_lookup(m.group(2), scope)))
        last = m.end()
    out.append(value[last:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Timing


def best_rate(fn: Callable[[], Any], placeholders: int) -> float:
    """Placeholders per second, best of ROUNDS rounds of about ROUND_SECONDS each."""
    fn()  # warm up (and fill the template cache)
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:
        fn()
        calls += 1
    per_round = max(1, int(calls * ROUND_SECONDS / 0.05))
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = min(best, (time.perf_counter() - t0) / per_round)
    return placeholders / best


def main() -> int:
    scope = build_scope()
    params = build_parameters()
    placeholders = sum(1 for _ in iter_references(params))
    fields = count_fields(params)

    resolved = compute_parameters(params, scope)
    baseline = naive_resolve(params, scope)
    if resolved != baseline:
        diff = [k for k in params if resolved.get(k) != baseline.get(k)]
        print(f"warning: resolver and baseline disagree on {diff}", file=sys.stderr)

    rate = best_rate(lambda: compute_parameters(params, scope), placeholders)
    naive = best_rate(lambda: naive_resolve(params, scope), placeholders)
    ratio = rate / naive
    print(f"payload: {len(params)} top-level fields, {fields} leaves, {placeholders} placeholders")
    print(
        f"resolver: {rate:,.0f} placeholders/s; naive baseline {naive:,.0f}/s; "
        f"ratio {ratio:.1f}x (target >= {TARGET_RATE:,}/s and >= {TARGET_RATIO:g}x)"
    )
    met = rate >= TARGET_RATE and ratio >= TARGET_RATIO
    print("targets met" if met else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
