"""Async database access for a service that owns one PostgreSQL schema."""

from jarvis_common.db.database import Database
from jarvis_common.db.metadata import service_metadata
from jarvis_common.db.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork", "service_metadata"]
