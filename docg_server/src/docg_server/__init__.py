"""DocG reference server: settings, data model, migrations and credentials at rest.

The REST API (FastAPI) is built on these pieces; nothing here starts a server.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
