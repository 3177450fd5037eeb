"""The HubSpot app's triggers."""

from .polling import NewOrUpdatedRecords
from .webhook import ObjectEvents

__all__ = ["NewOrUpdatedRecords", "ObjectEvents"]
