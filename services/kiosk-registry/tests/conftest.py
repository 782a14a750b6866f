"""Registry fixtures; they live in registry_world so tests can import its helpers."""

from registry_world import api, registry, registry_settings, signing_key, world

__all__ = ["api", "registry", "registry_settings", "signing_key", "world"]
