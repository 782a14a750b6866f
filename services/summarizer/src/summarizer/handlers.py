"""What summarizer does with each event it consumes."""

from jarvis_common.events.catalogue import SessionClosed
from jarvis_common.messaging.handlers import EventHandlers
from summarizer.summarize import Summarizer


def handlers_for(summarizer: Summarizer) -> EventHandlers:
    handlers = EventHandlers()
    # A batch handler, so the model calls of a consumed batch run at once.
    handlers.on_batch(SessionClosed, name="summarize_session")(summarizer.summarize_sessions)
    return handlers
