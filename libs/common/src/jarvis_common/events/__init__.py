"""Event contracts: the envelope every event travels in, and the versioned catalogue."""

from jarvis_common.events.catalogue import CATALOGUE, EventData, data_model_for, topics
from jarvis_common.events.envelope import Envelope, UnknownEvent, decode_event, new_event

__all__ = [
    "CATALOGUE",
    "Envelope",
    "EventData",
    "UnknownEvent",
    "data_model_for",
    "decode_event",
    "new_event",
    "topics",
]
