"""reporter fixtures; they live in reporter_world so tests can import its helpers."""

from reporter_world import api, reporter, reporter_settings, smtp

__all__ = ["api", "reporter", "reporter_settings", "smtp"]
