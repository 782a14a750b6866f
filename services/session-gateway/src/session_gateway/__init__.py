"""session-gateway: Kiosk connections, relayed conversations, transcripts and cost."""
