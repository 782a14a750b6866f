"""What summarizer does with each event it consumes."""

from jarvis_common.events.catalogue import SessionClosed
from jarvis_common.messaging.handlers import EventHandlers
from summarizer.summarize import summarize_session

handlers = EventHandlers()
handlers.on(SessionClosed, name="summarize_session")(summarize_session)
