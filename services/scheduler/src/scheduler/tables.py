"""The scheduler schema: every table scheduler owns."""

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "scheduler"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
