"""The churn schema: every table churn-engine owns."""

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "churn"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
