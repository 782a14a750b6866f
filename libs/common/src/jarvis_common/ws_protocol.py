"""uvicorn's WebSocket protocol (websockets' sans-I/O implementation), reading on while the
application keeps up.

uvicorn stops reading a connection after every message until the application has taken it, then
starts again: two epoll changes per message. A kiosk streams ten audio messages a second, and
that pause and resume was about 6% of the session gateway's CPU when relaying audio. Here
reading pauses only once `MAX_BACKLOG` messages wait for the application, which still bounds
what one connection can queue.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

MAX_BACKLOG = 16


class BackloggedWebSocketProtocol(WebSocketsSansIOProtocol):
    def send_receive_event_to_app(self) -> None:
        # uvicorn pauses reading after queueing the message unless `read_paused` says reading
        # is paused already: say so while there is room. receive() resumes reading once the
        # queue is empty, which is a no-op for a transport that never paused.
        room = self.queue.qsize() + 1 < MAX_BACKLOG
        self.read_paused = room or not self.transport.is_reading()
        super().send_receive_event_to_app()
