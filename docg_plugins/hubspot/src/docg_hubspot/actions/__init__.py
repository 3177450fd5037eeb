"""The HubSpot app's actions."""

from .associate import AssociateRecords
from .files import AttachFile, UploadFile
from .get_object import GetObject
from .records import CreateRecord, UpdateDealStage, UpdateRecord
from .search_objects import SearchObjects

__all__ = [
    "AssociateRecords",
    "AttachFile",
    "CreateRecord",
    "GetObject",
    "SearchObjects",
    "UpdateDealStage",
    "UpdateRecord",
    "UploadFile",
]
