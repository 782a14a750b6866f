"""What kiosk-registry does with each event it consumes, gathered from each module."""

from jarvis_common.messaging.handlers import EventHandlers
from kiosk_registry import fleet_status, read_models

handlers = EventHandlers()
handlers.include(read_models.handlers)
handlers.include(fleet_status.handlers)
