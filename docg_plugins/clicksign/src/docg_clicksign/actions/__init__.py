"""The ClickSign actions."""

from .cancel_envelope import CancelEnvelope
from .get_status import GetStatus
from .resend_notification import ResendNotification
from .send_for_signature import SendForSignature

__all__ = ["CancelEnvelope", "GetStatus", "ResendNotification", "SendForSignature"]
