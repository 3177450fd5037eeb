"""Build ``contrato.docx``, the Word template of ``docs/examples/hubspot-contract.yaml``.

``python docs/examples/hubspot-contract/build_template.py [out.docx]`` writes it (needs
python-docx, which docg-documents installs). Open it in Word to restyle it: the tags stay.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from docx import Document

PARAGRAPHS = (
    "CONTRATO DE PRESTAÇÃO DE SERVIÇOS — {{ deal.dealname }}",
    "Contratante: {{ company.name }} ({{ company.domain }}), representada por "
    "{{ contact.firstname }} {{ contact.lastname }} <{{ contact.email }}>.",
    "Itens:",
    "{%p for item in items %}",
    "• {{ item.properties.name }}: {{ item.properties.quantity }} × R$ {{ item.properties.price }}"
    " = R$ {{ item.properties.amount }}",
    "{%p endfor %}",
    "Valor total: R$ {{ deal.amount }}",
    "Cláusula 1 — Objeto. {{ clauses.clausula_objeto }}",
    "Cláusula 2 — Pagamento. {{ clauses.clausula_pagamento }}",
)


def build() -> bytes:
    """The template's bytes."""
    document = Document()
    for paragraph in PARAGRAPHS:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "contrato.docx")
    target.write_bytes(build())
    print(f"wrote {target}")
