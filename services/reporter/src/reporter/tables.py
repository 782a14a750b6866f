"""The reporter schema: every table reporter owns."""

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "reporter"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
