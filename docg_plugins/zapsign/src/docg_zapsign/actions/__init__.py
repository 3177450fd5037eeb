"""The ZapSign app's actions."""

from .cancel_document import CancelDocument
from .get_status import GetStatus
from .resend_notification import ResendNotification
from .send_for_signature import SendForSignature

__all__ = ["CancelDocument", "GetStatus", "ResendNotification", "SendForSignature"]
