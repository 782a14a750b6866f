"""Provisioning codes, kiosk credentials and kiosk access tokens (to be written)."""
