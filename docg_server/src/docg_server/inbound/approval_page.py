"""The HTML pages a person sees when opening an approval link in a browser."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["PAGE_CSP", "approval_page", "decided_page", "problem_page"]

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
)
"""The pages use inline styles and post their forms to the same origin; nothing else."""

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}.meta{color:#59636e;font-size:.9rem}
textarea,input{width:100%;box-sizing:border-box;margin:.3rem 0 1rem;padding:.5rem;font:inherit}
button{padding:.6rem 1.4rem;margin-right:.6rem;font:inherit;border:0;border-radius:.3rem}
.approve{background:#1a7f37;color:#fff}.reject{background:#cf222e;color:#fff}
.message{white-space:pre-wrap;background:#f6f8fa;padding:1rem;border-radius:.3rem}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def approval_page(approval: Any, decide_url: str) -> str:
    """What is being approved, links to the documents, and the approve/reject form."""
    parts = [f"<h1>{escape(approval.title or 'Approval requested')}</h1>"]
    parts.append(
        f"<p class=meta>Workflow “{escape(approval.workflow_name)}” · requested "
        f"{escape(approval.requested_at.strftime('%Y-%m-%d %H:%M UTC'))}"
        + (
            f" · expires {escape(approval.expires_at.strftime('%Y-%m-%d %H:%M UTC'))}"
            if approval.expires_at
            else ""
        )
        + "</p>"
    )
    if approval.message:
        parts.append(f"<div class=message>{escape(approval.message)}</div>")
    if approval.document_urls:
        links = "".join(
            f'<li><a href="{escape(url)}" rel="noopener noreferrer" target="_blank">'
            f"Document {number}</a></li>"
            for number, url in enumerate(approval.document_urls, start=1)
        )
        parts.append(f"<h2>Documents</h2><ul>{links}</ul>")
    if approval.status == "expired":
        parts.append(
            "<p><strong>This approval has expired; it can no longer be decided.</strong></p>"
        )
    else:
        parts.append(
            f'<form method=post action="{escape(decide_url)}">'
            "<label>Your name<input name=name maxlength=200 autocomplete=name></label>"
            + (
                "<label>Your e-mail (one of: "
                + escape(", ".join(approval.pending))
                + ")<input name=email type=email maxlength=320 required autocomplete=email>"
                "</label>"
                if approval.approval_policy == "all"
                else ""
            )
            + "<label>Comment<textarea name=comment rows=4 maxlength=2000></textarea></label>"
            '<button class=approve name=decision value=approved formaction="'
            f'{escape(decide_url)}/approve">Approve</button>'
            '<button class=reject name=decision value=rejected formaction="'
            f'{escape(decide_url)}/reject">Reject</button></form>'
        )
    return _page(approval.title or "Approval", "".join(parts))


def decided_page(decision: str) -> str:
    """The page after a decision was recorded."""
    word = "approved" if decision == "approved" else "rejected"
    return _page(
        f"Thank you — {word}",
        f"<h1>Thank you</h1><p>Your decision was recorded: <strong>{word}</strong>.</p>"
        "<p>You can close this page.</p>",
    )


def problem_page(title: str, detail: str) -> str:
    """A page for a link that cannot be used (unknown, already used, expired)."""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(detail)}</p>")
