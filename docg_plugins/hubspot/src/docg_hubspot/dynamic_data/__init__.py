"""Choices for the HubSpot app's dropdowns, read from the connected account.

Each source reads the arguments it depends on from ``ctx.step.parameters`` (``object_type``,
default ``deals``; ``pipeline`` for stages).
"""

from .sources import ObjectTypes, Owners, Pipelines, PipelineStages, Properties

__all__ = ["ObjectTypes", "Owners", "PipelineStages", "Pipelines", "Properties"]
