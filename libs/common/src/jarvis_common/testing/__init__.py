"""Test support: embedded infrastructure fixtures and waiting on conditions."""
