"""The summarizer schema: every table summarizer owns."""

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "summarizer"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
