"""The app's actions."""

from __future__ import annotations

from .fill_template_fields import FillTemplateFields
from .generate_text import GenerateText

__all__ = ["FillTemplateFields", "GenerateText"]
