"""Members and check-ins (to be written)."""
