"""Kiosk heartbeats, the one status function, offline alerts (to be written)."""

from jarvis_common.messaging.handlers import EventHandlers

handlers = EventHandlers()


async def watch_kiosk_status(app: object) -> None:
    """Background task: move silent kiosks offline and raise alerts (to be written)."""
