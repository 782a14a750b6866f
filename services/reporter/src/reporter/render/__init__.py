"""Turning a stored report's content into what people read: e-mail, charts, PDF, CSV."""
