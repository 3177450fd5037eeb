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
    from .apps import (
        ActionArgument,
        ActionResult,
        ArgumentType,
        AuthSpec,
        BaseAction,
        BaseApp,
        BaseDynamicData,
        BaseTrigger,
        DropdownOption,
        DynamicData,
        TriggerItem,
        TriggerType,
        validate_arguments,
    )
    from .conditions import evaluate_conditions, select_branches
    from .context import ExecutionContext, build_context
    from .engine import Engine
    from .errors import (
        DocgError,
        ExecutionError,
        ExecutionNotFound,
        PluginError,
        Problem,
        RetryableError,
        StepError,
        ValidationError,
        VariableError,
    )
    from .hookspecs import hookimpl
    from .plugins import Registry, get_registry
    from .records import ExecutionRecord, StepRecord
    from .retry import RetryPolicy
    from .sqlstore import SQLiteStore, SQLStore
    from .store import ExecutionStore, InMemoryStore
    from .validation import check_workflow, validate_workflow
    from .variables import compute_parameters
    from .workflow import Branch, Node, TriggerRef, Workflow
