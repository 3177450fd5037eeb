"""Workflows on the server: the flat storage form of a workflow document (:mod:`.flat`)."""

from __future__ import annotations

from .flat import FlatNode, FlatNodeLike, flatten, unflatten

__all__ = ["FlatNode", "FlatNodeLike", "flatten", "unflatten"]
