"""The gateway schema: every table session-gateway owns."""

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "gateway"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
