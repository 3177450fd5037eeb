"""Builds the demo's contract templates (contrato-padrao.docx, contrato-grande.docx) and logo.

The .docx files are committed; run this again after changing the text:
    python docs/examples/contract/make_templates.py
Requires python-docx (installed with docg-documents).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt, RGBColor

HERE = Path(__file__).parent
BLUE = RGBColor(0x1F, 0x3A, 0x5F)
DATE = "d 'de' MMMM 'de' y"


def logo_png(width: int = 240, height: int = 80) -> bytes:
    """A simple two-colour mark, drawn pixel by pixel (no imaging library needed)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            if x < height:  # a square with a white bar across it
                bar = height * 0.4 <= y < height * 0.6 and height * 0.2 <= x < height * 0.8
                row += bytes((255, 255, 255) if bar else (0x1F, 0x3A, 0x5F))
            elif height * 0.3 <= y < height * 0.7 and (x - height) % 40 < 28:
                row += bytes((0x2E, 0x86, 0xC1))
            else:
                row += bytes((255, 255, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def heading(doc: Document, text: str) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.space_before = Pt(10)
    run = p.add_run(text)
    run.bold = True
    run.font.color.rgb = BLUE


def clause(doc: Document, text: str) -> None:
    p = doc.add_paragraph(text)
    p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY


def build(large: bool) -> Document:
    doc = Document()
    section = doc.sections[0]
    section.left_margin = section.right_margin = Cm(2.5)
    style = doc.styles["Normal"]
    style.font.name = "DejaVu Sans"
    style.font.size = Pt(10)
    style.paragraph_format.space_after = Pt(4)

    doc.add_paragraph("{{ company.logo }}")
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("CONTRATO DE PRESTAÇÃO DE SERVIÇOS Nº {{ deal.number }}")
    run.bold = True
    run.font.size = Pt(14)
    run.font.color.rgb = BLUE

    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    p.add_run("CONTRATANTE: ").bold = True
    p.add_run(
        "{{ client.name }}, pessoa jurídica de direito privado, inscrita no CNPJ sob o nº "
        "{{ client.cnpj|cnpj }}, com sede em {{ client.address }}, CEP {{ client.cep|cep }}, "
        "{{ client.city }}/{{ client.state }}, neste ato representada por "
        "{{ client.representative.name }}, CPF {{ client.representative.cpf|cpf }}, "
        "telefone {{ client.phone|phone }}."
    )
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    p.add_run("CONTRATADA: ").bold = True
    p.add_run(
        "{{ company.name }}, inscrita no CNPJ sob o nº {{ company.cnpj|cnpj }}, com sede em "
        "{{ company.address }}, CEP {{ company.cep|cep }}, {{ company.city }}/{{ company.state }}."
    )
    clause(
        doc,
        "As partes acima identificadas têm, entre si, justo e acertado o presente Contrato de "
        "Prestação de Serviços, que se regerá pelas cláusulas seguintes e pelas condições de "
        "preço, forma e termo de pagamento descritas no presente.",
    )

    heading(doc, "CLÁUSULA 1ª – DO OBJETO")
    clause(
        doc,
        "O presente contrato tem como objeto a prestação, pela CONTRATADA, dos serviços e o "
        "fornecimento dos itens relacionados abaixo:",
    )
    table = doc.add_table(rows=4, cols=5)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(
        table.rows[0].cells, ["Item", "Descrição", "Qtd.", "Valor unitário", "Total"], strict=True
    ):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    table.rows[1].cells[0].text = "{%tr for item in deal.line_items %}"
    cells = table.rows[2].cells
    for cell, text in zip(
        cells,
        [
            "{{ loop.index }}",
            "{{ item.name }}",
            "{{ item.quantity }}",
            "{{ item.unit_price|currency }}",
            "{{ item.total|currency }}",
        ],
        strict=True,
    ):
        cell.text = text
    table.rows[3].cells[0].text = "{%tr endfor %}"
    total = table.add_row().cells
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, (1.2, 7.6, 1.4, 2.9, 2.9), strict=True):
            cell.width = Cm(width)
    total[0].merge(total[3])
    total[0].text = ""
    total[0].paragraphs[0].add_run("Valor total").bold = True
    total[4].text = ""
    total[4].paragraphs[0].add_run("{{ deal.amount|currency }}").bold = True

    heading(doc, "CLÁUSULA 2ª – DO PREÇO E DO PAGAMENTO")
    clause(
        doc,
        "Pelos serviços, a CONTRATANTE pagará à CONTRATADA o valor total de "
        "{{ deal.amount|currency }} ({{ deal.amount|number_to_words(currency=True) }}).",
    )
    doc.add_paragraph("{%p if deal.installments > 1 %}")
    clause(
        doc,
        "O pagamento será feito em {{ deal.installments }} parcelas mensais e sucessivas de "
        "{{ (deal.amount / deal.installments)|currency }}, vencendo-se a primeira em "
        '{{ deal.first_due_date|date("' + DATE + '") }}.',
    )
    doc.add_paragraph("{%p else %}")
    clause(
        doc,
        'O pagamento será feito à vista, em {{ deal.first_due_date|date("' + DATE + '") }}.',
    )
    doc.add_paragraph("{%p endif %}")
    clause(
        doc,
        "Em caso de atraso, incidirão multa de 2% (dois por cento) sobre o valor devido e juros "
        "de mora de 1% (um por cento) ao mês, calculados pro rata die.",
    )

    heading(doc, "CLÁUSULA 3ª – DO PRAZO")
    clause(
        doc,
        "O presente contrato vigorará por {{ deal.term_months }} meses, a contar de "
        '{{ deal.start_date|date("' + DATE + '") }}, podendo ser renovado por acordo entre '
        "as partes, mediante termo aditivo.",
    )

    heading(doc, "CLÁUSULA 4ª – DAS OBRIGAÇÕES DA CONTRATADA")
    for text in (
        "a) executar os serviços com zelo, diligência e observância das normas técnicas aplicáveis;",
        "b) manter a CONTRATANTE informada sobre o andamento dos serviços;",
        "c) responsabilizar-se pelos encargos trabalhistas, previdenciários e fiscais de seus profissionais.",
    ):
        clause(doc, text)

    heading(doc, "CLÁUSULA 5ª – DAS OBRIGAÇÕES DA CONTRATANTE")
    for text in (
        "a) efetuar os pagamentos nas datas acordadas;",
        "b) fornecer as informações e os acessos necessários à execução dos serviços;",
        "c) designar um responsável para acompanhar a execução deste contrato.",
    ):
        clause(doc, text)

    doc.add_paragraph("{%p if deal.includes_support %}")
    heading(doc, "CLÁUSULA 6ª – DO SUPORTE TÉCNICO")
    clause(
        doc,
        "A CONTRATADA prestará suporte técnico em dias úteis, das 8h às 18h, pelos canais "
        "informados à CONTRATANTE, com tempo de primeira resposta de até 4 (quatro) horas úteis.",
    )
    doc.add_paragraph("{%p endif %}")

    if large:
        heading(doc, "CLÁUSULA – DA GARANTIA DE EXECUÇÃO")
        clause(
            doc,
            "Considerando o valor deste contrato, a CONTRATADA apresentará, em até 10 (dez) dias "
            "da assinatura, garantia de execução correspondente a 5% (cinco por cento) do valor "
            "total, na modalidade seguro-garantia ou fiança bancária.",
        )
        heading(doc, "CLÁUSULA – DO NÍVEL DE SERVIÇO")
        clause(
            doc,
            "A disponibilidade mensal dos serviços será de, no mínimo, 99,5% (noventa e nove "
            "inteiros e cinco décimos por cento). Cada ponto percentual abaixo da meta dará à "
            "CONTRATANTE um crédito de 2% (dois por cento) sobre a parcela do mês.",
        )

    heading(doc, "CLÁUSULA – DA CONFIDENCIALIDADE E DA PROTEÇÃO DE DADOS")
    clause(
        doc,
        "As partes manterão sigilo sobre as informações a que tiverem acesso em razão deste "
        "contrato e tratarão dados pessoais conforme a Lei nº 13.709/2018 (LGPD), apenas para "
        "as finalidades aqui previstas.",
    )
    heading(doc, "CLÁUSULA – DA RESCISÃO")
    clause(
        doc,
        "Este contrato poderá ser rescindido por qualquer das partes mediante aviso prévio "
        "por escrito de 30 (trinta) dias, ou imediatamente em caso de descumprimento de "
        "qualquer de suas cláusulas, sem prejuízo das penalidades cabíveis.",
    )
    heading(doc, "CLÁUSULA – DO FORO")
    clause(
        doc,
        "Fica eleito o foro da Comarca de {{ company.city }}/{{ company.state }} para dirimir "
        "quaisquer dúvidas oriundas do presente contrato, com renúncia a qualquer outro.",
    )
    clause(
        doc,
        "E, por estarem assim justas e contratadas, as partes assinam o presente instrumento "
        "eletronicamente.",
    )
    sign = doc.add_paragraph('{{ company.city }}, {{ deal.signed_at|date("' + DATE + '") }}.')
    sign.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    signatures = doc.add_table(rows=2, cols=2)
    signatures.alignment = WD_TABLE_ALIGNMENT.CENTER
    for col, (who, name) in enumerate(
        [
            ("CONTRATANTE", "{{ client.representative.name }}"),
            ("CONTRATADA", "{{ company.representative }}"),
        ]
    ):
        signatures.rows[0].cells[col].text = "\n______________________________"
        cell = signatures.rows[1].cells[col]
        cell.text = ""
        cell.paragraphs[0].add_run(name).bold = True
        cell.add_paragraph(who)
    return doc


def main() -> None:
    (HERE / "logo.png").write_bytes(logo_png())
    build(large=False).save(HERE / "contrato-padrao.docx")
    build(large=True).save(HERE / "contrato-grande.docx")
    print(
        f"wrote {HERE / 'contrato-padrao.docx'}, {HERE / 'contrato-grande.docx'}, {HERE / 'logo.png'}"
    )


if __name__ == "__main__":
    main()
