"""The registry schema: every table kiosk-registry owns."""

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "registry"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
