"""DocG engine: workflows that turn data into documents.

The public API is re-exported here and imported lazily, so ``import docg_core`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # plugin API
    "ActionArgument": "apps",
    "ActionResult": "apps",
    "ArgumentType": "apps",
    "AuthSpec": "apps",
    "BaseAction": "apps",
    "BaseApp": "apps",
    "BaseDynamicData": "apps",
    "BaseTrigger": "apps",
    "DropdownOption": "apps",
    "DynamicData": "apps",
    "TriggerItem": "apps",
    "TriggerType": "apps",
    "validate_arguments": "apps",
    "RetryPolicy": "retry",
    "CallbackEvent": "callbacks",
    "CallbackRejected": "callbacks",
    "InboundRequest": "callbacks",
    "hookimpl": "hookspecs",
    "ExecutionContext": "context",
    "build_context": "context",
    "Registry": "plugins",
    "get_registry": "plugins",
    # variables and conditions
    "compute_parameters": "variables",
    "evaluate_conditions": "conditions",
    "select_branches": "conditions",
    # workflows and executions
    "Workflow": "workflow",
    "Node": "workflow",
    "Branch": "workflow",
    "TriggerRef": "workflow",
    "check_workflow": "validation",
    "validate_workflow": "validation",
    "Engine": "engine",
    "ExecutionRecord": "records",
    "StepRecord": "records",
    "ExecutionStore": "store",
    "InMemoryStore": "store",
    "SQLStore": "sqlstore",
    "SQLiteStore": "sqlstore",
    "Storage": "storage",
    "StoredFile": "storage",
    "LocalStorage": "storage",
    "S3Storage": "storage",
    "storage_from_env": "storage",
    "StorageError": "storage",
    "FileNotFound": "storage",
    # errors
    "DocgError": "errors",
    "ExecutionError": "errors",
    "ExecutionNotFound": "errors",
    "PluginError": "errors",
    "Problem": "errors",
    "RetryableError": "errors",
    "StepError": "errors",
    "ValidationError": "errors",
    "VariableError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'docg_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"docg_core.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .apps import ActionArgument as ActionArgument
    from .apps import ActionResult as ActionResult
    from .apps import ArgumentType as ArgumentType
    from .apps import AuthSpec as AuthSpec
    from .apps import BaseAction as BaseAction
    from .apps import BaseApp as BaseApp
    from .apps import BaseDynamicData as BaseDynamicData
    from .apps import BaseTrigger as BaseTrigger
    from .apps import DropdownOption as DropdownOption
    from .apps import DynamicData as DynamicData
    from .apps import TriggerItem as TriggerItem
    from .apps import TriggerType as TriggerType
    from .apps import validate_arguments as validate_arguments
    from .callbacks import CallbackEvent as CallbackEvent
    from .callbacks import CallbackRejected as CallbackRejected
    from .callbacks import InboundRequest as InboundRequest
    from .conditions import evaluate_conditions as evaluate_conditions
    from .conditions import select_branches as select_branches
    from .context import ExecutionContext as ExecutionContext
    from .context import build_context as build_context
    from .engine import Engine as Engine
    from .errors import DocgError as DocgError
    from .errors import ExecutionError as ExecutionError
    from .errors import ExecutionNotFound as ExecutionNotFound
    from .errors import PluginError as PluginError
    from .errors import Problem as Problem
    from .errors import RetryableError as RetryableError
    from .errors import StepError as StepError
    from .errors import ValidationError as ValidationError
    from .errors import VariableError as VariableError
    from .hookspecs import hookimpl as hookimpl
    from .plugins import Registry as Registry
    from .plugins import get_registry as get_registry
    from .records import ExecutionRecord as ExecutionRecord
    from .records import StepRecord as StepRecord
    from .retry import RetryPolicy as RetryPolicy
    from .sqlstore import SQLiteStore as SQLiteStore
    from .sqlstore import SQLStore as SQLStore
    from .storage import FileNotFound as FileNotFound
    from .storage import LocalStorage as LocalStorage
    from .storage import S3Storage as S3Storage
    from .storage import Storage as Storage
    from .storage import StorageError as StorageError
    from .storage import StoredFile as StoredFile
    from .storage import storage_from_env as storage_from_env
    from .store import ExecutionStore as ExecutionStore
    from .store import InMemoryStore as InMemoryStore
    from .validation import check_workflow as check_workflow
    from .validation import validate_workflow as validate_workflow
    from .variables import compute_parameters as compute_parameters
    from .workflow import Branch as Branch
    from .workflow import Node as Node
    from .workflow import TriggerRef as TriggerRef
    from .workflow import Workflow as Workflow
