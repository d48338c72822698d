"""localhash's hash bank: victims submit hashes, partners fetch them in the StopNCII shape."""

from __future__ import annotations

from .app import create_app
from .config import Config

__all__ = ["Config", "create_app"]
