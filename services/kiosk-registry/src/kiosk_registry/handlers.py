"""What kiosk-registry does with each event it consumes."""

from jarvis_common.events.catalogue import SessionClosed, SummaryCreated
from jarvis_common.messaging.handlers import EventHandlers
from kiosk_registry.conversations import project_session_closed, project_summary_created

handlers = EventHandlers()
handlers.on(SessionClosed, name="project_session_closed")(project_session_closed)
handlers.on(SummaryCreated, name="project_summary_created")(project_summary_created)
